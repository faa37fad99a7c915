"""Merge nodes into a richer twin: when a graph holds both `op(inputs)` and
`op.superset()(inputs)` (a scan and the same scan keeping its carry history for the
gradient), the first's outputs are the twin's first outputs, so the loop runs once."""
from __future__ import annotations

from ...graph import apply, replace, toposort


def merge_twins(outputs) -> list:
    nodes = toposort(outputs)
    present = {(n.op, n.inputs) for n in nodes}
    memo: dict = {}
    changed = False
    for node in nodes:
        new_inputs = tuple(memo.get(id(i), i) for i in node.inputs)
        superset = getattr(node.op, "superset", None)
        twin_op = superset() if superset is not None else None
        if twin_op is not None and (twin_op, node.inputs) in present:
            # built on the rebuilt inputs; the real twin, rebuilt later on the same inputs,
            # is then this very node (hash-consing)
            outs = apply(twin_op, new_inputs, loc=node.loc).outputs[:len(node.outputs)]
            changed = True
        elif any(a is not b for a, b in zip(new_inputs, node.inputs)):
            outs = apply(node.op, new_inputs, loc=node.loc).outputs
        else:
            continue
        for old, new in zip(node.outputs, outs):
            memo[id(old)] = new
    return [memo.get(id(v), v) for v in outputs] if changed else list(outputs)


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
