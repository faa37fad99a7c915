"""`th.function`: compile a graph once per call signature and run it.

The first call with a given set of input shapes specialises the graph to those shapes,
optimises it and generates a program; later calls with the same shapes go straight to the
cached program. Every update value is computed before any shared variable is written, and
a call that fails leaves every shared variable as it was.
"""
from __future__ import annotations

import logging

import numpy as np
import torch

from .. import config
from ..backend.device import default_device, resolve_device
from ..backend.interop import source_dtype, to_numpy, torch_dtype
from ..errors import InputError, KernelError, TheonError
from ..graph import Constant, Shared, Variable, graph_inputs, replace
from ..graph.types import format_shape, shapes_agree
from ..ops.base import as_variable
from ..ops.elementwise import cast
from . import capture
from .hooks import NanGuard
from .profile import profile_function
from .program import build_program

log = logging.getLogger("theon.compile")


def function(inputs, outputs, updates=None, givens=None, device=None, keep_on_device=False,
             name: str | None = None, nan_guard: bool | None = None,
             cuda_graph: bool | None = None) -> "Function":
    """Compile `outputs` as a function of `inputs`.

    updates: [(shared, new_value), ...] or {shared: new_value}, applied after each call.
    givens: {variable: replacement} substituted into the graph before compiling.
    device: 'cpu', 'cuda' or 'cuda:N' (default: THEON_DEVICE, else CUDA if present).
    keep_on_device: return torch tensors on the device instead of NumPy arrays.
    nan_guard: stop at the first op (forward or gradient) that makes a NaN or infinity,
    naming it and the user's line (default THEON_NAN_GUARD; costs a check per op when on).
    cuda_graph: on CUDA, record each input signature's program in a CUDA graph after one
    plain call and replay it from then on: one launch per call instead of one per op
    (default THEON_CUDA_GRAPH, on). Arguments are copied into the graph's input buffers;
    outputs are copies of its output buffers; updates are written into the shared
    variables' own tensors, and a shared variable given a new tensor (set_value) has it
    copied in before the next replay. A program that cannot be recorded (ops that read
    device values on the host, such as cond, while_loop, nonzero, unique; nan_guard; the
    CPU) runs as usual: `cuda_graph_status()` says why. Random draws in a recording draw
    anew on every replay, from the generator's stream rather than from (seed, counter).
    """
    return Function(inputs, outputs, updates, givens, device, keep_on_device, name, nan_guard, cuda_graph)


class _InputSpec:
    """Validation and conversion of one argument to the declared input's dtype and shape."""

    __slots__ = ("var", "label", "dtype", "np_dtype", "tdtype", "ndim", "checks", "device")

    def __init__(self, var: Variable, position: int, device):
        self.var = var
        self.label = f"input {position} ({var.name!r})" if var.name else f"input {position}"
        self.dtype = var.dtype
        self.np_dtype = np.dtype(var.dtype)
        self.tdtype = torch_dtype(var.dtype)
        self.ndim = var.ndim
        self.checks = [(a, d) for a, d in enumerate(var.type.shape) if d is not None]
        self.device = device

    def convert(self, value, move: bool = True) -> torch.Tensor:
        """The argument as a tensor of the input's dtype, checked against its shape; on the
        function's device unless move=False (a CUDA graph's input buffer takes it as is)."""
        if type(value) is np.ndarray and value.dtype == self.np_dtype and value.flags.writeable:
            try:
                t = torch.from_numpy(value)
            except ValueError:  # negative strides
                t = torch.from_numpy(np.ascontiguousarray(value))
        elif isinstance(value, torch.Tensor) and value.dtype == self.tdtype:
            t = value
        else:
            t = self._convert_slow(value)
        shape = t.shape
        if len(shape) != self.ndim or any(shape[a] != d for a, d in self.checks):
            raise InputError(f"{self.label} expects shape {format_shape(self.var.type.shape)}; "
                             f"got shape {tuple(shape)}")
        if move and t.device != self.device:
            t = t.to(self.device, non_blocking=True)
        return t

    def _convert_slow(self, value) -> torch.Tensor:
        src = source_dtype(value)
        if src is None:  # Python scalars and lists adapt, as NumPy's same_kind casting allows
            arr = np.asarray(value)
            if arr.dtype == object or arr.dtype.kind in "USV":
                raise InputError(f"{self.label} expects a {self.dtype} tensor; got {type(value).__name__}")
            if not np.can_cast(arr.dtype, self.np_dtype, "same_kind"):
                raise InputError(f"{self.label} expects {self.dtype}; got values of kind {arr.dtype.name}")
            # np.asarray keeps 0-d values 0-d (ascontiguousarray would make them 1-d)
            return torch.from_numpy(np.array(arr, dtype=self.np_dtype, order="C"))
        if not np.can_cast(src, self.dtype, "safe"):
            raise InputError(f"{self.label} expects {self.dtype}; got {src}, which does not cast "
                             f"safely (convert it first, e.g. .astype({self.dtype!r}))")
        if isinstance(value, torch.Tensor):
            return value.to(self.tdtype)
        return torch.from_numpy(np.array(value, dtype=self.np_dtype))


