"""The profiler: `f.profile(*args, repeat=N)` times every instruction of the compiled program.

It is a `Hook` (compile/hooks.py) built into a separate program, so the program a call
runs never pays for it. Around each instruction the hook reads the clock (synchronising
the device first on CUDA only) and counts the bytes of outputs that are new storage (not a
view, not written into a dead buffer). Loop and branch bodies are child programs that get
the hook too: their instructions run inside the loop node's time and are listed under it.

The result is a `ProfileTable` (profile_table.py).
"""
from __future__ import annotations

import time
import weakref

import torch

from .hooks import Hook
from .profile_table import ProfileTable, Row
from .program import build_program

_MAX_EVENTS = 200_000  # calls kept for the Chrome trace; the table counts every call
_NAME = "_theon_profile"


class ProfileSession:
    """What one profiled program records: per-instruction totals, the call events, and the
    storages alive (for the measured peak)."""

    def __init__(self, device: torch.device):
        self.device = device
        self.cuda = device.type == "cuda"
        self.recorders: list = []
        self.reset()

    def reset(self):
        self.stats: dict = {}     # (recorder, index) -> [calls, total ns, bytes allocated]
        self.parent: dict = {}    # key -> key of the instruction it ran inside, or None
        self.events: list = []    # (key, start ns, duration ns, depth)
        self.dropped_events = 0
        self.origin = time.perf_counter_ns()
        self.stack: list = []     # (key, start ns) of the instructions running now
        self.live_bytes = 0
        self.peak_bytes = 0
        self.groups: dict = {}    # storage pointer -> [nbytes, {id(weakref): weakref to a tensor}]

    def begin_run(self):
        self.stack = []  # a failed run may have left instructions open

    def track(self, t: torch.Tensor, input_ptrs) -> int:
        """Bytes of new storage `t` holds (0 for a view, or a dead buffer reused with out=);
        the storage counts as live until every tensor seen holding it is gone."""
        storage = t.untyped_storage()
        ptr, nbytes = storage.data_ptr(), storage.nbytes()
        if nbytes == 0:
            return 0
        group = self.groups.get(ptr)
        if group is None and ptr in input_ptrs:
            return 0  # a view of an argument, a shared variable or a constant: not the run's
        new = group is None
        if new:
            group = self.groups[ptr] = [nbytes, {}]
            self.live_bytes += nbytes
            self.peak_bytes = max(self.peak_bytes, self.live_bytes)
        # weak references to tensors compare by the tensors' values: key them by identity
        ref = weakref.ref(t, lambda ref, ptr=ptr: self._release(ptr, id(ref)))
        group[1][id(ref)] = ref
        return nbytes if new else 0

    def _release(self, ptr, ref_id):
        group = self.groups.get(ptr)
        if group is None or ref_id not in group[1]:
            return
        del group[1][ref_id]
        if not group[1]:
            del self.groups[ptr]
            self.live_bytes -= group[0]


class Recorder:
    """The hook's object in one program's namespace: called around each instruction."""

    def __init__(self, session: ProfileSession, schedule):
        self.session = session
        self.schedule = schedule
        self.program_name = None  # filled in once the program is built
        session.recorders.append(self)

    def enter(self, index):
        s = self.session
        if s.cuda:
            torch.cuda.synchronize(s.device)
        s.stack.append(((self, index), time.perf_counter_ns()))

    def exit(self, index, outputs, inputs):
        s = self.session
        if s.cuda:
            torch.cuda.synchronize(s.device)
        end = time.perf_counter_ns()
        key, start = s.stack.pop()
        entry = s.stats.get(key)
        if entry is None:
            entry = s.stats[key] = [0, 0, 0]
            s.parent[key] = s.stack[-1][0] if s.stack else None
        entry[0] += 1
        entry[1] += end - start
        ptrs = {t.untyped_storage().data_ptr() for t in inputs if isinstance(t, torch.Tensor)}
        for t in outputs:
            if isinstance(t, torch.Tensor):
                entry[2] += s.track(t, ptrs)
        if len(s.events) < _MAX_EVENTS:
            s.events.append((key, start - s.origin, end - start, len(s.stack)))
        else:
            s.dropped_events += 1


