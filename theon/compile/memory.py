"""Liveness and buffer reuse, as MXNet planned memory.

Each variable's storage may be shared with others: views (reshape, transpose, slices)
alias their input, and an op not known to return fresh memory is assumed to alias all of
its inputs. A buffer dies when the last variable sharing its storage is last used; an
elementwise op may then write its result into that dead buffer (`out=`), so a chain of
elementwise ops runs in one or two buffers instead of one per op.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from .. import config
from ..graph import Constant


@dataclass
class MemoryPlan:
    frees: dict = field(default_factory=dict)    # node index -> variables to drop after it
    reuse: dict = field(default_factory=dict)    # node index -> input variable written over
    aliases_external: set = field(default_factory=set)  # ids of vars sharing an input's storage
    inplace: set = field(default_factory=set)    # node indices that update shared storage in place
    roots: dict = field(default_factory=dict)    # id(var) -> its storage group
    estimate: object = None  # () -> the peak, computed when first asked (most compiles never ask)
    _peak: int | None = None

    @property
    def peak_bytes(self) -> int:
        """Estimated peak of intermediate buffers (inputs and shared variables excluded)."""
        if self._peak is None:
            self._peak = self.estimate() if self.estimate is not None else 0
        return self._peak

    def shares_storage(self, v, external_ids) -> bool:
        """Whether `v` may share storage with any of these inputs (by id)."""
        r = self.roots.get(id(v))
        if r is None:
            return id(v) in external_ids
        return any(g[0] == "external" and g[1] in external_ids for g in _members(r))


def fresh(node) -> bool:
    """Whether the node's outputs are newly allocated tensors, owned by the program."""
    return (node.op.supports_out or node.op.allocates) and not node.op.view


def updates_in_place(schedule, params, outputs, updates, update_params) -> tuple:
    """Which multi-tensor update ops (optimiser steps) may write the shared variables they
    update in place, and the schedule with those ops moved to its end.

    An op qualifies when each output its `inplace_map` pairs with an input is exactly the
    update value of the shared variable that input is, and nothing else reads that output;
    and when no output or other update of the program shares storage with that variable
    (it is returned after the op ran). Run last, it changes the shared storage only after
    every other instruction has succeeded."""
    if not any(hasattr(node.op, "inplace_map") for node in schedule):
        return schedule, set()
    param_pos = {id(p): q for q, p in enumerate(params)}
    update_of = {id(v): update_params[k] for k, v in enumerate(updates)}
    consumers: dict = {}
    for node in schedule:
        for i in node.inputs:
            consumers[id(i)] = consumers.get(id(i), 0) + 1
    for v in list(outputs) + list(updates):
        consumers[id(v)] = consumers.get(id(v), 0) + 1
    probe = plan(schedule, params, list(outputs) + list(updates))
    chosen = []
    for node in schedule:
        mapping = getattr(node.op, "inplace_map", None)
        if mapping is None:
            continue
        ok = True
        written = set()
        for k, j in mapping().items():
            inp, out = node.inputs[j], node.outputs[k]
            q = param_pos.get(id(inp))
            if q is None or update_of.get(id(out)) != q or consumers.get(id(out)) != 1:
                ok = False
                break
            written.add(id(inp))
        mine = {id(o) for o in node.outputs}
        others = [v for v in list(outputs) + list(updates) if id(v) not in mine]
        if ok and not any(probe.shares_storage(v, written) for v in others):
            chosen.append(node)
    if not chosen:
        return schedule, set()
    last = {id(n) for n in chosen}
    order = [n for n in schedule if id(n) not in last] + chosen
    return order, set(range(len(order) - len(chosen), len(order)))


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
    result.roots = root
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
    result.estimate = lambda: _peak_bytes(schedule, result, root, group_last)
    return result


def _nbytes(v) -> int:
    if not v.type.is_concrete:
        return 0
    return math.prod(v.type.shape) * _itemsize(v.dtype)


@functools.lru_cache(maxsize=None)
def _itemsize(dtype: str) -> int:
    return np.dtype(dtype).itemsize


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
