"""Merge nodes into a richer twin: when a graph holds both `op(inputs)` and
`op.superset()(inputs)` (a scan and the same scan keeping its carry history for the
gradient), the first's outputs are the twin's first outputs, so the loop runs once."""
from __future__ import annotations

from ...graph import replace, toposort


def merge_twins(outputs) -> list:
    nodes = toposort(outputs)
    present = {(n.op, n.inputs): n for n in nodes}
    mapping = {}
    for node in nodes:
        superset = getattr(node.op, "superset", None)
        if superset is None:
            continue
        twin_op = superset()
        twin = present.get((twin_op, node.inputs)) if twin_op is not None else None
        if twin is not None:
            mapping.update(zip(node.outputs, twin.outputs))
    return replace(outputs, mapping) if mapping else list(outputs)
