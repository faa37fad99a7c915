"""Elementwise ONNX ops: arithmetic, comparisons, logic, activations, casts."""
from __future__ import annotations

import math

import numpy as np

from ... import ops as T
from ...ops.dims import ShapeOf
from ..importer.elems import Elems, binary, int_div
from ..importer.tensors import theon_dtype
from . import converter


def _same(ctx, a, b):
    """ONNX binary ops take one dtype; a constant side follows the other's dtype."""
    if a.dtype != b.dtype:
        b = T.cast_to(b, a.dtype)
    return a, b


def _is_int(v) -> bool:
    return v.dtype.startswith("int") or v.dtype.startswith("uint")


def _trunc_div(a, b):
    q = T.floor_divide(T.abs(a), T.abs(b))
    neg = T.not_equal(T.less(a, 0), T.less(b, 0))
    return T.where(neg, -q, q)


def _elems_binary(ctx, fn):
    ea, eb = ctx.elems(0), ctx.elems(1)
    if ea is not None and eb is not None:
        ctx.set_elems(0, binary(fn, ea, eb))


@converter("Add")
def add(ctx):
    _elems_binary(ctx, lambda x, y: x + y)
    return T.add(*_same(ctx, ctx.x(0), ctx.x(1)))


@converter("Sub")
def sub(ctx):
    _elems_binary(ctx, lambda x, y: x - y)
    return T.subtract(*_same(ctx, ctx.x(0), ctx.x(1)))


@converter("Mul")
def mul(ctx):
    _elems_binary(ctx, lambda x, y: x * y)
    return T.multiply(*_same(ctx, ctx.x(0), ctx.x(1)))


@converter("Div")
def div(ctx):
    a, b = _same(ctx, ctx.x(0), ctx.x(1))
    if _is_int(a):
        _elems_binary(ctx, int_div)
        return _trunc_div(a, b)
    return T.divide(a, b)


@converter("Mod")
def mod(ctx):
    a, b = _same(ctx, ctx.x(0), ctx.x(1))
    if not ctx.attr("fmod", 0) and _is_int(a):  # shape arithmetic (a dim mod a size) follows
        _elems_binary(ctx, lambda x, y: x % y)
    if ctx.attr("fmod", 0):
        if _is_int(a):
            return a - b * _trunc_div(a, b)
        q = a / b
        return a - b * (T.sign(q) * T.floor(T.abs(q)))
    return T.mod(a, b)


@converter("Pow")
def pow_(ctx):
    a, b = ctx.x(0), ctx.x(1)
    if b.dtype != a.dtype:
        b = T.cast_to(b, a.dtype)
    return T.power(a, b)


def _variadic(fn):
    def convert(ctx):
        xs = [v for v in ctx.xs() if v is not None]
        out = xs[0]
        for v in xs[1:]:
            out = fn(*_same(ctx, out, v))
        return out
    return convert


converter("Max")(_variadic(T.maximum))
converter("Min")(_variadic(T.minimum))
converter("Sum")(_variadic(T.add))


@converter("Mean")
def mean(ctx):
    xs = [v for v in ctx.xs() if v is not None]
    return _variadic(T.add)(ctx) / np.asarray(len(xs), xs[0].dtype)


_COMPARE = {"Equal": T.equal, "Greater": T.greater, "Less": T.less,
            "GreaterOrEqual": T.greater_equal, "LessOrEqual": T.less_equal}


@converter(*_COMPARE)
def compare(ctx):
    if ctx.node.op_type == "Equal":
        _record_dim_test(ctx)
    return _COMPARE[ctx.node.op_type](*_same(ctx, ctx.x(0), ctx.x(1)))


def _record_dim_test(ctx):
    """Equal(x.shape[axis], size) with x's dim unknown when building: remember (x, axis,
    size), so an If on it can build its branch for that size (see control.if_)."""
    ea, eb = ctx.elems(0), ctx.elems(1)
    if ea is None or eb is None:
        return
    for dim_side, const_side in ((ea, eb), (eb, ea)):
        if len(dim_side) == 1 and len(const_side) == 1 and const_side.is_static():
            d = dim_side.values[0]
            owner = getattr(d, "owner", None)
            if owner is not None and isinstance(owner.op, ShapeOf):
                ctx.importer.dim_tests[ctx.node.outputs[0]] = (owner.inputs[0], owner.op.axis,
                                                               int(const_side.values[0]))


