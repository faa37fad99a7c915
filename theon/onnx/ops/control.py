"""ONNX control flow as theon's own: If -> th.cond, Loop -> th.while_loop (or th.scan when it
has scan outputs and a trip count known when building), Scan -> th.scan. Subgraphs are
converted inside the traced bodies, so they read outer-scope values directly."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from ...control import cond as th_cond
from ...control import scan as th_scan
from ...control import while_loop as th_while_loop
from ...errors import TheonError
from ...graph import Constant, Shared, Variable
from ...ops.assertion import check, check_dim
from ..importer.names import free_names
from . import converter


def _scalar(v):
    return T.reshape(v, ()) if v.ndim else v


def _operands(ctx, graphs):
    """Outer values the branches read that are computed (not constants or weights): they
    enter th.cond as operands, so the branches' work stays inside the branch taken."""
    names = sorted(set().union(*[free_names(g) for g in graphs]))
    out = []
    for name in names:
        v = ctx.scope.get(name)
        if isinstance(v, Variable) and not isinstance(v, (Constant, Shared)):
            out.append((name, v))
    return out


@converter("If")
def if_(ctx):
    then_g, else_g = ctx.attr("then_branch"), ctx.attr("else_branch")
    known = ctx.static(0)
    if known is not None:
        return ctx.subgraph(then_g if bool(np.asarray(known).reshape(-1)[0]) else else_g, [])
    pred = _scalar(ctx.x(0))
    if pred.dtype != "bool":
        pred = T.cast_to(pred, "bool")
    operands = _operands(ctx, [then_g, else_g])
    names = [n for n, _ in operands]
    then_out = []

    def true_fn(*vs):
        out = tuple(ctx.subgraph(then_g, [], dict(zip(names, vs))))
        then_out[:] = out
        return out

    def false_fn(*vs):
        out = tuple(ctx.subgraph(else_g, [], dict(zip(names, vs))))
        return tuple(_like(o, t) for o, t in zip(out, then_out))

    try:
        return list(th_cond(pred, true_fn, false_fn, *[v for _, v in operands]))
    except (TheonError, TypeError) as e:
        if "branches give" not in str(e) and "returns" not in str(e):
            raise
        # the branches give tensors of different ranks (torch's squeeze-if-size-1 exports):
        # build one branch (the importer retries the other if the graph after it cannot be
        # built) and check, when running, that the input takes that branch
        take_then = ctx.importer.choose_branch(ctx.node)
        message = (f"{ctx.importer.source}: node {ctx.node.name!r} (If) was imported for its "
                   f"{'then' if take_then else 'else'}-branch because its branches give tensors "
                   f"of different ranks; this input takes the other branch, which theon cannot "
                   f"run in the same graph")
        test = ctx.importer.dim_tests.get(ctx.node.inputs[0])
        if take_then and test is not None:
            # the branch holds when x.shape[axis] == size: build it for that size, so that it
            # also compiles (untaken) for inputs of other sizes
            x, axis, size = test
            names = [n for n in ctx.scope.chain_names() if ctx.scope.get(n) is x]
            if names:
                fixed = check_dim(x, axis, size, message)
                return ctx.subgraph(then_g, [], {n: fixed for n in names})
        ok = pred if take_then else T.logical_not(pred)
        return [check(v, ok, message) for v in ctx.subgraph(then_g if take_then else else_g, [])]


def _like(v, like):
    """Branch outputs must share a dtype; ONNX allows the else side to differ in rank only
    when shapes are unknown, so just cast."""
    return T.cast_to(v, like.dtype) if v.dtype != like.dtype else v