class ProfileHook(Hook):
    """Times each instruction and counts the storage its outputs allocate."""

    def __init__(self, session: ProfileSession):
        self.session = session

    def namespace(self, params, param_names, schedule) -> dict:
        return {_NAME: Recorder(self.session, schedule)}

    def before(self, index, instruction) -> list:
        return [f"{_NAME}.enter({index})"]

    def after(self, index, instruction) -> list:
        outs = "".join(f"{t}, " for t in instruction.targets)
        ins = "".join(f"{a}, " for a in instruction.args)
        return [f"{_NAME}.exit({index}, ({outs}), ({ins}))"]


def profile_function(function, args, kwargs, repeat: int = 10, warmup: int = 1,
                     explain=None) -> ProfileTable:
    """Run `function` (a compiled Function) on these arguments `warmup` times, then `repeat`
    times recording, without applying its updates; the table of what each instruction took.
    explain(program, error): the error to raise for a kernel that failed."""
    if int(repeat) != repeat or repeat < 1:
        raise ValueError(f"profile: repeat must be a whole number >= 1, got {repeat!r}")
    if int(warmup) != warmup or warmup < 0:
        raise ValueError(f"profile: warmup must be a whole number >= 0, got {warmup!r}")
    tensors = function._compile_example(args, kwargs)   # also makes the plain program, for
    plain = function.last_program                         # its memory plan
    shared_values = [s._value for s in function.shared]
    key = tuple(t.shape for t in tensors) + tuple(v.shape for v in shared_values)
    built = function._profile_programs.get(key)
    if built is None:
        session = ProfileSession(function.device)
        params = function.inputs + function.shared
        shapes = [t.shape for t in tensors] + [v.shape for v in shared_values]
        program = build_program(params, shapes, function.outputs, [u for _, u in function.updates],
                                function.device, function.name,
                                hooks=[ProfileHook(session)] + list(function.hooks),
                                static_from=len(function.inputs))
        for p in program.programs():
            p.run.__globals__[_NAME].program_name = p.name
        built = function._profile_programs[key] = (program, session)
    program, session = built
    for _ in range(int(warmup)):
        _run(program, session, tensors, shared_values, explain)
    session.reset()
    cuda = function.device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(function.device)
        torch.cuda.reset_peak_memory_stats(function.device)
        before = torch.cuda.memory_allocated(function.device)
    start = time.perf_counter_ns()
    for _ in range(int(repeat)):
        _run(program, session, tensors, shared_values, explain)
    wall = time.perf_counter_ns() - start
    measured = (torch.cuda.max_memory_allocated(function.device) - before) if cuda else session.peak_bytes
    rows, by_key = _rows(session, int(repeat))
    memory = {"predicted_peak": plain.plan.peak_bytes, "measured_peak": int(measured),
              "measured_by": "the CUDA allocator" if cuda else "live bytes of the outputs the hook saw",
              "inputs": sum(t.numel() * t.element_size() for t in tensors),
              "shared": sum(v.numel() * v.element_size() for v in shared_values)}
    events = [(by_key[key], start, duration, depth) for key, start, duration, depth in session.events]
    return ProfileTable(function.name, rows, int(repeat), wall / 1e9, memory, events,
                        session.dropped_events, str(function.device))


def _run(program, session, tensors, shared_values, explain):
    session.begin_run()
    try:
        program.run(*tensors, *shared_values)  # outputs and update values are dropped here
    except Exception as e:
        if explain is None:
            raise
        raise explain(program, e) from e


def _rows(session: ProfileSession, repeat: int) -> list:
    top_total = sum(entry[1] for key, entry in session.stats.items() if session.parent[key] is None)
    rows = {}
    for key, (calls, total, nbytes) in session.stats.items():
        recorder, index = key
        node = recorder.schedule[index]
        rows[key] = Row(node, recorder.program_name, index, calls, total / 1e9,
                        total / top_total if top_total else 0.0, nbytes, repeat)
    for key, row in rows.items():
        parent = session.parent[key]
        if parent is not None:
            rows[parent].children.append(row)
            row.parent = rows[parent]
    return [row for key, row in rows.items() if session.parent[key] is None], rows
