"""Capture of a compiled program in a CUDA graph: a whole training step replayed as one launch.

A function on CUDA whose program can be captured (static shapes: the function already
compiles one program per input signature) runs it plainly for `WARMUP_CALLS` calls, then,
on the next call, once more outside any graph (on a side stream, as CUDA wants) and records
it. Every later call copies its arguments into the recording's static input buffers,
replays, and hands back copies of the static output buffers.

The recording reads and writes the shared variables' own tensors: each update value is
copied into its shared variable's storage at the end of the step (after every value is
computed, so a failing call still leaves every shared variable as it was), and those tensors
must keep their storage while the recording lives. Before each replay a shared variable that
holds another tensor than the recorded one (set_value, load_weights, an uncaptured function's
update) has its value copied into the recorded tensor, which it then holds again; an RNG
counter (a variable with a default update) set anew drops the recording instead, so draws
restart from the new seed.

What cannot be recorded runs plainly, without error, and `Function.cuda_graph_status()`
says why: an op that reads device values on the host or makes data-dependent shapes
(`Op.capturable`), the NaN guard, an update that changes a shared variable's shape, work
on weights alone kept between calls (hoist.py: a replay would not redo it when they
change), a device without graphs (the CPU), or a recording that failed.

The mechanics sit behind `Capturer` (warmup / capture / replay); `CudaCapturer` uses
torch.cuda.CUDAGraph. Tests on the CPU give a double that replays the recorded callable
against the same buffers.
"""
from __future__ import annotations

import logging
import weakref

import torch

from ..ops import random as random_ops
from .hoist import note_untracked_writes

log = logging.getLogger("theon.compile")

WARMUP_CALLS = 1  # plain calls of a signature's program before it is recorded (the first compiles it)


class Capturer:
    """Records a step (a callable returning tensors) once and replays it."""

    def __init__(self, device: torch.device):
        self.device = device

    def warmup(self, step):
        """Run `step` as capture wants it run beforehand; its result."""
        return step()

    def capture(self, step):
        """Record `step`; the tensors it returned while recorded (the static outputs)."""
        raise NotImplementedError

    def replay(self) -> None:
        raise NotImplementedError


class CudaCapturer(Capturer):
    """torch.cuda.CUDAGraph. The warm-up runs on a side stream (lazy initialisation must
    not happen in the recording); theon's RNG generator is registered with the graph so
    that each replay advances its philox offset."""

    def __init__(self, device):
        super().__init__(device)
        self.graph = None

    def warmup(self, step):
        main = torch.cuda.current_stream(self.device)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(main)
        with torch.cuda.stream(side):
            result = step()
        main.wait_stream(side)
        return result

    def capture(self, step):
        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(random_ops.thread_generator(self.device))
        stream = torch.cuda.current_stream(self.device)
        try:
            # thread_local: a data loader's thread may use CUDA meanwhile
            with torch.cuda.device(self.device), torch.cuda.graph(graph, capture_error_mode="thread_local"):
                result = step()
        except BaseException:
            # a capture that fails in capture_end leaves torch.cuda.graph's stream current
            torch.cuda.set_stream(stream)
            raise
        self.graph = graph
        return result

    def replay(self) -> None:
        self.graph.replay()


CAPTURERS = {"cuda": CudaCapturer}  # device type -> Capturer class

# id -> shared tensor a recording made private (cloned once, then kept); by id, as a
# WeakSet would compare tensors with ==
_owned = weakref.WeakValueDictionary()


def refusal(program, hooks, update_pairs) -> str | None:
    """Why this program (with its bodies) cannot be recorded, or None."""
    if hooks:
        return "debug hooks (nan_guard) check values on the host after every op"
    if program.static is not None:
        return ("it keeps its work on weights alone between calls (compile/hoist.py), which a "
                "replay would not redo when they change (THEON_HOIST_STATIC=0 lets it be captured)")
    for program in program.programs():
        for node in program.schedule:
            op = node.op
            ok = op.capturable
            if ok is None:  # undeclared: theon's own ops are audited, others are not
                ok = type(op).__module__.startswith("theon.")
            if not ok:
                where = f" at {node.loc}" if node.loc else ""
                return (f"op {op.name}{where} reads device values on the host or makes shapes "
                        f"from them (ops declare this with `capturable`)")
    for s, value in update_pairs:
        if tuple(value.type.shape) != tuple(s._value.shape):
            return (f"the update of shared {s.name!r} changes its shape from {tuple(s._value.shape)} "
                    f"to {tuple(value.type.shape)}")
    return None