class Function:
    """A compiled function. Call it with arrays; `.source` shows the generated program."""

    def __init__(self, inputs, outputs, updates, givens, device, keep_on_device, name, nan_guard=None,
                 cuda_graph=None):
        self.name = name or "theon_function"
        self.nan_guard = config.NAN_GUARD if nan_guard is None else bool(nan_guard)
        self.hooks = [NanGuard()] if self.nan_guard else []
        self.device = resolve_device(device or default_device())
        self.keep_on_device = keep_on_device
        self.inputs = list(inputs)
        for i, v in enumerate(self.inputs):
            if not isinstance(v, Variable) or v.owner is not None or isinstance(v, (Constant, Shared)):
                raise TypeError(f"function: inputs[{i}] must be a graph input made with th.tensor, "
                                f"got {v!r}")
        if len({id(v) for v in self.inputs}) != len(self.inputs):
            raise TypeError("function: the same input is listed twice")
        self.single = not isinstance(outputs, (list, tuple))
        outs = [as_variable(o) for o in ([outputs] if self.single else outputs)]
        pairs = _update_pairs(updates)
        if givens:
            subst = {k: as_variable(v) for k, v in dict(givens).items()}
            replaced = replace(outs + [u for _, u in pairs], subst)
            outs, pairs = replaced[:len(outs)], [(s, u) for (s, _), u in zip(pairs, replaced[len(outs):])]
        pairs = _with_default_updates(pairs, outs)
        self.outputs = outs
        self.updates = pairs
        roots = graph_inputs(outs + [u for _, u in pairs])
        listed = {id(v) for v in self.inputs}
        missing = [v for v in roots if id(v) not in listed and not isinstance(v, Shared)]
        if missing:
            raise InputError("function: the outputs depend on input(s) not listed in inputs: "
                             + ", ".join(v.describe() + (f" (made at {v.loc})" if v.loc else "") for v in missing))
        self.shared = [v for v in roots if isinstance(v, Shared)]
        for s in self.shared:
            s._move_to(self.device)
        self._specs = [_InputSpec(v, i, self.device) for i, v in enumerate(self.inputs)]
        self._nin = len(self.inputs)
        self._dyn_shared = [s for s in self.shared if not s.type.is_concrete]
        self._update_targets = [s for s, _ in pairs]
        self._cache: dict = {}
        self._profile_programs: dict = {}  # the same programs with the profiler's hook
        self._last_key = None
        self.compile_count = 0
        self.last_program = None
        self.cuda_graph = config.CUDA_GRAPH if cuda_graph is None else bool(cuda_graph)
        self._graph_asked = cuda_graph is True
        self._capturer = capture.CAPTURERS.get(self.device.type) if self.cuda_graph else None
        self._recordings = {} if self._capturer is not None else None  # key -> capture.Recording

    # ---- calling -------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if kwargs or len(args) != self._nin:
            args = self._bind(args, kwargs)
        recordings = self._recordings
        tensors = [spec.convert(a, recordings is None) for spec, a in zip(self._specs, args)]
        shared_values = [s._value for s in self.shared]
        key = tuple(t.shape for t in tensors)
        if self._dyn_shared:
            key += tuple(s._value.shape for s in self._dyn_shared)
        program = self._cache.get(key)
        if program is None:
            program = self._compile(key, tensors, shared_values)
        if recordings is not None:
            recording = recordings[key]
            if recording.recorded or recording.ready():
                return self._finish(self._call_recorded(recording, tensors))
            recording.plain_calls += 1
            tensors = [t.to(self.device, non_blocking=True) for t in tensors]
        try:
            outs = self._run(program, tensors, shared_values)
        except Exception as e:
            raise _explain(program, e) from e
        return self._finish(outs)

    def _run(self, program, tensors, shared_values):
        """Run `program` outside any CUDA graph; its update values become the shared
        variables' values (all are computed before any is written). Its outputs."""
        outs, upds = program.run(*tensors, *shared_values)
        for s, u in zip(self._update_targets, upds):
            s._value = u
        return outs

    def _finish(self, outs):
        if not self.keep_on_device:
            outs = [to_numpy(o) for o in outs]
        return outs[0] if self.single else list(outs)

    def _call_recorded(self, recording, tensors):
        """A call through the signature's CUDA graph: recorded on this call, or replayed."""
        try:
            if recording.recorded:
                outs = recording.replay(tensors)
                if outs is not None:  # the graph's buffers: a copy is the caller's
                    copy = self.keep_on_device or self.device.type == "cpu"  # (to_numpy copies from a GPU)
                    return [o.clone() for o in outs] if copy else outs
                return self._call_plain(recording, [t.to(self.device, non_blocking=True) for t in tensors])
            return recording.record(tensors, self.shared, self._update_targets)
        except Exception as e:
            raise _explain(recording.program, e) from e

    def _call_plain(self, recording, tensors):
        """The call run without the graph (a recording just dropped)."""
        recording.plain_calls += 1
        return self._run(recording.program, tensors, [s._value for s in self.shared])

    def _bind(self, args, kwargs):
        by_name = {v.name: i for i, v in enumerate(self.inputs) if v.name}
        values = list(args) + [None] * (self._nin - len(args))
        if len(args) > self._nin:
            raise InputError(f"{self.name} takes {self._nin} argument(s) "
                             f"({', '.join(str(v.name) for v in self.inputs)}); got {len(args)}")
        for k, v in kwargs.items():
            if k not in by_name:
                raise InputError(f"{self.name} has no input named {k!r}; inputs are "
                                 f"{', '.join(str(v.name) for v in self.inputs)}")
            if by_name[k] < len(args):
                raise InputError(f"{self.name} got input {k!r} twice")
            values[by_name[k]] = v
        missing = [str(self.inputs[i].name or i) for i, v in enumerate(values) if v is None]
        if missing:
            raise InputError(f"{self.name} is missing argument(s): {', '.join(missing)}")
        return values

    # ---- compiling -----------------------------------------------------------------
    def _compile(self, key, tensors, shared_values):
        self._log_recompile(key)
        params = self.inputs + self.shared
        shapes = list(key[:self._nin]) + [v.shape for v in shared_values]

        def check(upds):
            for (s, _), u in zip(self.updates, upds):
                _fit_update(s, u)

        position = {id(p): q for q, p in enumerate(params)}
        program = build_program(params, shapes, self.outputs, [u for _, u in self.updates],
                                self.device, self.name, check_updates=check, hooks=self.hooks,
                                update_params=[position.get(id(s), -1) for s, _ in self.updates],
                                static_from=self._nin)
        self._cache[key] = program
        if self._recordings is not None:
            pairs = list(zip(self._update_targets, program.update_values))
            reason = capture.refusal(program, self.hooks, pairs)
            self._recordings[key] = capture.Recording(program, self._capturer(self.device), reason)
        self.compile_count += 1
        self.last_program = program
        return program

    def _log_recompile(self, key):
        if self._last_key is None:
            log.info("compiling %s for input shapes %s", self.name, [tuple(s) for s in key])
        else:
            changes = []
            for i, (old, new) in enumerate(zip(self._last_key, key)):
                if old != new:
                    label = self._specs[i].label if i < self._nin else f"shared {self._dyn_shared[i - self._nin].name!r}"
                    changes.append(f"{label} changed shape from {tuple(old)} to {tuple(new)}")
            log.info("recompiling %s: %s", self.name, "; ".join(changes))
        self._last_key = key

    @property
    def source(self) -> str:
        """The generated program of the most recent compile, followed by the programs of
        every loop and branch body it runs. A function whose inputs all have known shapes
        is compiled for them first; otherwise call it (or `compile_for`) once."""
        if self.last_program is None:
            if not all(v.type.is_concrete for v in self.inputs):
                raise RuntimeError(f"{self.name} has not been compiled yet and its inputs have "
                                   f"unknown dims: call it once, or use .compile_for(*example_args)")
            self._compile_declared()
        return self._graph_note() + self.last_program.full_source

    def _graph_note(self) -> str:
        """The first line of `source` where CUDA graphs apply or were asked for."""
        if self._recordings is None:
            return (f"# CUDA graph: not captured: the function runs on {self.device.type}\n"
                    if self._graph_asked else "")
        recording = next(r for r in self._recordings.values() if r.program is self.last_program)
        return f"# CUDA graph: {recording.status()}\n"

    def cuda_graph_status(self) -> dict:
        """For each input signature compiled (its input shapes): 'captured', 'warming up
        (...)' or 'not captured: <why>' (see `function`'s cuda_graph)."""
        if self._recordings is None:
            why = "cuda_graph is off" if not self.cuda_graph else f"the function runs on {self.device.type}"
            return {tuple(tuple(s) for s in key[:self._nin]): f"not captured: {why}" for key in self._cache}
        return {tuple(tuple(s) for s in key[:self._nin]): r.status() for key, r in self._recordings.items()}

    def _compile_declared(self):
        key = tuple(torch.Size(v.type.shape) for v in self.inputs)
        key += tuple(s._value.shape for s in self._dyn_shared)
        self._compile(key, None, [s._value for s in self.shared])

    def estimate_memory(self, *args, **kwargs) -> dict:
        """Bytes this call would use, from example arguments' shapes, before running it:
        inputs, shared variables and the planned peak of intermediate buffers."""
        tensors = self._compile_example(args, kwargs)
        inputs = sum(t.numel() * t.element_size() for t in tensors)
        shared = sum(s._value.numel() * s._value.element_size() for s in self.shared)
        peak = self.last_program.plan.peak_bytes
        return {"inputs": inputs, "shared": shared, "intermediate_peak": peak,
                "total": inputs + shared + peak}

    def profile(self, *args, repeat: int = 10, warmup: int = 1, **kwargs):
        """Run the function on these arguments `warmup` times, then `repeat` times timing
        every instruction (loop bodies included), and return the table (compile.profile):
        op, attributes, layer, your line, calls, total and mean time, share, bytes
        allocated, and predicted against measured peak memory. It runs a separately built
        program (the normal one never pays for profiling) and applies no updates: shared
        variables are left as they were."""
        return profile_function(self, args, kwargs, repeat, warmup, explain=_explain)

    def compile_for(self, *args, **kwargs) -> "Function":
        """Compile for the shapes of these example arguments without running."""
        self._compile_example(args, kwargs)
        return self

    def _compile_example(self, args, kwargs) -> list:
        """Convert example arguments, make their program the last one; the tensors."""
        args = self._bind(args, kwargs) if kwargs or len(args) != self._nin else args
        tensors = [spec.convert(a) for spec, a in zip(self._specs, args)]
        key = tuple(t.shape for t in tensors) + tuple(s._value.shape for s in self._dyn_shared)
        if key not in self._cache:
            self._compile(key, tensors, [s._value for s in self.shared])
        else:
            self.last_program = self._cache[key]
        return tensors