_LOGIC = {"And": T.logical_and, "Or": T.logical_or, "Xor": T.logical_xor,
          "BitwiseAnd": T.bitwise_and, "BitwiseOr": T.bitwise_or, "BitwiseXor": T.bitwise_xor}


@converter(*_LOGIC)
def logic(ctx):
    return _LOGIC[ctx.node.op_type](ctx.x(0), ctx.x(1))


@converter("Not")
def not_(ctx):
    return T.logical_not(ctx.x(0))


@converter("BitwiseNot")
def bitwise_not(ctx):
    return T.invert(ctx.x(0))


@converter("BitShift")
def bit_shift(ctx):
    a, b = _same(ctx, ctx.x(0), ctx.x(1))
    # shifts outside [0, bits) give 0 (a right shift of a negative signed value: -1), as
    # onnxruntime does; the kernels only see shifts in range
    bits = np.dtype(a.dtype).itemsize * 8
    valid = T.logical_and(b >= 0, b < bits)
    s = T.where(valid, b, T.zeros_like(b))
    if ctx.attr("direction") == "LEFT":
        return T.where(valid, T.left_shift(a, s), T.zeros_like(a))
    fill = T.zeros_like(a) if a.dtype.startswith("uint") else T.where(a < 0, T.full_like(a, -1), T.zeros_like(a))
    return T.where(valid, T.right_shift(a, s), fill)


@converter("Where")
def where(ctx):
    return T.where(ctx.x(0), *_same(ctx, ctx.x(1), ctx.x(2)))


_UNARY = {
    "Abs": T.abs, "Neg": T.negative, "Exp": T.exp, "Log": T.log, "Sqrt": T.sqrt,
    "Reciprocal": T.reciprocal, "Floor": T.floor, "Ceil": T.ceil, "Sign": T.sign,
    "Sin": T.sin, "Cos": T.cos, "Tan": T.tan, "Asin": T.arcsin, "Acos": T.arccos,
    "Atan": T.arctan, "Sinh": T.sinh, "Cosh": T.cosh, "Tanh": T.tanh, "Sigmoid": T.sigmoid,
    "Relu": T.relu, "Erf": T.erf, "IsNaN": T.isnan, "Softplus": T.softplus,
}


@converter(*_UNARY)
def unary(ctx):
    x = ctx.x(0)
    if ctx.node.op_type == "Neg":
        e = ctx.elems(0)
        if e is not None:
            ctx.set_elems(0, e.with_values([-v for v in e.values]))
    if ctx.node.op_type == "Relu" and _is_int(x):
        return T.maximum(x, T.zeros_like(x))
    return _UNARY[ctx.node.op_type](x)


def _f(x, value):
    return np.asarray(value, dtype=x.dtype)


@converter("Round")
def round_(ctx):
    return T.round(ctx.x(0))


@converter("Asinh")
def asinh(ctx):
    x = ctx.x(0)
    return T.log(x + T.sqrt(x * x + _f(x, 1)))


@converter("Acosh")
def acosh(ctx):
    x = ctx.x(0)
    return T.log(x + T.sqrt(x * x - _f(x, 1)))


@converter("Atanh")
def atanh(ctx):
    x = ctx.x(0)
    return T.log((_f(x, 1) + x) / (_f(x, 1) - x)) * _f(x, 0.5)


@converter("IsInf")
def isinf(ctx):
    x = ctx.x(0)
    pos, neg = ctx.attr("detect_positive", 1), ctx.attr("detect_negative", 1)
    inf = T.isinf(x)
    if pos and neg:
        return inf
    if pos:
        return T.logical_and(inf, T.greater(x, _f(x, 0)))
    if neg:
        return T.logical_and(inf, T.less(x, _f(x, 0)))
    return T.zeros_like(x, dtype="bool")


@converter("LeakyRelu")
def leaky_relu(ctx):
    x = ctx.x(0)
    return T.where(T.less(x, _f(x, 0)), x * _f(x, ctx.attr("alpha", 0.01)), x)


@converter("PRelu")
def prelu(ctx):
    x, slope = _same(ctx, ctx.x(0), ctx.x(1))
    if ctx.opset < 7 and slope.ndim == 1 and x.ndim > 2:
        # before opset 7 a slope of one value per channel applies along axis 1 (PyTorch's
        # PReLU(num_parameters=C) as exported then), not by NumPy broadcasting
        slope = slope.reshape((-1,) + (1,) * (x.ndim - 2))
    return T.where(T.less(x, _f(x, 0)), x * slope, x)


