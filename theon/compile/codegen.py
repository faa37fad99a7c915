"""Generate the straight-line Python program a compiled function runs.

Code generation has two steps. `lower` turns the schedule and memory plan into a list of
`Instruction`s: one kernel call per node, with `out=` where the plan reuses a dead buffer
and the buffers to drop after it. `render` writes them out as Python: a header listing the
constants, then one line per instruction annotated with the op, its attributes, the
output types, the layer and the user's line. Debug features (the NaN guard, the profiler)
are `Hook`s that add lines around instructions; the program itself knows nothing of them.
"""
from __future__ import annotations

import functools
import itertools
import linecache
from dataclasses import MISSING, dataclass, field, fields

import numpy as np
import torch

from ..graph import Constant
from .memory import MemoryPlan

_program_ids = itertools.count()
_MAX_NOTE = 100          # characters of op attributes shown per line
_MAX_SHOWN_ELEMENTS = 8  # constants up to this size are printed with their values


@dataclass
class Instruction:
    """One kernel call of the program."""
    node: object              # the graph node it computes
    callee: str               # the name called (a torch function or a bound kernel)
    args: list                # argument names
    kwargs: list              # "out=v3", "device=device"
    targets: list             # names bound to the outputs
    frees: list = field(default_factory=list)   # names dropped after the call
    bodies: list = field(default_factory=list)  # names of compiled loop/branch bodies used

    def call(self) -> str:
        return f"{self.callee}({', '.join(self.args + self.kwargs)})"


@dataclass
class Program:
    run: object            # the compiled callable: (*params) -> (outputs, updates) or, for a
    #                        body, (*params) -> outputs
    source: str            # this program's source (bodies excluded; see full_source)
    line_nodes: dict       # source line number -> node (to explain run-time failures)
    filename: str
    schedule: list
    plan: MemoryPlan
    name: str = "program"
    output_types: list = field(default_factory=list)
    children: list = field(default_factory=list)   # compiled loop and branch bodies, in the
    #                                                order of the schedule's nodes that run them
    outputs: list = field(default_factory=list)    # the optimised output variables
    update_values: list = field(default_factory=list)  # and update values (for printing)
    static: object = None          # the program of the work on shared variables alone, run
    #                                once per value of them (compile/hoist.py), or None
    report: object = None          # the pass pipeline's timings and fired rules
    compile_seconds: float = 0.0

    @property
    def full_source(self) -> str:
        """This program followed by every body it runs, nested bodies included."""
        parts = [self.source] + ([self.static.source] if self.static is not None else [])
        for child in self.children:
            parts.append(child.full_source)
        return "\n".join(parts)

    def programs(self):
        """This program and every body below it."""
        yield self
        if self.static is not None:
            yield self.static
        for child in self.children:
            yield from child.programs()


class Lowering:
    """Names and namespace entries shared while lowering one program."""

    def __init__(self, device, body_programs: dict, reserved=()):
        self.device = device
        self.namespace: dict = {"torch": torch, "device": device}
        self.names: dict = {}
        self.taken: set = {"torch", "device", *reserved}   # every name the program binds
        self.constants: list = []      # (name, Constant)
        self.kernels: dict = {}
        self.counter = itertools.count()
        self.body_programs = body_programs   # id(node) -> [Program] for control-flow nodes

    def fresh(self, name: str) -> str:
        """`name`, or `name_`, `name__`...: unique among the program's names (an input named
        like a kernel must not shadow it)."""
        while name in self.taken:
            name += "_"
        self.taken.add(name)
        return name

    def ref(self, v) -> str:
        n = self.names.get(id(v))
        if n is None:
            if not isinstance(v, Constant):
                raise AssertionError(f"{v} used before it is computed")
            n = self.fresh(f"c{len(self.constants)}")
            self.namespace[n] = v.tensor(self.device)
            self.names[id(v)] = n
            self.constants.append((n, v))
        return n

    def callee(self, node) -> str:
        """The name generated code calls for this node's op."""
        op = node.op
        bodies = self.body_programs.get(id(node))
        if bodies:
            key = ("node", id(node))
            fn = functools.partial(op.kernel, bodies=tuple(bodies))
            label = op.name
        elif op.torch_fn is not None and not fields(op):
            fn = op.torch_fn
            key = ("fn", fn)
            label = getattr(fn, "__name__", "fn")
        else:
            key = ("op", op)
            fn = op.kernel
            label = op.name
        n = self.kernels.get(key)
        if n is None:
            n = self.fresh(f"{identifier(label, 'k')}_{len(self.kernels)}")
            self.kernels[key] = n
            self.namespace[n] = fn
        return n


def lower(params, schedule, plan: MemoryPlan, low: Lowering, static=()) -> list:
    """The instruction list for `schedule` under `plan` (`static`: values the program gets
    from its static cache before the first instruction)."""
    for i, p in enumerate(params):
        low.names[id(p)] = low.fresh(f"{identifier(p.name, 'in')}_{i}")
    for i, v in enumerate(static):
        low.names[id(v)] = low.fresh(f"s{i}")
    instructions = []
    for i, node in enumerate(schedule):
        args = [low.ref(v) for v in node.inputs]
        kwargs = []
        if node.op.needs_device:
            kwargs.append("device=device")
        reuse = plan.reuse.get(i)
        if reuse is not None:
            kwargs.append(f"out={low.names[id(reuse)]}")
        if i in plan.inplace:
            kwargs.append("inplace=True")
        targets = []
        for o in node.outputs:
            n = low.fresh(f"v{next(low.counter)}")
            low.names[id(o)] = n
            targets.append(n)
        frees = [low.names[id(v)] for v in plan.frees.get(i, ()) if id(v) in low.names]
        bodies = [p.name for p in low.body_programs.get(id(node), ())]
        instructions.append(Instruction(node, low.callee(node), args, kwargs, targets, frees, bodies))
    return instructions