def _update_pairs(updates) -> list:
    if updates is None:
        return []
    items = list(updates.items()) if isinstance(updates, dict) else list(updates)
    pairs, seen = [], set()
    for item in items:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise TypeError(f"updates must be (shared, value) pairs, got {item!r}")
        s, value = item
        if not isinstance(s, Shared):
            raise TypeError(f"updates: {s!r} is not a shared variable (make it with th.shared)")
        if id(s) in seen:
            raise ValueError(f"updates: shared {s.name!r} is updated twice")
        seen.add(id(s))
        value = as_variable(value)
        if not shapes_agree(value.type.shape, s.type.shape):
            raise InputError(f"update of shared {s.name!r} {format_shape(s.type.shape)} has shape "
                             f"{format_shape(value.type.shape)}")
        if value.dtype != s.dtype:
            # the rule arguments follow: Python scalars adapt, tensors must cast safely
            weak = isinstance(value, Constant) and value.weak
            if not weak and not np.can_cast(value.dtype, s.dtype, "safe"):
                raise InputError(f"update of shared {s.name!r} ({s.dtype}) has dtype {value.dtype}, "
                                 f"which does not cast safely; cast it explicitly "
                                 f"(value.astype({s.dtype!r}))")
            value = cast(value, s.dtype)
        pairs.append((s, value))
    return pairs


