"""From a graph and concrete input shapes to a runnable Program: specialise, optimise,
schedule, plan memory, generate. Used by `Function` and by control-flow bodies."""
from __future__ import annotations

import time

from ..graph import TensorType, Variable, toposort
from .codegen import Program, generate
from .memory import plan as plan_memory
from .pipeline import optimize


def build_program(params, shapes, outputs, updates, device, name: str = "program",
                  check_updates=None, nan_guard: bool = False) -> Program:
    """Compile `outputs` (and update values) as a function of `params`.

    shapes: the concrete shape of each param for this program (params whose type is
    already concrete may be given their own shape). check_updates(optimized_updates), if
    given, validates the specialised update values before code generation.
    """
    start = time.perf_counter()
    mapping, concrete = {}, []
    for p, shape in zip(params, shapes):
        shape = tuple(shape)
        if p.type.shape == shape:
            concrete.append(p)
        else:
            v = Variable(TensorType(p.dtype, shape), name=p.name, loc=p.loc)
            mapping[p] = v
            concrete.append(v)
    results = list(outputs) + list(updates)
    optimized, report = optimize(results, mapping)
    outs, upds = optimized[:len(outputs)], optimized[len(outputs):]
    if check_updates is not None:
        check_updates(upds)
    schedule = toposort(outs + upds)
    memory = plan_memory(schedule, concrete, outs + upds)
    program = generate(concrete, outs, upds, schedule, memory, device, name=_ident(name),
                       nan_guard=nan_guard)
    program.report = report
    program.compile_seconds = time.perf_counter() - start
    return program


def _ident(name: str) -> str:
    text = "".join(ch if ch.isalnum() else "_" for ch in name)
    return text if text and not text[0].isdigit() else f"f_{text}"