class Recording:
    """One program's capture state: plain calls counted, then the recording and replays."""

    def __init__(self, program, capturer: Capturer, reason: str | None):
        self.program = program
        self.capturer = capturer
        self.reason = reason        # why it is not recorded (None: it is, or will be)
        self.plain_calls = 0
        self.inputs = None          # the static input buffers
        self.variables = None       # the shared variables it reads or writes
        self.tensors = None         # and their tensors, which the recording reads and writes
        self.outputs = None         # the static output buffers
        self.writes = False         # whether replays write shared tensors

    @property
    def recorded(self) -> bool:
        return self.outputs is not None

    def status(self) -> str:
        if self.recorded:
            return "captured"
        if self.reason is not None:
            return f"not captured: {self.reason}"
        return f"warming up ({self.plain_calls} of {WARMUP_CALLS} plain calls before capture)"

    def ready(self) -> bool:
        return self.reason is None and self.plain_calls >= WARMUP_CALLS

    def record(self, tensors, shared, targets):
        """This call's run (outside the graph, writing the shared variables), then the
        recording of the same step. Returns this call's outputs. `shared`: the variables
        the program reads, in its parameter order; `targets`: those its updates write."""
        read = {id(s) for s in shared}
        self.variables = list(shared) + [s for s in targets if id(s) not in read]  # written unread
        taken = set()
        for s in self.variables:  # private tensors, one storage each, kept while recordings live
            ptr = s._value.untyped_storage().data_ptr()
            if _owned.get(id(s._value)) is not s._value or ptr in taken:
                s._value = s._value.clone()
                _owned[id(s._value)] = s._value
            taken.add(s._value.untyped_storage().data_ptr())
        self.tensors = [s._value for s in self.variables]
        self.inputs = [torch.empty_like(t, device=self.capturer.device).copy_(t) for t in tensors]
        position = {id(s): q for q, s in enumerate(self.variables)}
        targets = [self.tensors[position[id(s)]] for s in targets]
        step = _step(self.program, self.inputs, self.tensors[:len(shared)], targets)
        outs = self.capturer.warmup(step)
        try:
            with random_ops.recorded_draws():
                static = self.capturer.capture(step)
        except Exception as e:  # a host sync no op declared, an unsupported kernel: run plainly
            self.reason = f"the capture failed: {type(e).__name__}: {e}"
            log.info("%s: %s", self.program.name, self.reason)
            return outs
        self.outputs = static
        self.writes = bool(targets)
        log.info("%s: captured in a CUDA graph", self.program.name)
        return outs

    def replay(self, tensors):
        """The static output buffers after a replay on these arguments (the next replay
        overwrites them), or None when the recording no longer holds (an RNG state set
        anew): the caller then runs the call plainly."""
        for s, t in zip(self.variables, self.tensors):
            if s._value is not t:
                if s.default_update is not None:
                    self.drop()
                    return None
                t.copy_(s._value)
                s._value = t
        for buf, t in zip(self.inputs, tensors):
            buf.copy_(t, non_blocking=True)
        self.capturer.replay()
        if self.writes:
            note_untracked_writes()
        return self.outputs

    def drop(self):
        self.inputs = self.variables = self.tensors = self.outputs = None
        self.capturer = type(self.capturer)(self.capturer.device)
        self.plain_calls = 0


def _step(program, inputs, shared, targets):
    """The recorded callable: run the program, then write each update value into its
    shared variable's tensor (after all are computed; values that share storage with a
    written tensor are copied first, so no write changes a value read later)."""
    def step():
        outs, upds = program.run(*inputs, *shared)
        writes = [(t, u) for t, u in zip(targets, upds) if u is not t]  # not already in place
        written = {t.untyped_storage().data_ptr() for t, _ in writes}
        writes = [(t, u.clone() if u.untyped_storage().data_ptr() in written else u) for t, u in writes]
        for t, u in writes:
            t.copy_(u)
        return list(outs)
    return step
