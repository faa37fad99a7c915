"""A whole-graph rewrite driver: one rewrite function tried on every node of a class, in
topological order, each match replaced by the nodes the function builds."""
from __future__ import annotations

from ...graph import apply, located, toposort


def consumers(outputs) -> dict:
    """id(variable) -> how many node inputs and graph outputs read it."""
    count: dict = {}
    for node in toposort(outputs):
        for i in node.inputs:
            count[id(i)] = count.get(id(i), 0) + 1
    for o in outputs:
        count[id(o)] = count.get(id(o), 0) + 1
    return count


def rewrite_each(outputs, op_class, rewrite) -> list:
    """`rewrite(node, count)` (count: id(variable) -> its readers; returns the node's new
    outputs or None) over the graph in topological order. Each node is first rebuilt on its
    inputs' replacements, so a fused node's inputs are the rewritten graph's (replacing all
    matches at once would leave a later match reading the earlier match's old chain, and
    the program would compute both)."""
    count = consumers(outputs)
    memo: dict = {}
    for node in toposort(outputs):
        new_inputs = [memo.get(id(i), i) for i in node.inputs]
        current = node
        if any(a is not b for a, b in zip(new_inputs, node.inputs)):
            current = apply(node.op, new_inputs, loc=node.loc)
            for old, new in zip(node.outputs, current.outputs):
                memo[id(old)] = new
                count[id(new)] = count.get(id(old), 0)
        if isinstance(node.op, op_class):
            with located(node.loc):  # the fused nodes keep the user's line
                fused = rewrite(current, count)
            if fused is not None:
                for old, new in zip(node.outputs, fused):
                    memo[id(old)] = new
    return [memo.get(id(v), v) for v in outputs]