def generate(params, outputs, updates, schedule, plan: MemoryPlan, device: torch.device,
             name: str = "program", hooks=(), body_programs=None, is_body: bool = False,
             static=None) -> Program:
    """Lower, render and load a program. `body_programs` maps id(node) of each control-flow
    node to its compiled bodies; `is_body` programs return only their outputs. `static`:
    (values, the params they are computed from, a hoist.StaticCache giving them)."""
    hooks = list(hooks)
    reserved = {name, "static_cache"}.union(*(hook.names() for hook in hooks)) if hooks else {name, "static_cache"}
    low = Lowering(device, body_programs or {}, reserved)
    static_values, static_params, cache = static if static is not None else ((), (), None)
    instructions = lower(params, schedule, plan, low, static_values)
    param_names = [low.names[id(p)] for p in params]
    out_refs = [f"{low.ref(v)}.clone()" if id(v) in plan.aliases_external or isinstance(v, Constant)
                else low.ref(v) for v in outputs]
    upd_refs = [low.ref(v) for v in updates]
    for hook in hooks:
        low.namespace.update(hook.namespace(params, param_names, schedule))

    lines = _constant_lines(low.constants) + [f"def {name}({', '.join(param_names)}):"]
    line_nodes: dict = {}
    for hook in hooks:
        lines += [f"    {text}" for text in hook.prologue(params, param_names)]
    if static_values:
        low.namespace["static_cache"] = cache
        targets = "".join(low.names[id(v)] + ", " for v in static_values)
        lines.append(f"    ({targets}) = static_cache({', '.join(low.names[id(p)] for p in static_params)})"
                     f"  # work on shared variables alone: {cache.program.name}, rerun when they change")
    for index, ins in enumerate(instructions):
        for hook in hooks:
            lines += [f"    {text}" for text in hook.before(index, ins)]
        target = ", ".join(ins.targets)
        lines.append(f"    {target} = {ins.call()}  # {annotation(ins)}")
        line_nodes[len(lines)] = ins.node
        for hook in hooks:
            lines += [f"    {text}" for text in hook.after(index, ins)]
        if ins.frees:
            lines.append(f"    del {', '.join(ins.frees)}")
    outs = "".join(r + ", " for r in out_refs)
    lines.append(f"    return ({outs})" if is_body else
                 f"    return ({outs}), ({''.join(r + ', ' for r in upd_refs)})")
    source = "\n".join(lines) + "\n"
    filename = f"<theon:{name}:{next(_program_ids)}>"
    exec(compile(source, filename, "exec"), low.namespace)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    children = [p for programs in (body_programs or {}).values() for p in programs]
    return Program(low.namespace[name], source, line_nodes, filename, schedule, plan, name,
                   [v.type for v in outputs], children, list(outputs), list(updates))


def annotation(ins: Instruction) -> str:
    """`conv2d(stride=(1, 1)) -> float32[64, 6, 28, 28]  [conv2d_1] lenet.py:12`."""
    node = ins.node
    text = f"{_op_text(node.op, ins.bodies)} -> {_types_text([o.type for o in node.outputs])}"
    loc = node.loc
    if loc is not None:
        if loc.scope:
            text += f"  [{loc.scope}]"
        text += f"  {loc.filename.rsplit('/', 1)[-1]}:{loc.lineno}"
        if loc.role:
            text += f" ({loc.role})"
    return _one_line(text)


def _op_text(op, bodies) -> str:
    """`name(attr=value, ...)` with the attributes that differ from their defaults, then
    the compiled bodies the op runs."""
    attrs = []
    body_fields = {id(b) for b in op.bodies()}
    for f in fields(op):
        value = getattr(op, f.name)
        if id(value) in body_fields or not f.repr:  # repr=False: bookkeeping, not an attribute
            continue
        if f.default is not MISSING and _same(value, f.default):
            continue
        attrs.append(f"{f.name}={value!r}")
    text = ", ".join(attrs)
    if len(text) > _MAX_NOTE:
        text = text[:_MAX_NOTE - 3] + "..."
    text = f"{op.name}({text})" if text else op.name
    return f"{text} [{', '.join(bodies)}]" if bodies else text


def _same(value, default) -> bool:
    try:
        return bool(value == default)
    except Exception:  # values whose == is not a plain bool (arrays) are always shown
        return False


def _types_text(types) -> str:
    texts = [str(t) for t in types]
    return texts[0] if len(texts) == 1 else f"({', '.join(texts)})"


def _constant_lines(constants) -> list:
    if not constants:
        return []
    lines = ["# constants:"]
    for n, c in constants:
        if c.value.size <= _MAX_SHOWN_ELEMENTS:
            shown = np.array2string(c.value, separator=", ").replace("\n", " ")
            lines.append(_one_line(f"#   {n} = {shown}  {c.type}"))
        else:
            lines.append(f"#   {n}: {c.type}")
    return lines


def _one_line(text: str) -> str:
    return text.replace("\n", " ").replace("\r", " ")


def identifier(label, default) -> str:
    """A Python identifier made from a user's label: ASCII letters, digits and '_' only."""
    text = "".join(ch if ch.isascii() and ch.isalnum() else "_" for ch in (label or default))
    return text if text and not text[0].isdigit() else f"{default}_{text}"
