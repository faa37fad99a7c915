"""Generate the straight-line Python program a compiled function runs.

Every node becomes one line calling its kernel (a torch function where the op has one),
with `out=` where the memory plan reuses a dead buffer and a `del` after each buffer's
last use. The program is plain Python, printable as `f.source`.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, fields

import torch

from ..graph import Constant
from .memory import MemoryPlan

_program_ids = itertools.count()


@dataclass
class Program:
    run: object            # the compiled callable: (*params) -> (outputs, updates)
    source: str
    line_nodes: dict       # source line number -> node (to explain run-time failures)
    filename: str
    schedule: list
    plan: MemoryPlan
    report: object = None          # the pass pipeline's timings and fired rules
    compile_seconds: float = 0.0


def generate(params, outputs, updates, schedule, plan: MemoryPlan, device: torch.device,
             name: str = "program", nan_guard: bool = False) -> Program:
    names: dict = {}
    namespace: dict = {"torch": torch, "device": device, "_finite": _finite_check(schedule)}
    lines: list = []
    line_nodes: dict = {}
    counter = itertools.count()

    for i, p in enumerate(params):
        names[id(p)] = f"{_ident(p.name, 'in')}_{i}"

    def ref(v):
        n = names.get(id(v))
        if n is None:
            if not isinstance(v, Constant):
                raise AssertionError(f"{v} used before it is computed")
            n = f"c{next(counter)}"
            namespace[n] = v.tensor(device)
            names[id(v)] = n
        return n

    kernels: dict = {}
    for i, node in enumerate(schedule):
        op = node.op
        args = [ref(v) for v in node.inputs]
        callee = _callee(op, namespace, kernels)
        kw = []
        if op.needs_device:
            kw.append("device=device")
        reuse = plan.reuse.get(i)
        if reuse is not None:
            kw.append(f"out={names[id(reuse)]}")
        outs = []
        for o in node.outputs:
            n = f"v{next(counter)}"
            names[id(o)] = n
            outs.append(n)
        target = outs[0] if len(outs) == 1 else ", ".join(outs)
        call = f"{callee}({', '.join(args + kw)})"
        lines.append(f"    {target} = {call}  # {op.name}" + (f"  {node.loc.filename.rsplit('/', 1)[-1]}:{node.loc.lineno}" if node.loc else ""))
        line_nodes[len(lines) + 1] = node
        if nan_guard:
            for o, n in zip(node.outputs, outs):
                if o.dtype.startswith("float") or o.dtype.startswith("complex"):
                    lines.append(f"    _finite({n}, {i})")
        dead = [names[id(v)] for v in plan.frees.get(i, ()) if id(v) in names]
        if dead:
            lines.append(f"    del {', '.join(dead)}")

    out_refs = [f"{ref(v)}.clone()" if id(v) in plan.aliases_external or isinstance(v, Constant)
                else ref(v) for v in outputs]
    upd_refs = [ref(v) for v in updates]
    lines.append(f"    return ({''.join(r + ', ' for r in out_refs)}), ({''.join(r + ', ' for r in upd_refs)})")
    header = f"def {name}({', '.join(names[id(p)] for p in params)}):"
    source = "\n".join([header] + lines) + "\n"
    filename = f"<theon:{name}:{next(_program_ids)}>"
    code = compile(source, filename, "exec")
    exec(code, namespace)
    _register_source(filename, source)
    return Program(namespace[name], source, line_nodes, filename, schedule, plan)


def _finite_check(schedule):
    """The NaN guard: raise at the first node whose output holds a NaN or an infinity."""
    def check(t, i):
        if not bool(torch.isfinite(t).all()):
            from ..errors import NonFiniteError
            from ..graph.types import format_shape
            node = schedule[i]
            kind = "NaN" if bool(torch.isnan(t).any()) else "infinity"
            shapes = ", ".join(format_shape(v.type.shape) for v in node.inputs)
            where = f"\n  at {node.loc}" if node.loc else ""
            raise NonFiniteError(f"{node.op} made the first {kind} (inputs {shapes}){where}")
    return check


def _callee(op, namespace, kernels) -> str:
    """The name generated code calls for this op: its torch function, or its bound kernel."""
    fn = op.torch_fn
    if fn is not None and not fields(op):
        key = ("fn", fn)
        label = getattr(fn, "__name__", "fn")
    else:
        key = ("op", op)
        fn = op.kernel
        label = op.name
    n = kernels.get(key)
    if n is None:
        n = f"{_ident(label, 'k')}_{len(kernels)}"
        kernels[key] = n
        namespace[n] = fn
    return n


def _ident(label, default) -> str:
    text = "".join(ch if ch.isalnum() else "_" for ch in (label or default))
    return text if text and not text[0].isdigit() else f"{default}_{text}"


def _register_source(filename, source):
    """Make tracebacks through generated code show its lines."""
    import linecache
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
