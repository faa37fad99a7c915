"""Tracing a user's body function into a closed inner graph.

The body is traced by calling the user's function on fresh variables. Variables it uses
from outside (weights, any outer intermediate) become explicit inputs of the loop node
(its closure), so the body is a closed graph; outer work the body only reads is done once,
outside the loop. Impure nodes (random draws) always stay in the body.
"""
from __future__ import annotations

from ..graph import Constant, InnerGraph, TensorType, Variable, replace, toposort
from ..ops.base import as_variable
from . import pytree


def closure_of(outputs, inner_inputs, built_after: int | None = None) -> list:
    """Outer variables the body reads: inputs of body nodes that do not depend on the
    body's own inputs. With `built_after` (a variable uid), nodes the body function built
    itself stay in the body even when they read only outer values: a branch's own work
    must not run when the other branch is taken."""
    dep = {id(v) for v in inner_inputs}
    order = toposort(outputs)
    for node in order:
        own = built_after is not None and node.outputs[0].uid > built_after
        if own or node.op.impure or any(id(i) in dep for i in node.inputs):
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


def trace(fn, args: tuple, inner_inputs: list, label: str, hoist: bool = True):
    """Call fn(*args) (args are trees of inner_inputs) and close the resulting graph.

    hoist: move the work that reads only outer values out of the body (right for loops,
    where it would repeat every step; wrong for branches, which must stay lazy).
    Returns (InnerGraph over inner_inputs + closure, output treedef, output leaves as
    built, closure variables)."""
    start = Variable(TensorType("bool", ()), name="trace_start").uid
    result = fn(*args)
    leaves, treedef = pytree.flatten(result)
    leaves = [as_variable(v) for v in leaves]
    closure = closure_of(leaves, inner_inputs, None if hoist else start)
    fresh = [Variable(c.type, name=c.name, loc=c.loc) for c in closure]
    closed = replace(leaves, dict(zip(closure, fresh))) if closure else leaves
    return InnerGraph(list(inner_inputs) + fresh, closed, label), treedef, leaves, closure