@converter("ThresholdedRelu")
def thresholded_relu(ctx):
    x = ctx.x(0)
    return T.where(T.greater(x, _f(x, ctx.attr("alpha", 1.0))), x, T.zeros_like(x))


@converter("Elu")
def elu(ctx):
    x = ctx.x(0)
    return T.where(T.less(x, _f(x, 0)), (T.exp(x) - _f(x, 1)) * _f(x, ctx.attr("alpha", 1.0)), x)


@converter("Celu")
def celu(ctx):
    x = ctx.x(0)
    a = ctx.attr("alpha", 1.0)
    neg = (T.exp(x / _f(x, a)) - _f(x, 1)) * _f(x, a)
    return T.maximum(x, _f(x, 0)) + T.minimum(neg, _f(x, 0))


@converter("Selu")
def selu(ctx):
    x = ctx.x(0)
    a, g = ctx.attr("alpha", 1.67326319217681884765625), ctx.attr("gamma", 1.05070102214813232421875)
    return T.where(T.less_equal(x, _f(x, 0)), (T.exp(x) - _f(x, 1)) * _f(x, a), x) * _f(x, g)


@converter("Softsign")
def softsign(ctx):
    x = ctx.x(0)
    return x / (T.abs(x) + _f(x, 1))


@converter("HardSigmoid")
def hard_sigmoid(ctx):
    x = ctx.x(0)
    y = x * _f(x, ctx.attr("alpha", 0.2)) + _f(x, ctx.attr("beta", 0.5))
    return T.clip(y, 0.0, 1.0)


@converter("HardSwish")
def hard_swish(ctx):
    x = ctx.x(0)
    return x * T.clip(x * _f(x, 1 / 6) + _f(x, 0.5), 0.0, 1.0)


@converter("Mish")
def mish(ctx):
    x = ctx.x(0)
    return x * T.tanh(T.softplus(x))


@converter("Swish")
def swish(ctx):
    x = ctx.x(0)
    return x * T.sigmoid(x * _f(x, ctx.attr("alpha", 1.0)))


@converter("SwiGLU")
def swiglu(ctx):
    """Swish(a, alpha) gating b."""
    a = ctx.x(0)
    return a * T.sigmoid(a * _f(a, ctx.attr("alpha", 1.0))) * ctx.x(1)


@converter("Gelu")
def gelu(ctx):
    return T.gelu(ctx.x(0), approximate=ctx.attr("approximate", "none"))


@converter("Shrink")
def shrink(ctx):
    x = ctx.x(0)
    lambd, bias = ctx.attr("lambd", 0.5), ctx.attr("bias", 0.0)
    return T.where(T.less(x, _f(x, -lambd)), x + _f(x, bias),
                   T.where(T.greater(x, _f(x, lambd)), x - _f(x, bias), T.zeros_like(x)))


@converter("Clip")
def clip(ctx):
    x = ctx.x(0)
    if ctx.opset < 11:
        lo, hi = ctx.attr("min", -math.inf), ctx.attr("max", math.inf)
        return T.clip(x, None if lo == -math.inf else lo, None if hi == math.inf else hi)
    lo, hi = ctx.static(1), ctx.static(2)
    if (lo is not None or not ctx.has(1)) and (hi is not None or not ctx.has(2)):
        if _is_int(x):
            out = x
            if lo is not None:
                out = T.maximum(out, T.cast_to(T.as_variable(lo), x.dtype))
            if hi is not None:
                out = T.minimum(out, T.cast_to(T.as_variable(hi), x.dtype))
            return out
        if lo is None and hi is None:
            return x
        return T.clip(x, None if lo is None else float(lo), None if hi is None else float(hi))
    out = x
    if ctx.has(1):
        out = T.maximum(out, T.cast_to(ctx.x(1), x.dtype))
    if ctx.has(2):
        out = T.minimum(out, T.cast_to(ctx.x(2), x.dtype))
    return out


@converter("Identity")
def identity(ctx):
    ctx.set_elems(0, ctx.elems(0))
    return ctx.x(0)


@converter("Cast")
def cast(ctx):
    dtype = theon_dtype(ctx.attr("to"), "Cast target")
    e = ctx.elems(0)
    if e is not None and dtype.startswith("int"):
        ctx.set_elems(0, Elems(e.values, e.scalar, dtype))
    return T.cast_to(ctx.x(0), dtype)


@converter("CastLike")
def cast_like(ctx):
    return T.cast_to(ctx.x(0), ctx.x(1).dtype)