def _with_default_updates(pairs, outs) -> list:
    """Add the default updates (RNG counters) of shared variables the graph reads."""
    pairs = list(pairs)
    explicit = {id(s) for s, _ in pairs}
    pending = outs + [u for _, u in pairs]
    while True:
        added = False
        for s in graph_inputs(pending):
            if isinstance(s, Shared) and s.default_update is not None and id(s) not in explicit:
                explicit.add(id(s))
                pairs.append((s, s.default_update))
                pending.append(s.default_update)
                added = True
        if not added:
            return pairs


def _fit_update(s: Shared, value: Variable) -> Variable:
    if not s.type.is_concrete:
        return value
    if tuple(value.type.shape) != tuple(s.type.shape):
        raise InputError(f"update of shared {s.name!r} {format_shape(s.type.shape)} has shape "
                         f"{format_shape(value.type.shape)} for this call")
    return value


def _explain(program, error: Exception) -> Exception:
    """The run-time failure with the op, its input shapes and the user's line."""
    node = None
    programs = {p.filename: p for p in program.programs()}  # bodies fail inside their loop
    tb = error.__traceback__
    while tb is not None:
        inner = programs.get(tb.tb_frame.f_code.co_filename)
        if inner is not None:
            node = inner.line_nodes.get(tb.tb_lineno, node)
        tb = tb.tb_next
    if node is None:
        return error
    where = f"\n  at {node.loc}" if node.loc else ""
    if isinstance(error, TheonError):  # already clear: add the line if it lacks one
        msg = str(error.args[0]) if error.args else ""
        if "\n  at " not in msg and where:
            error.args = (f"{node.op.name}: {msg}{where}",)
        return error
    shapes = ", ".join(f"{format_shape(i.type.shape)} {i.dtype}" for i in node.inputs)
    return KernelError(f"{node.op} failed on inputs {shapes}: {type(error).__name__}: {error}{where}")
