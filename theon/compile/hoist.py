"""Work that reads only shared variables and constants, done once instead of every call.

An inference program spends part of each call on values that depend on its weights alone:
a batch norm folded into a convolution's weight and bias (the fuse pass computes them in
the graph from the shared ones, so the weights stay trainable), a weight cast or
transposed into a copy, an imported model's weight arithmetic. `split_static` moves that
work into a separate program; the main program asks a `StaticCache` for its results, which
runs that program again only when one of the shared variables it reads holds another
tensor (set_value, a training step's update) or was changed in place (torch's version
counter).

Only programs without updates are split: a training step changes its weights every call,
so there is nothing to keep. A tensor without a version counter (one made under
torch.inference_mode, as compiled programs' results are) cannot be watched for in-place
writes, so values read from one are recomputed every call. Pure views of a shared variable
(a transpose, a reshape) alone make no static program: they cost little. Once there is one,
every static view is taken in it, of values computed once (a folded weight reshaped) or of
shared variables (its results are then the views, over the same memory): a call saves their
microseconds.
"""
from __future__ import annotations

from ..graph import Constant
from .memory import fresh


def split_static(schedule, static_params, results):
    """(the nodes to run once, in schedule order; the values of them the rest reads), or
    None when nothing is worth moving. `static_params` are the program's parameters whose
    values the cache watches; constants are static too."""
    static = {id(p) for p in static_params}
    static_nodes = set()
    for node in schedule:
        if node.op.impure or node.op.bodies():
            continue
        if all(id(i) in static or isinstance(i, Constant) for i in node.inputs):
            static_nodes.add(id(node))
            static.update(id(o) for o in node.outputs)
    if not static_nodes:
        return None
    hoisted, needed = set(), set()
    for node in reversed(schedule):  # the static nodes that compute something, and what they read
        if id(node) in static_nodes and (fresh(node) or any(id(o) in needed for o in node.outputs)):
            hoisted.add(id(node))
            needed.update(id(i) for i in node.inputs)
    if not hoisted:
        return None
    # once there is a static program, the static views are taken in it too: of values computed
    # once (a folded weight reshaped), and of shared variables (a classifier's transposed last
    # weight): the cache keeps a view over the same memory, and a call saves its microseconds
    hoisted.update(id(node) for node in schedule if id(node) in static_nodes)
    read_outside = {id(v) for v in results}
    for node in schedule:
        if id(node) not in hoisted:
            read_outside.update(id(i) for i in node.inputs)
    moved = [n for n in schedule if id(n) in hoisted]
    frontier = [o for n in moved for o in n.outputs if id(o) in read_outside]
    return moved, frontier


_untracked_writes = [0]  # bumped when shared tensors were written without their version moving


def note_untracked_writes() -> None:
    """Shared tensors were written in place by work torch's version counters do not see (a
    CUDA graph's replay, compile/capture.py): every cache computes its values afresh."""
    _untracked_writes[0] += 1


class StaticCache:
    """Called by the main program with the watched shared tensors; returns the static
    program's results, running it only when a tensor differs from the last call's (another
    object, or its in-place version counter moved)."""

    __slots__ = ("program", "tensors", "versions", "values", "epoch")

    def __init__(self, program):
        self.program = program
        self.tensors = None     # the tensors the kept values were computed from (held, so
        self.versions = None    # no new tensor can take an old one's id)
        self.values = None
        self.epoch = _untracked_writes[0]

    def __call__(self, *tensors):
        kept = self.tensors
        if kept is not None and self.epoch == _untracked_writes[0] and all(a is b for a, b in zip(tensors, kept)):
            try:
                if all(t._version == v for t, v in zip(tensors, self.versions)):
                    return self.values
            except RuntimeError:  # an inference tensor: no version counter to trust
                pass
        values = self.program.run(*tensors)
        try:
            self.versions = [t._version for t in tensors]
            self.tensors, self.values, self.epoch = tensors, values, _untracked_writes[0]
        except RuntimeError:
            self.tensors = self.versions = self.values = None
        return values
