"""Which names an ONNX subgraph reads from the scopes around it."""
from __future__ import annotations


def free_names(graph) -> set:
    """Names a graph reads but does not define itself (outer-scope values)."""
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    used = set()
    for node in graph.node:
        used.update(n for n in node.input if n)
        for a in node.attribute:
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                used |= free_names(g)
        defined.update(node.output)
    used.update(o.name for o in graph.output)
    return used - defined
