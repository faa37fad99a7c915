"""Liveness and buffer reuse, as MXNet planned memory.

Each variable's storage may be shared with others: views (reshape, transpose, slices)
alias their input, and an op not known to return fresh memory is assumed to alias all of
its inputs. A buffer dies when the last variable sharing its storage is last used; an
elementwise op may then write its result into that dead buffer (`out=`), so a chain of
elementwise ops runs in one or two buffers instead of one per op.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import config
from ..graph import Constant


@dataclass
class MemoryPlan:
    frees: dict = field(default_factory=dict)    # node index -> variables to drop after it
    reuse: dict = field(default_factory=dict)    # node index -> input variable written over
    aliases_external: set = field(default_factory=set)  # ids of vars sharing an input's storage
    peak_bytes: int = 0    # estimated peak of intermediate buffers (inputs and shared excluded)


def fresh(node) -> bool:
    """Whether the node's outputs are newly allocated tensors, owned by the program."""
    return (node.op.supports_out or node.op.allocates) and not node.op.view


def plan(schedule, params, results) -> MemoryPlan:
    """Decide when each intermediate is freed and which dead buffers ops may reuse."""
    position = {}   # id(var) -> index of the node that makes it (-1 for params/constants)
    root = {}       # id(var) -> storage group id
    for p in params:
        position[id(p)] = -1
        root[id(p)] = ("external", id(p))
    for i, node in enumerate(schedule):
        for inp in node.inputs:
            if id(inp) not in root:
                root[id(inp)] = ("external", id(inp))  # constants
        own = fresh(node)
        for out in node.outputs:
            position[id(out)] = i
            if own:
                root[id(out)] = ("fresh", id(out))
            else:
                root[id(out)] = _union([root[id(x)] for x in node.inputs], id(out))

    end = len(schedule)
    last_use = {}
    for i, node in enumerate(schedule):
        for inp in node.inputs:
            last_use[id(inp)] = i
    for r in results:
        last_use[id(r)] = end
    group_last = {}
    for vid, r in root.items():
        for g in _members(r):
            group_last[g] = max(group_last.get(g, -1), last_use.get(vid, position.get(vid, -1)))

    result = MemoryPlan()
    result.aliases_external = {vid for vid, r in root.items()
                               if any(g[0] == "external" for g in _members(r))}
    for i, node in enumerate(schedule):
        if config.INPLACE and node.op.elementwise and node.op.supports_out and len(node.outputs) == 1:
            out = node.outputs[0]
            for inp in node.inputs:
                r = root.get(id(inp))
                if (r is not None and r[0] == "fresh" and r[1] == id(inp) and not isinstance(inp, Constant)
                        and inp.dtype == out.dtype and inp.type.shape == out.type.shape
                        and group_last[r] == i and not _viewed_by_others(node, inp, r, root)):
                    result.reuse[i] = inp
                    break
        dead = [v for v in _unique(node.inputs) + list(node.outputs)
                if id(v) in position and position[id(v)] >= 0 and last_use.get(id(v), i) <= i]
        result.frees[i] = dead
    result.peak_bytes = _peak_bytes(schedule, result, root, group_last)
    return result


def _nbytes(v) -> int:
    if not v.type.is_concrete:
        return 0
    return int(np.prod(v.type.shape, dtype=np.int64)) * np.dtype(v.dtype).itemsize


def _peak_bytes(schedule, result, root, group_last) -> int:
    """Bytes of intermediate storage alive at the worst point of the schedule: each output
    not made in place and not a view allocates; it is freed when the last variable sharing
    its storage is last used."""
    live, peak, frees_at = 0, 0, {}
    for i, node in enumerate(schedule):
        for k, out in enumerate(node.outputs):
            if k == 0 and i in result.reuse:
                # the output lives on in the dead input's buffer: that buffer is freed when
                # the output's storage group dies, not at the input's last use (here)
                size, bucket = _nbytes(out), frees_at.get(i, [])
                last = max(group_last.get(g, i) for g in _members(root[id(out)]))
                if last > i and size in bucket:
                    bucket.remove(size)
                    frees_at.setdefault(last, []).append(size)
                continue
            if node.op.view:
                continue
            size = _nbytes(out)
            live += size
            last = max(group_last.get(g, i) for g in _members(root[id(out)]))
            frees_at.setdefault(last, []).append(size)
        peak = max(peak, live)
        live -= sum(frees_at.pop(i, ()))
    return peak


def _viewed_by_others(node, inp, r, root) -> bool:
    """Whether another input of the node shares inp's storage (writing would corrupt it)."""
    return any(x is not inp and r in _members(root.get(id(x), ("external", id(x))))
               for x in node.inputs)


def _union(roots, vid):
    groups = set()
    for r in roots:
        groups.update(_members(r))
    return ("alias", frozenset(groups)) if groups else ("fresh", vid)


def _members(r):
    return r[1] if r[0] == "alias" else (r,)


def _unique(vs):
    seen, out = set(), []
    for v in vs:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out
