"""Ops that move or copy elements: flip, roll, tile, repeat, pad, crop. Padding modes ONNX
lacks (NumPy's symmetric, and reflect or wrap wider than the dim) gather the source
positions theon's own kernel uses, which needs the dim known when exporting."""
from __future__ import annotations

import numpy as np

from ....ops import rearrange as A
from ..registry import Unsupported, rule
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
    ndim = len(ctx.shape())
    tiled = ctx.emit("Tile", [unsqueeze(ctx, x, [axis + 1]),
                              ctx.ints([r if i == axis + 1 else 1 for i in range(ndim + 1)])])
    target = ctx.emit("Mul", [shape_of(ctx, x), ctx.ints([r if i == axis else 1 for i in range(ndim)])])
    return ctx.emit("Reshape", [tiled, target], allowzero=1)


_ONNX_PAD_MODES = {"edge": "edge", "reflect": "reflect", "wrap": "wrap"}


@rule(A.Pad)
def _pad(ctx):
    x, op, shape = ctx.x(0), ctx.op, ctx.shape()
    if op.mode == "constant":
        pads = [b for b, _ in op.widths] + [a for _, a in op.widths]
        value = ctx.scalar(op.value, ctx.dtype())
        return ctx.emit("Pad", [x, ctx.ints(pads), value], mode="constant")
    if all(shape[axis] is not None for axis, w in enumerate(op.widths) if any(w)):
        for axis, (b, a) in enumerate(op.widths):
            if b or a:
                idx = A._pad_index(shape[axis], b, a, op.mode, "cpu").numpy()
                x = ctx.emit("Gather", [x, ctx.const(idx.astype(np.int64))], axis=axis)
        return x
    mode = _ONNX_PAD_MODES.get(op.mode)
    if mode is None or (mode == "wrap" and ctx.opset < 19):
        raise Unsupported(f"mode {op.mode!r} along a dim unknown until the call")
    pads = [b for b, _ in op.widths] + [a for _, a in op.widths]
    return ctx.emit("Pad", [x, ctx.ints(pads)], mode=mode)


@rule(A.Crop)
def _crop(ctx):
    axes = [i for i, (b, a) in enumerate(ctx.op.widths) if b or a]
    if not axes:
        return ctx.x(0)
    starts = [ctx.op.widths[i][0] for i in axes]
    ends = [-ctx.op.widths[i][1] if ctx.op.widths[i][1] else INT_MAX for i in axes]
    return slice_(ctx, ctx.x(0), starts, ends, axes)
