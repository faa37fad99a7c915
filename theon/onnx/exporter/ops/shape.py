"""Shape ops: reshape, transpose, (un)squeeze, broadcast, join/split, dims as scalars, and
the identities (a layer's output, stop_gradient, run-time checks: values pass unchanged)."""
from __future__ import annotations

import itertools

import numpy as np

from ....nn.layer import LayerOutput
from ....ops import assertion, broadcast, dims, gradient
from ....ops import shape as S
from ..registry import Unsupported, rule
from .common import INT_MAX, dim_of, reduce, shape_of, shape_vector, slice_, unsqueeze


@rule(LayerOutput, gradient.StopGradient, assertion.CheckDim)
def _same_value(ctx):
    return ctx.x(0)


@rule(assertion.Check)
def _check(ctx):
    return ctx.x(0)  # ONNX has no assertion: the value passes, the check is not exported


@rule(dims.ShapeOf)
def _shape_of(ctx):
    return dim_of(ctx, ctx.x(0), ctx.op.axis)


@rule(S.Reshape)
def _reshape(ctx):
    template = ctx.op.shape
    target = shape_vector(ctx, template, 1)
    # ONNX reads a 0 in the target as "copy this dim" unless allowzero (a symbolic dim may be 0)
    allowzero = 1 if (0 in template or None in template) else None
    return ctx.emit("Reshape", [ctx.x(0), target], allowzero=allowzero)


@rule(S.ReshapeLike)
def _reshape_like(ctx):
    return ctx.emit("Reshape", [ctx.x(0), shape_of(ctx, ctx.x(1))], allowzero=1)


@rule(S.Transpose)
def _transpose(ctx):
    return ctx.emit("Transpose", [ctx.x(0)], perm=list(ctx.op.axes))


@rule(S.ExpandDims)
def _expand_dims(ctx):
    return unsqueeze(ctx, ctx.x(0), ctx.op.axes)


@rule(S.Squeeze)
def _squeeze(ctx):
    if not ctx.op.axes:
        return ctx.x(0)
    return ctx.emit("Squeeze", [ctx.x(0), ctx.ints(ctx.op.axes)])


@rule(S.Concatenate)
def _concatenate(ctx):
    return ctx.emit("Concat", ctx.xs(), axis=ctx.op.axis)


@rule(S.Stack)
def _stack(ctx):
    return ctx.emit("Concat", [unsqueeze(ctx, x, [ctx.op.axis]) for x in ctx.xs()], axis=ctx.op.axis)


@rule(S.Split)
def _split(ctx):
    op, x = ctx.op, ctx.x(0)
    n = ctx.shape()[op.axis]
    if n is not None and op.sections:
        size = op.bounds(n)[0][1]  # (checks that the sections are equal)
        if op.nout == 1:
            return ctx.emit("Identity", [x])
        return ctx.emit("Split", [x, ctx.ints([size] * op.nout)], n_out=op.nout, axis=op.axis)
    if n is not None:
        bounds = op.bounds(n)
    elif not op.sections:  # cut at indices: Slice clamps them as Python does
        cuts = [0, *op.indices, INT_MAX]
        bounds = list(itertools.pairwise(cuts))
    elif ctx.opset >= 18:
        return ctx.emit("Split", [x], n_out=op.nout, axis=op.axis, num_outputs=op.sections) \
            if op.nout > 1 else ctx.emit("Identity", [x])
    else:
        raise Unsupported("equal sections of a dim unknown until the call need opset 18")
    pieces = [slice_(ctx, x, [a], [b], [op.axis]) for a, b in bounds]
    return pieces


@rule(S.Piece)
def _piece(ctx):
    op, g = ctx.op, ctx.x(0)
    if op.stacked:
        return ctx.emit("Gather", [g, ctx.const(np.int64(op.index))], axis=op.axis)
    sizes = [ctx.shape(1 + j)[op.axis] for j in range(op.index + 1)]
    if None not in sizes:
        start = sum(sizes[:-1])
        return slice_(ctx, g, [start], [start + sizes[-1]], [op.axis])
    lengths = [unsqueeze(ctx, dim_of(ctx, ctx.x(1 + j), op.axis), [0]) for j in range(op.index + 1)]
    start = ctx.ints([0])
    for length in lengths[:-1]:
        start = ctx.emit("Add", [start, length])
    return slice_(ctx, g, start, ctx.emit("Add", [start, lengths[-1]]), [op.axis])


@rule(broadcast.BroadcastTo)
def _broadcast_to(ctx):
    return ctx.emit("Expand", [ctx.x(0), shape_vector(ctx, ctx.op.shape, 1)])


@rule(broadcast.BroadcastLike)
def _broadcast_like(ctx):
    return ctx.emit("Expand", [ctx.x(0), shape_of(ctx, ctx.x(1))])


@rule(broadcast.SumToLike)
def _sum_to_like(ctx):
    g_shape, like_shape = ctx.shape(0), ctx.shape(1)
    lead = len(g_shape) - len(like_shape)
    axes = list(range(lead))
    for i, d in enumerate(like_shape):
        if d is None:
            if g_shape[lead + i] != 1:
                raise Unsupported("summing a gradient back over a dim unknown until the call")
        elif d == 1 and g_shape[lead + i] != 1:
            axes.append(lead + i)
    g = reduce(ctx, "ReduceSum", ctx.x(0), axes, True) if axes else ctx.x(0)
    return ctx.emit("Reshape", [g, shape_of(ctx, ctx.x(1))], allowzero=1)
