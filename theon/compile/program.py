"""From a graph and concrete input shapes to a runnable Program: specialise, optimise,
schedule, plan memory, compile the loop and branch bodies, generate. Used by `Function`
and, recursively, for the bodies themselves."""
from __future__ import annotations

import itertools
import time

from .. import config
from ..control import Cond
from ..graph import TensorType, Variable
from .codegen import Program, generate, identifier
from .hoist import StaticCache, split_static
from .memory import plan as plan_memory
from .memory import updates_in_place
from .pipeline import optimize
from .schedule import schedule as order_nodes


def build_program(params, shapes, outputs, updates, device, name: str = "program",
                  check_updates=None, hooks=(), is_body: bool = False, update_params=None,
                  static_from=None, _names=None) -> Program:
    """Compile `outputs` (and update values) as a function of `params`.

    shapes: the concrete shape of each param for this program (params whose type is
    already concrete may be given their own shape). check_updates(optimized_updates), if
    given, validates the specialised update values before code generation. hooks: debug
    hooks (compile.hooks) attached to every instruction, in bodies too. update_params: for
    each update value, the index in `params` of the shared variable it updates (lets
    optimiser steps write in place; never with hooks, which may stop a call midway).
    static_from: params from this index on are shared variables; a program without updates
    computes the work on them alone once per value of them (compile/hoist.py).
    """
    start = time.perf_counter()
    name = identifier(name, "f")
    names = _names if _names is not None else itertools.count(1)
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
    schedule = order_nodes(outs + upds)
    inplace = set()
    if update_params is not None and not hooks and config.INPLACE:
        schedule, inplace = updates_in_place(schedule, concrete, outs, upds, update_params)
    static = None
    if static_from is not None and not upds and config.HOIST_STATIC:
        static = _static_program(schedule, concrete[static_from:], outs, device, name, hooks)
    if static is not None:
        schedule = [n for n in schedule if id(n) not in static[3]]
    params_seen = concrete + (static[0] if static is not None else [])
    memory = plan_memory(schedule, params_seen, outs + upds)
    memory.inplace = inplace
    bodies = {}
    for node in schedule:
        graphs = node.op.bodies()
        if not graphs:
            continue
        types = node.op.body_input_types([i.type for i in node.inputs])
        # a branch's closure (its inputs after the operands) holds the outer values it reads,
        # the weights among them: its work on them alone is kept like the outer program's
        closure_from = node.op.n_operands if isinstance(node.op, Cond) else None
        bodies[id(node)] = [
            build_program(g.inputs, [t.shape for t in tys], g.outputs, [], device,
                          name=f"{name}__{g.label}_{next(names)}", hooks=hooks, is_body=True,
                          static_from=closure_from, _names=names)
            for g, tys in zip(graphs, types)]
    program = generate(concrete, outs, upds, schedule, memory, device, name=name, hooks=hooks,
                       body_programs=bodies, is_body=is_body, static=static and static[:3])
    program.static = static[2].program if static is not None else None
    program.report = report
    program.compile_seconds = time.perf_counter() - start
    return program


def _static_program(schedule, static_params, outputs, device, name, hooks):
    """(the values the main program reads from the static cache, the params they are made
    from, the StaticCache, ids of the moved nodes), or None when nothing is worth moving."""
    split = split_static(schedule, static_params, outputs)
    if split is None:
        return None
    moved, values = split
    if not values:
        return None
    read = {id(i) for n in moved for i in n.inputs}
    params = [p for p in static_params if id(p) in read]
    memory = plan_memory(moved, params, values)
    program = generate(params, values, [], moved, memory, device, name=f"{name}__static", hooks=hooks,
                       is_body=True)
    return values, params, StaticCache(program), {id(n) for n in moved}
