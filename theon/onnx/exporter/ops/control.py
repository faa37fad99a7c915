"""Control flow: `cond` as If, `scan` as Scan (or as Loop when it has no sequences, which
Scan needs to count its steps), `while_loop` as Loop. Bodies become subgraphs; what a body
reads from outside (its closure) it reads as an outer-scope value, as ONNX allows."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from ....control.cond import Cond
from ....control.scan import Scan
from ....control.while_loop import While
from ..registry import rule
from .common import INT_MIN, as_int64, slice_


def _bind(graph, variables, names) -> None:
    for v, n in zip(variables, names):
        graph.bind(v, n)


def _formal(graph, variables, label: str) -> list:
    return [graph.add_input(v, graph.ex.fresh(f"{graph.name}/{v.name or label}")) for v in variables]


@rule(Cond)
def _cond(ctx):
    op = ctx.op
    n, nt = op.n_operands, op.n_true_closure
    names = ctx.xs()
    operands, t_clo, f_clo = names[1:1 + n], names[1 + n:1 + n + nt], names[1 + n + nt:]
    branches = {}
    for key, body, closure in (("then_branch", op.true_body, t_clo), ("else_branch", op.false_body, f_clo)):
        g = ctx.body(key.split("_")[0])
        _bind(g, body.inputs, operands + closure)
        g.emit(body.outputs)
        g.set_outputs(body.outputs)
        branches[key] = g.proto()
    return ctx.emit("If", [names[0]], n_out=op.nout, **branches)


def _scan_body(ctx, op, closure: list, stepped: list, label: str):
    """The body graph of a Scan (stepped: formal inputs first) with the body's outputs and,
    with history, the carries it was given."""
    body = op.body
    nc, ns = op.n_carry, op.n_seq
    g = ctx.body(label)
    for formal in stepped:
        formal(g)
    carries = _formal(g, body.inputs[:nc], "carry")
    _formal(g, body.inputs[nc:nc + ns], "x")
    _bind(g, body.inputs[nc + ns:], closure)
    g.emit(body.outputs)
    outputs = list(body.outputs) + (list(body.inputs[:nc]) if op.history else [])
    g.set_outputs(outputs)
    return g, carries


@rule(Scan)
def _scan(ctx):
    op = ctx.op
    nc, ns = op.n_carry, op.n_seq
    names = ctx.xs()
    init, seqs = names[:nc], names[nc:nc + ns]
    closure = names[nc + ns + int(op.dynamic_length):]
    n_stacked = op.n_y + (nc if op.history else 0)
    if ns:
        g, _ = _scan_body(ctx, op, closure, [], "scan_body")
        directions = {"scan_input_directions": [1] * ns, "scan_output_directions": [1] * n_stacked} \
            if op.reverse else {}
        outs = ctx.emit("Scan", init + seqs, n_out=nc + n_stacked, body=g.proto(), num_scan_inputs=ns,
                        **directions)
        return outs if isinstance(outs, list) else [outs]
    # no sequences: a Loop of `length` steps (ONNX's Scan counts steps from its sequences)
    g, _ = _scan_body(ctx, op, closure, [
        lambda g: g.add_formal(g.ex.fresh(f"{g.name}/iteration"), TensorProto.INT64),
        lambda g: g.add_formal(g.ex.fresh(f"{g.name}/go"), TensorProto.BOOL)], "loop_body")
    # a Loop body returns its condition first: keep going (the trip count ends the loop)
    go_in = g.inputs[1].name
    g.nodes.insert(0, _identity(g, go_in, "go_on"))
    g.outputs.insert(0, _bool_info(g.nodes[0].output[0]))
    steps = as_int64(ctx, names[nc + ns], ctx.dtype(nc + ns)) if op.dynamic_length \
        else ctx.const(np.int64(op.length))
    outs = ctx.emit("Loop", [steps, "", *init], n_out=nc + n_stacked, body=g.proto())
    outs = outs if isinstance(outs, list) else [outs]
    if op.reverse:  # step s of a reverse scan fills position length-1-s
        outs = outs[:nc] + [slice_(ctx, y, [-1], [INT_MIN], [0], [-1]) for y in outs[nc:]]
    return outs


def _identity(g, name: str, label: str):
    out = g.ex.fresh(f"{g.name}/{label}")
    return helper.make_node("Identity", [name], [out], name=g.ex.fresh_node(f"{g.name}/{label}"))


def _bool_info(name: str):
    return helper.make_tensor_value_info(name, TensorProto.BOOL, [])


@rule(While)
def _while(ctx):
    op = ctx.op
    n, ncc = op.n_state, op.n_cond_closure
    names = ctx.xs()
    state, c_clo, b_clo = names[:n], names[n:n + ncc], names[n + ncc:]
    first = ctx.graph.inline()  # the first test, before any step
    _bind(first, op.cond_body.inputs, state + c_clo)
    (go,) = first.emit(op.cond_body.outputs)

    g = ctx.body("loop_body")
    g.add_formal(g.ex.fresh(f"{g.name}/iteration"), TensorProto.INT64)
    g.add_formal(g.ex.fresh(f"{g.name}/go"), TensorProto.BOOL)
    _formal(g, op.body.inputs[:n], "state")
    _bind(g, op.body.inputs[n:], b_clo)
    new_state = g.emit(op.body.outputs)
    _bind(g, op.cond_body.inputs, new_state + c_clo)
    g.emit(op.cond_body.outputs)
    g.set_outputs([op.cond_body.outputs[0]] + list(op.body.outputs))
    limit = ctx.const(np.int64(op.max_iters)) if op.max_iters is not None else ""
    outs = ctx.emit("Loop", [limit, go, *state], n_out=n, body=g.proto())
    return outs if isinstance(outs, list) else [outs]