@converter("Loop")
def loop(ctx):
    body = ctx.attr("body")
    n_carried = len(ctx.node.inputs) - 2
    n_scan = len(body.output) - 1 - n_carried
    max_trip = ctx.static(0) if ctx.has(0) else None
    if ctx.has(0) and max_trip is None:
        trip = _scalar(T.cast_to(ctx.x(0), "int64"))
    else:
        trip = None
    carried = [ctx.x(2 + k) for k in range(n_carried)]
    init_cond = _scalar(ctx.x(1)) if ctx.has(1) else None
    if n_scan:
        if max_trip is None:   # scan outputs' length: the error names M for the backend to fix
            max_trip = ctx.const(0, "the trip count of a Loop with scan outputs")
        steps = int(np.asarray(max_trip).reshape(-1)[0])
        if init_cond is not None and ctx.static(1) is not None and not bool(np.asarray(ctx.static(1)).reshape(-1)[0]):
            steps = 0

        def step(carry, i):
            outs = ctx.subgraph(body, [T.cast_to(i, "int64"), T.as_variable(np.bool_(True))] + list(carry))
            return tuple(outs[1:1 + n_carried]), tuple(outs[1 + n_carried:])

        final, ys = th_scan(step, tuple(carried), T.as_variable(np.arange(steps, dtype=np.int64)))
        return list(final) + list(ys)
    i0 = T.as_variable(np.int64(0))
    c0 = init_cond if init_cond is not None else T.as_variable(np.bool_(True))
    limit = None if max_trip is None else int(np.asarray(max_trip).reshape(-1)[0])

    def cond_fn(i, c, *v):
        ok = c
        if trip is not None:
            ok = T.logical_and(ok, T.less(i, trip))
        return ok

    def body_fn(i, c, *v):
        outs = ctx.subgraph(body, [i, c] + list(v))
        new_c = T.cast_to(_scalar(outs[0]), "bool")
        return (i + np.int64(1), new_c, *[_like(o, old) for o, old in zip(outs[1:1 + n_carried], v)])

    state = th_while_loop(cond_fn, body_fn, (i0, c0, *carried), max_iters=limit)
    return list(state[2:])


@converter("Scan")
def scan(ctx):
    body = ctx.attr("body")
    n_scan_in = ctx.attr("num_scan_inputs")
    if ctx.opset < 9:
        return _scan_batched(ctx, body, n_scan_in)
    xs_all = ctx.xs()
    n_state = len(xs_all) - n_scan_in
    states, seqs = xs_all[:n_state], xs_all[n_state:]
    in_axes = ctx.attr("scan_input_axes", [0] * n_scan_in)
    in_dirs = ctx.attr("scan_input_directions", [0] * n_scan_in)
    n_out = len(body.output) - n_state
    out_axes = ctx.attr("scan_output_axes", [0] * n_out)
    out_dirs = ctx.attr("scan_output_directions", [0] * n_out)
    moved = []
    for x, a, d in zip(seqs, in_axes, in_dirs):
        x = T.moveaxis(x, a % x.ndim, 0) if a % x.ndim else x
        moved.append(T.flip(x, axis=0) if d else x)

    def step(carry, xs):
        outs = ctx.subgraph(body, list(carry) + list(xs))
        return tuple(_like(o, c) for o, c in zip(outs[:n_state], carry)), tuple(outs[n_state:])

    final, ys = th_scan(step, tuple(states), tuple(moved))
    results = list(final)
    for y, a, d in zip(ys, out_axes, out_dirs):
        if d:
            y = T.flip(y, axis=0)
        a = a % y.ndim
        results.append(T.moveaxis(y, 0, a) if a else y)
    return results


def _scan_batched(ctx, body, n_scan_in):
    """Scan before opset 9: every state and scan input has a leading batch dim, scanned
    along dim 1 one batch element at a time (the body sees one element's slices)."""
    if ctx.has(0):
        ctx.fail("Scan before opset 9 with sequence_lens is not supported (only full-length sequences)")
    xs_all = [ctx.x(i) for i in range(1, ctx.n_in)]
    n_state = len(xs_all) - n_scan_in
    batch = xs_all[0].type.shape[0]
    if batch is None:
        ctx.fail(f"Scan before opset 9 needs the batch size known when building, got {xs_all[0].type}")
    dirs = ctx.attr("directions", [0] * n_scan_in)
    per_element = []
    for b in range(batch):
        states = [v[b] for v in xs_all[:n_state]]
        seqs = [T.flip(v[b], axis=0) if d else v[b] for v, d in zip(xs_all[n_state:], dirs)]

        def step(carry, xs):
            outs = ctx.subgraph(body, list(carry) + list(xs))
            return tuple(_like(o, c) for o, c in zip(outs[:n_state], carry)), tuple(outs[n_state:])

        final, ys = th_scan(step, tuple(states), tuple(seqs))
        per_element.append(list(final) + list(ys))
    return [T.stack(list(outs), axis=0) for outs in zip(*per_element)]
