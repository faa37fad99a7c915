"""Walking graphs, and rebuilding them with some variables replaced."""
from __future__ import annotations

from .basic import Constant, Variable, apply


def toposort(outputs) -> list:
    """The nodes that `outputs` depend on, each after all of its inputs' nodes."""
    order, seen = [], set()
    stack = [(v.owner, False) for v in reversed(list(outputs)) if v.owner is not None]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for inp in reversed(node.inputs):
            if inp.owner is not None and id(inp.owner) not in seen:
                stack.append((inp.owner, False))
    return order


def ancestors(outputs) -> list:
    """Every variable `outputs` depend on, inputs and intermediates included."""
    seen, result = set(), []
    for v in outputs:
        if id(v) not in seen:
            seen.add(id(v))
            result.append(v)
    for node in toposort(outputs):
        for v in node.inputs:
            if id(v) not in seen:
                seen.add(id(v))
                result.append(v)
    return result


def graph_inputs(outputs) -> list:
    """The leaf variables (no owner, not constant) that `outputs` depend on, in first-seen order."""
    return [v for v in ancestors(outputs) if v.owner is None and not isinstance(v, Constant)]


def replace(outputs, mapping: dict) -> list:
    """`outputs` rebuilt with each key of `mapping` replaced by its value (a new graph).

    Nodes keep their source locations; unchanged subgraphs are shared, not copied.
    """
    memo = {id(k): v for k, v in mapping.items()}
    for node in toposort(outputs):
        if any(id(o) in memo for o in node.outputs):
            continue  # replaced wholesale: what it was computed from no longer matters
        new_inputs = [memo.get(id(i), i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        new_node = apply(node.op, new_inputs, loc=node.loc)
        for old, new in zip(node.outputs, new_node.outputs):
            memo[id(old)] = new
    return [memo.get(id(v), v) for v in outputs]


def rebuild(outputs, visit, nodes=None) -> list:
    """`outputs` rebuilt node by node in topological order (`nodes`, when the caller has it):
    `visit(node, inputs, value)` gets the node's rebuilt inputs and `value(v)`, any earlier
    variable's rebuilt value, and returns the node's new output values, or None to keep the
    node (rebuilt only where an input changed; unchanged subgraphs are shared). A rewrite
    whose results read values it replaced earlier (a forward and its gradient) needs this
    order, which `replace` with a fixed mapping cannot give."""
    memo: dict = {}
    value = lambda v: memo.get(id(v), v)  # noqa: E731
    for node in toposort(outputs) if nodes is None else nodes:
        inputs = [value(i) for i in node.inputs]
        new = visit(node, inputs, value)
        if new is None:
            if all(a is b for a, b in zip(inputs, node.inputs)):
                continue
            new = apply(node.op, inputs, loc=node.loc).outputs
        for old, v in zip(node.outputs, new):
            memo[id(old)] = v
    return [value(v) for v in outputs]


def clone(outputs, inputs=None) -> tuple:
    """A copy of the graph with fresh input variables; returns (new_inputs, new_outputs)."""
    inputs = graph_inputs(outputs) if inputs is None else list(inputs)
    fresh = [Variable(v.type, name=v.name, loc=v.loc) for v in inputs]
    return fresh, replace(outputs, dict(zip(inputs, fresh)))


def depends_on(outputs, variables) -> bool:
    """Whether any of `outputs` depends on any of `variables`."""
    targets = {id(v) for v in variables}
    return any(id(v) in targets for v in ancestors(outputs))
