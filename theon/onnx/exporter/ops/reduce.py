"""Reductions and running sums: ONNX's Reduce* ops (an empty axis list is theon's 'reduce
nothing', ONNX's 'reduce everything', so it is written as the identity), ArgMax/ArgMin,
CumSum, and variance from two reductions."""
from __future__ import annotations

import numpy as np
from onnx import helper

from ....graph import is_float
from ....ops import reduce as R
from ..graph import elem_type
from ..registry import Unsupported, rule
from .common import cast, count, reduce, shape_of

_SIMPLE = {R.Sum: "ReduceSum", R.Prod: "ReduceProd", R.Mean: "ReduceMean", R.Max: "ReduceMax",
           R.Min: "ReduceMin", R.LogSumExp: "ReduceLogSumExp"}


def filled(ctx, like: str, value, dtype: str) -> str:
    """A tensor of `like`'s shape holding `value`."""
    return ctx.emit("ConstantOfShape", [shape_of(ctx, like)],
                    value=helper.make_tensor("value", elem_type(dtype), [1], [value]))


def _simple_rule(onnx_op):
    def fn(ctx):
        x, axes = ctx.x(0), ctx.op.axes
        if not axes:
            return ctx.emit("Identity", [x])
        if ctx.dtype() == "bool":  # only max/min take bools: they are any/all
            return cast(ctx, reduce(ctx, onnx_op, cast(ctx, x, "int32"), axes, ctx.op.keepdims), "bool")
        y = reduce(ctx, onnx_op, x, axes, ctx.op.keepdims)
        if onnx_op in ("ReduceMax", "ReduceMin") and is_float(ctx.dtype()):
            y = _propagate_nan(ctx, x, y, axes)
        return y
    return fn


def _propagate_nan(ctx, x: str, y: str, axes) -> str:
    """y, NaN where its slice of x holds one (NumPy's max/min; ONNX leaves it open)."""
    zero = ctx.scalar(0, ctx.dtype())
    nans = reduce(ctx, "ReduceSum", ctx.emit("Where", [ctx.emit("IsNaN", [x]), x, zero]), axes, ctx.op.keepdims)
    return ctx.emit("Where", [ctx.emit("IsNaN", [nans]), nans, y])


for _cls, _onnx in _SIMPLE.items():
    rule(_cls)(_simple_rule(_onnx))


def _variance(ctx):
    x, op = ctx.x(0), ctx.op
    dtype = ctx.dtype()
    if not is_float(dtype) or dtype.startswith("complex"):
        raise Unsupported(f"variance of {dtype}")
    if not op.axes:
        return filled(ctx, x, 0.0 if op.ddof < 1 else float("nan"), dtype)
    centred = ctx.emit("Sub", [x, reduce(ctx, "ReduceMean", x, op.axes, True)])
    total = reduce(ctx, "ReduceSum", ctx.emit("Mul", [centred, centred]), op.axes, op.keepdims)
    n = count(ctx, x, ctx.shape(), op.axes, dtype)
    return ctx.emit("Div", [total, ctx.emit("Sub", [n, ctx.scalar(op.ddof, dtype)])])


@rule(R.Var)
def _var(ctx):
    return _variance(ctx)


@rule(R.Std)
def _std(ctx):
    return ctx.emit("Sqrt", [_variance(ctx)])


def _truth_rule(onnx_op):
    def fn(ctx):
        flags = ctx.x(0) if ctx.dtype() == "bool" else cast(ctx, ctx.x(0), "bool")
        if not ctx.op.axes:
            return ctx.emit("Identity", [flags])
        counts = cast(ctx, flags, "int32")
        return cast(ctx, reduce(ctx, onnx_op, counts, ctx.op.axes, ctx.op.keepdims), "bool")
    return fn


rule(R.Any)(_truth_rule("ReduceMax"))
rule(R.All)(_truth_rule("ReduceMin"))


def _arg_rule(onnx_op):
    def fn(ctx):
        x, op = ctx.x(0), ctx.op
        if ctx.dtype() == "bool":
            x = cast(ctx, x, "int32")
        if op.axis is not None:
            return ctx.emit(onnx_op, [x], axis=op.axis, keepdims=int(op.keepdims))
        flat = ctx.emit(onnx_op, [ctx.emit("Reshape", [x, ctx.ints([-1])])], axis=0, keepdims=0)
        if op.keepdims:
            return ctx.emit("Reshape", [flat, ctx.ints([1] * len(ctx.shape()))])
        return flat
    return fn


rule(R.ArgMax)(_arg_rule("ArgMax"))
rule(R.ArgMin)(_arg_rule("ArgMin"))


@rule(R.Cumsum)
def _cumsum(ctx):
    return ctx.emit("CumSum", [ctx.x(0), ctx.const(np.int64(ctx.op.axis))], reverse=int(ctx.op.reverse))


@rule(R.Cumprod)
def _cumprod(ctx):
    if ctx.opset < 26:
        raise Unsupported("ONNX has CumProd from opset 26")
    return ctx.emit("CumProd", [ctx.x(0), ctx.const(np.int64(ctx.op.axis))])
