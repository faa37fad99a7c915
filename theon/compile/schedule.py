"""The order nodes run in: a depth-first topological order from the results, except that
nodes whose op asks to be launched early (an op with a `launch_priority`: the start of an
asynchronous collective) run as soon as their inputs allow, in priority order. Their
partners (the waits) are reached from the results as usual, so they sit where their
values are first needed, and the work in between overlaps the collective."""
from __future__ import annotations

from ..graph import toposort


def schedule(results) -> list:
    order = toposort(results)
    early = [n for n in order if getattr(n.op, "launch_priority", None) is not None]
    if not early:
        return order
    early.sort(key=lambda n: n.op.launch_priority)
    return toposort([n.outputs[0] for n in early] + list(results))
