"""Checks of a graph's invariants, run by the tests after every compiler pass."""
from __future__ import annotations

from .basic import Constant
from .traverse import toposort


class GraphInvariantError(AssertionError):
    pass


def verify(outputs) -> None:
    """Raise GraphInvariantError unless the graph is ordered, typed and located."""
    placed = set()
    for node in toposort(outputs):
        for i, inp in enumerate(node.inputs):
            if inp.owner is not None and id(inp.owner) not in placed:
                raise GraphInvariantError(f"{node.op}: input {i} comes from a node not before it")
        types = list(node.op.infer(*node.inputs))
        actual = [o.type for o in node.outputs]
        if types != actual:
            raise GraphInvariantError(f"{node.op}: output types {actual} disagree with infer {types}")
        for i, out in enumerate(node.outputs):
            if out.owner is not node or out.index != i:
                raise GraphInvariantError(f"{node.op}: output {i} does not point back at its node")
        if node.loc is None and not all(isinstance(i, Constant) for i in node.inputs):
            raise GraphInvariantError(f"{node.op}: lost its source location")
        placed.add(id(node))
