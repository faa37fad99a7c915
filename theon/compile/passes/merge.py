"""Merge nodes into a richer twin: when a graph holds both `op(inputs)` and
`op.superset()(inputs)` (a scan and the same scan keeping its carry history for the
gradient), the first's outputs are the twin's first outputs, so the loop runs once."""
from __future__ import annotations

from ...graph import apply, rebuild, replace, toposort


def merge_twins(outputs) -> list:
    nodes = toposort(outputs)
    present = {(n.op, n.inputs) for n in nodes}

    def visit(node, inputs, value):
        superset = getattr(node.op, "superset", None)
        twin_op = superset() if superset is not None else None
        if twin_op is None or (twin_op, node.inputs) not in present:
            return None
        # built on the rebuilt inputs; the real twin, rebuilt later on the same inputs, is
        # then this very node (hash-consing)
        return apply(twin_op, inputs, loc=node.loc).outputs[:len(node.outputs)]

    return rebuild(outputs, visit, nodes)


def combine_siblings(outputs) -> list:
    """Nodes that name one combined op over the same inputs (`op.sibling(inputs)` ->
    (combined op, its inputs, output slot)) become one node of that op: a convolution's
    input and weight gradients come from one kernel call."""
    groups: dict = {}
    for node in toposort(outputs):
        sibling = getattr(node.op, "sibling", None)
        if sibling is None:
            continue
        combined, inputs, slot = sibling(node.inputs)
        groups.setdefault((combined, tuple(inputs)), {})[slot] = node
    mapping = {}
    for (combined, inputs), slots in groups.items():
        if len(slots) < 2:
            continue
        first = next(iter(slots.values()))
        fused = apply(combined, inputs, loc=first.loc)
        for slot, node in slots.items():
            mapping[node.outputs[0]] = fused.outputs[slot]
    return replace(outputs, mapping) if mapping else list(outputs)
