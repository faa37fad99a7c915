"""Small ONNX building blocks the rules share: shapes as tensors, slices, reductions,
(un)squeezing and casts, each written for the export's opset."""
from __future__ import annotations

import numpy as np

from ..graph import elem_type

INT_MAX = np.iinfo(np.int64).max
INT_MIN = np.iinfo(np.int64).min


def cast(ctx, name: str, dtype: str) -> str:
    return ctx.emit("Cast", [name], to=elem_type(dtype))


def shape_of(ctx, name: str, start: int | None = None, end: int | None = None) -> str:
    """The int64 shape of `name` (dims start:end)."""
    if start is None and end is None:
        return ctx.emit("Shape", [name])
    return ctx.emit("Shape", [name], start=start, end=end)


def dim_of(ctx, name: str, axis: int) -> str:
    """Dim `axis` of `name` as an int64 scalar."""
    return ctx.emit("Gather", [shape_of(ctx, name), ctx.const(np.int64(axis))], axis=0)


def unsqueeze(ctx, name: str, axes) -> str:
    return ctx.emit("Unsqueeze", [name, ctx.ints(axes)])


def squeeze(ctx, name: str, axes) -> str:
    return ctx.emit("Squeeze", [name, ctx.ints(axes)]) if len(axes) else ctx.emit("Identity", [name])


def shape_vector(ctx, template, first: int) -> str:
    """A 1-D int64 shape from a template of ints with None where the node's next symbolic
    dim goes (integer scalar inputs from input `first` on)."""
    if all(t is not None for t in template):
        return ctx.ints(template)
    k = first
    parts, run = [], []
    for t in template:
        if t is not None:
            run.append(t)
            continue
        if run:
            parts.append(ctx.ints(run))
            run = []
        parts.append(unsqueeze(ctx, as_int64(ctx, ctx.x(k), ctx.dtype(k)), [0]))
        k += 1
    if run:
        parts.append(ctx.ints(run))
    return parts[0] if len(parts) == 1 else ctx.emit("Concat", parts, axis=0)


def as_int64(ctx, name: str, dtype: str) -> str:
    """`name` (an integer tensor of theon dtype `dtype`) as int64."""
    return name if dtype == "int64" else cast(ctx, name, "int64")


def slice_(ctx, name: str, starts, ends, axes, steps=None) -> str:
    """ONNX Slice with Python's clamping; starts/ends are ints or int64 1-D names."""
    args = [name, _vec(ctx, starts), _vec(ctx, ends), ctx.ints(axes)]
    if steps is not None:
        args.append(ctx.ints(steps))
    return ctx.emit("Slice", args)


def _vec(ctx, values):
    return values if isinstance(values, str) else ctx.ints(values)


# reductions whose axes became an input in opset 18 (ReduceSum's in opset 13)
_AXES_INPUT_SINCE = {"ReduceSum": 13}


def reduce(ctx, op_type: str, name: str, axes, keepdims: bool) -> str:
    """`op_type` over `axes` (a list; never empty: ONNX reads no axes as all axes)."""
    axes = list(axes)
    if ctx.opset >= _AXES_INPUT_SINCE.get(op_type, 18):
        return ctx.emit(op_type, [name, ctx.ints(axes)], keepdims=int(keepdims))
    return ctx.emit(op_type, [name], axes=axes, keepdims=int(keepdims))


def count(ctx, name: str, shape, axes, dtype: str) -> str:
    """How many elements a reduction over `axes` combines, as a `dtype` scalar."""
    dims = [shape[a] for a in axes]
    if all(d is not None for d in dims):
        return ctx.scalar(float(np.prod(dims)) if dims else 1.0, dtype)
    sizes = ctx.emit("Gather", [shape_of(ctx, name), ctx.ints(axes)], axis=0)
    return cast(ctx, reduce(ctx, "ReduceProd", sizes, [0], False), dtype)
