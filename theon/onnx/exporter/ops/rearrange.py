"""Ops that move or copy elements: flip, roll, tile, repeat, pad, crop. Padding modes ONNX
lacks (NumPy's symmetric, and reflect or wrap wider than the dim) gather the source
positions theon's own kernel uses, which needs the dim known when exporting."""
from __future__ import annotations

import numpy as np

from ....ops import rearrange as A
from ..registry import rule
from .common import INT_MAX, INT_MIN, dim_of, shape_of, slice_, unsqueeze


@rule(A.Flip)
def _flip(ctx):
    k = len(ctx.op.axes)
    return slice_(ctx, ctx.x(0), [-1] * k, [INT_MIN] * k, ctx.op.axes, [-1] * k)


def _roll_axis(ctx, x: str, shift: int, axis: int, n) -> str:
    """x rolled by `shift` along `axis` of size n (an int, or None: read when running)."""
    if n is not None:
        k = shift % n if n else 0
        if k == 0:
            return x
        return ctx.emit("Concat", [slice_(ctx, x, [n - k], [INT_MAX], [axis]),
                                   slice_(ctx, x, [0], [n - k], [axis])], axis=axis)
    size = unsqueeze(ctx, dim_of(ctx, x, axis), [0])
    cut = ctx.emit("Sub", [size, ctx.emit("Mod", [ctx.ints([shift]), size])])
    return ctx.emit("Concat", [slice_(ctx, x, cut, [INT_MAX], [axis]),
                               slice_(ctx, x, [0], cut, [axis])], axis=axis)


@rule(A.Roll)
def _roll(ctx):
    x, op, shape = ctx.x(0), ctx.op, ctx.shape()
    if op.axes is None:  # the flattened tensor rolled, then given its shape back
        total = int(np.prod(shape)) if None not in shape else None
        flat = ctx.emit("Reshape", [x, ctx.ints([-1])])
        rolled = _roll_axis(ctx, flat, sum(op.shifts), 0, total)
        return ctx.emit("Reshape", [rolled, shape_of(ctx, x)])
    for shift, axis in zip(op.shifts, op.axes):
        x = _roll_axis(ctx, x, shift, axis, shape[axis])
    return x if x != ctx.x(0) else ctx.emit("Identity", [x])


@rule(A.Tile)
def _tile(ctx):
    return ctx.emit("Tile", [ctx.x(0), ctx.ints(ctx.op.reps)])


@rule(A.Repeat)
def _repeat(ctx):
    x, r, axis = ctx.x(0), ctx.op.repeats, ctx.op.axis
    if isinstance(r, tuple):  # a count per slice: gather each slice's position that many times
        positions = np.repeat(np.arange(len(r), dtype=np.int64), np.asarray(r, dtype=np.int64))
        return ctx.emit("Gather", [x, ctx.const(positions)], axis=axis)
    ndim = len(ctx.shape())
    tiled = ctx.emit("Tile", [unsqueeze(ctx, x, [axis + 1]),
                              ctx.ints([r if i == axis + 1 else 1 for i in range(ndim + 1)])])
    target = ctx.emit("Mul", [shape_of(ctx, x), ctx.ints([r if i == axis else 1 for i in range(ndim)])])
    return ctx.emit("Reshape", [tiled, target], allowzero=1)


def _pad_positions(ctx, x: str, axis: int, before: int, after: int, mode: str) -> str:
    """The source position of each padded place along `axis` of a dim known when running
    (theon's own rule, rearrange._pad_index): int64, for Gather."""
    n = ctx.emit("Gather", [shape_of(ctx, x), ctx.const(np.int64(axis))], axis=0)
    p = ctx.emit("Range", [ctx.const(np.int64(-before)), ctx.emit("Add", [n, ctx.const(np.int64(after))]),
                           ctx.const(np.int64(1))])
    one, two = ctx.const(np.int64(1)), ctx.const(np.int64(2))
    if mode == "edge":
        return ctx.emit("Clip", [p, ctx.const(np.int64(0)), ctx.emit("Sub", [n, one])])
    if mode == "wrap":
        return ctx.emit("Mod", [p, n])
    period = ctx.emit("Mul", [n, two])
    if mode == "reflect":  # period 2n - 2 (1 when n is 1: every place reads position 0)
        period = ctx.emit("Max", [ctx.emit("Sub", [period, two]), one])
    q = ctx.emit("Mod", [p, period])
    mirrored = ctx.emit("Sub", [ctx.emit("Sub", [period, q]), one if mode == "symmetric" else ctx.const(np.int64(0))])
    return ctx.emit("Where", [ctx.emit("Less", [q, n]), q, mirrored])


@rule(A.Pad)
def _pad(ctx):
    x, op, shape = ctx.x(0), ctx.op, ctx.shape()
    if op.mode == "constant":
        pads = [b for b, _ in op.widths] + [a for _, a in op.widths]
        value = ctx.scalar(op.value, ctx.dtype())
        return ctx.emit("Pad", [x, ctx.ints(pads), value], mode="constant")
    # NumPy's modes, widths wider than the dim included: gather the source positions
    for axis, (b, a) in enumerate(op.widths):
        if b or a:
            if shape[axis] is not None:
                idx = ctx.const(A._pad_index(shape[axis], b, a, op.mode, "cpu").numpy().astype(np.int64))
            else:
                idx = _pad_positions(ctx, x, axis, b, a, op.mode)
            x = ctx.emit("Gather", [x, idx], axis=axis)
    return x


@rule(A.Crop)
def _crop(ctx):
    axes = [i for i, (b, a) in enumerate(ctx.op.widths) if b or a]
    if not axes:
        return ctx.x(0)
    starts = [ctx.op.widths[i][0] for i in axes]
    ends = [-ctx.op.widths[i][1] if ctx.op.widths[i][1] else INT_MAX for i in axes]
    return slice_(ctx, ctx.x(0), starts, ends, axes)
