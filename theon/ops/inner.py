"""Inner graphs: the bodies of scan, cond and while_loop.

A body is traced by calling the user's function on fresh variables. Variables it uses
from outside (weights, any outer intermediate) become explicit inputs of the loop node
("closure"), so the body is a closed graph; outer computations the body only reads are
done once, outside the loop. The body is compiled by the same pipeline as any function,
once per input-shape signature, and the loop calls the generated program.
"""
from __future__ import annotations

from ..graph import Constant, Variable, replace, toposort
from . import pytree
from .base import as_variable


class InnerGraph:
    """A closed graph from `inputs` to `outputs`; compared by identity."""

    def __init__(self, inputs, outputs, label: str):
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.label = label
        self._programs: dict = {}
        self.programs: list = []  # every Program compiled for this body, for `f.source`

    def __repr__(self) -> str:
        return f"<{self.label}: {len(self.inputs)} in, {len(self.outputs)} out>"

    def runner(self, tensors, device):
        """The compiled body for these argument tensors: a callable returning its outputs."""
        key = (device, tuple(tuple(t.shape) for t in tensors))
        run = self._programs.get(key)
        if run is None:
            from ..compile.program import build_program
            program = build_program(self.inputs, [t.shape for t in tensors], self.outputs, [],
                                    device, name=self.label)
            body = program.run
            run = lambda *args: body(*args)[0]  # noqa: E731
            self._programs[key] = run
            self.programs.append(program)
        return run


def closure_of(outputs, inner_inputs) -> list:
    """Outer variables the body reads: inputs of body nodes that do not depend on the
    body's own inputs. Impure nodes (random draws) always stay in the body."""
    dep = {id(v) for v in inner_inputs}
    order = toposort(outputs)
    for node in order:
        if node.op.impure or any(id(i) in dep for i in node.inputs):
            dep.update(id(o) for o in node.outputs)
    found, seen = [], set()

    def add(v):
        if id(v) not in dep and not isinstance(v, Constant) and id(v) not in seen:
            seen.add(id(v))
            found.append(v)

    for node in order:
        if id(node.outputs[0]) in dep:
            for i in node.inputs:
                add(i)
    for o in outputs:
        add(o)
    return found


def trace(fn, args: tuple, inner_inputs: list, label: str):
    """Call fn(*args) (args are trees of inner_inputs) and close the resulting graph.

    Returns (InnerGraph over inner_inputs + closure, output treedef, output leaves as
    built, closure variables)."""
    result = fn(*args)
    leaves, treedef = pytree.flatten(result)
    leaves = [as_variable(v) for v in leaves]
    closure = closure_of(leaves, inner_inputs)
    fresh = [Variable(c.type, name=c.name, loc=c.loc) for c in closure]
    closed = replace(leaves, dict(zip(closure, fresh))) if closure else leaves
    return InnerGraph(list(inner_inputs) + fresh, closed, label), treedef, leaves, closure
