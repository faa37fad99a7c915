"""Elementwise ops: one ONNX op each where ONNX has it, a few nodes where it does not
(expm1, log1p, log10, trunc, arctan2, NumPy's floor division and modulo)."""
from __future__ import annotations

import math

import numpy as np
from onnx import helper

from ....graph import is_float
from ....ops import elementwise as E
from ..graph import BOOL
from ..registry import Unsupported, rule
from .common import cast, shape_of

_UNARY = {
    "negative": "Neg", "abs": "Abs", "sign": "Sign", "exp": "Exp", "log": "Log", "sqrt": "Sqrt",
    "reciprocal": "Reciprocal", "sin": "Sin", "cos": "Cos", "tan": "Tan", "arcsin": "Asin",
    "arccos": "Acos", "arctan": "Atan", "sinh": "Sinh", "cosh": "Cosh", "tanh": "Tanh",
    "sigmoid": "Sigmoid", "softplus": "Softplus", "relu": "Relu", "erf": "Erf", "floor": "Floor",
    "ceil": "Ceil", "arcsinh": "Asinh", "arccosh": "Acosh", "arctanh": "Atanh",
}
_BINARY = {
    "add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div", "power": "Pow",
    "maximum": "Max", "minimum": "Min", "equal": "Equal", "less": "Less", "less_equal": "LessOrEqual",
    "greater": "Greater", "greater_equal": "GreaterOrEqual", "logical_and": "And", "logical_or": "Or",
    "logical_xor": "Xor",
}
# NumPy's arithmetic on bools is logic
_BOOL_BINARY = {"add": "Or", "multiply": "And", "maximum": "Or", "minimum": "And", "bitwise_and": "And",
                "bitwise_or": "Or", "bitwise_xor": "Xor"}
_ORDERED = {"less", "less_equal", "greater", "greater_equal"}


def _op(name):
    return getattr(E, name).op


def _unary_rule(onnx_op):
    def fn(ctx):
        return ctx.emit(onnx_op, [ctx.x(0)])
    return fn


def _binary_rule(name, onnx_op):
    def fn(ctx):
        a, b = ctx.xs()
        if name.startswith("logical_"):  # NumPy's logic takes any numbers: nonzero is True
            a, b = (v if ctx.dtype(k) == "bool" else cast(ctx, v, "bool") for k, v in enumerate((a, b)))
        if ctx.dtype(0) == "bool":
            if name in _BOOL_BINARY:
                return ctx.emit(_BOOL_BINARY[name], [a, b])
            if name in _ORDERED:  # ONNX orders numbers only: False < True as 0 < 1
                a, b = cast(ctx, a, "int32"), cast(ctx, b, "int32")
        return ctx.emit(onnx_op, [a, b])
    return fn


for _name, _onnx in _UNARY.items():
    rule(_op(_name))(_unary_rule(_onnx))
for _name, _onnx in _BINARY.items():
    rule(_op(_name))(_binary_rule(_name, _onnx))


def _bool_or_bitwise(name, bitwise_op):
    def fn(ctx):
        a, b = ctx.xs()
        if ctx.dtype(0) == "bool":
            return ctx.emit(_BOOL_BINARY[name], [a, b])
        if ctx.opset < 18:
            raise Unsupported(f"ONNX has {bitwise_op} from opset 18")
        return ctx.emit(bitwise_op, [a, b])
    return fn


rule(_op("bitwise_and"))(_bool_or_bitwise("bitwise_and", "BitwiseAnd"))
rule(_op("bitwise_or"))(_bool_or_bitwise("bitwise_or", "BitwiseOr"))
rule(_op("bitwise_xor"))(_bool_or_bitwise("bitwise_xor", "BitwiseXor"))


@rule(_op("invert"))
def _invert(ctx):
    if ctx.dtype() == "bool":
        return ctx.emit("Not", [ctx.x(0)])
    if ctx.opset < 18:
        raise Unsupported("ONNX has BitwiseNot from opset 18")
    return ctx.emit("BitwiseNot", [ctx.x(0)])


@rule(_op("not_equal"))
def _not_equal(ctx):
    return ctx.emit("Not", [ctx.emit("Equal", ctx.xs())])


@rule(_op("logical_not"))
def _logical_not(ctx):
    x = ctx.x(0)
    return ctx.emit("Not", [x if ctx.dtype() == "bool" else cast(ctx, x, "bool")])


def _one(ctx, value=1):
    return ctx.scalar(value, ctx.dtype())


@rule(_op("expm1"))
def _expm1(ctx):
    return ctx.emit("Sub", [ctx.emit("Exp", [ctx.x(0)]), _one(ctx)])


@rule(_op("log1p"))
def _log1p(ctx):
    return ctx.emit("Log", [ctx.emit("Add", [ctx.x(0), _one(ctx)])])


@rule(_op("log2"))
def _log2(ctx):
    return ctx.emit("Div", [ctx.emit("Log", [ctx.x(0)]), _one(ctx, math.log(2.0))])


@rule(_op("rsqrt"))
def _rsqrt(ctx):
    return ctx.emit("Reciprocal", [ctx.emit("Sqrt", [ctx.x(0)])])


@rule(_op("square"))
def _square(ctx):
    x = ctx.x(0)
    if ctx.dtype() == "bool":
        return ctx.emit("Identity", [x])
    return ctx.emit("Mul", [x, x])


@rule(_op("silu"))
def _silu(ctx):
    x = ctx.x(0)
    return ctx.emit("Mul", [x, ctx.emit("Sigmoid", [x])])


def _constant_like(ctx, value: bool):
    """A bool tensor of x's shape holding `value` (isnan of integers, ...)."""
    return ctx.emit("ConstantOfShape", [shape_of(ctx, ctx.x(0))],
                    value=helper.make_tensor("value", BOOL, [1], [value]))


@rule(_op("isnan"))
def _isnan(ctx):
    if not is_float(ctx.dtype()):
        return _constant_like(ctx, False)
    return ctx.emit("IsNaN", [ctx.x(0)])


@rule(_op("isinf"))
def _isinf(ctx):
    if not is_float(ctx.dtype()):
        return _constant_like(ctx, False)
    return ctx.emit("IsInf", [ctx.x(0)])


@rule(_op("isfinite"))
def _isfinite(ctx):
    if not is_float(ctx.dtype()):
        return _constant_like(ctx, True)
    x = ctx.x(0)
    return ctx.emit("Not", [ctx.emit("Or", [ctx.emit("IsNaN", [x]), ctx.emit("IsInf", [x])])])


@rule(_op("floor_divide"))
def _floor_divide(ctx):
    a, b = ctx.xs()
    if is_float(ctx.dtype()):
        return ctx.emit("Floor", [ctx.emit("Div", [a, b])])
    # integers: a - mod(a, b) is a multiple of b, so ONNX's truncating Div is exact on it
    return ctx.emit("Div", [ctx.emit("Sub", [a, ctx.emit("Mod", [a, b])]), b])


@rule(_op("mod"))
def _mod(ctx):
    a, b = ctx.xs()
    if not is_float(ctx.dtype()):
        return ctx.emit("Mod", [a, b])  # fmod=0: the sign of the divisor, as NumPy
    # floats: C's fmod, moved into the divisor's sign where they differ
    r = ctx.emit("Mod", [a, b], fmod=1)
    zero = _one(ctx, 0)
    differ = ctx.emit("Xor", [ctx.emit("Less", [r, zero]), ctx.emit("Less", [b, zero])])
    shift = ctx.emit("And", [differ, ctx.emit("Not", [ctx.emit("Equal", [r, zero])])])
    return ctx.emit("Where", [shift, ctx.emit("Add", [r, b]), r])


@rule(_op("arctan2"))
def _arctan2(ctx):
    y, x = ctx.xs()
    zero, pi = _one(ctx, 0), _one(ctx, math.pi)
    base = ctx.emit("Atan", [ctx.emit("Div", [y, x])])
    # x < 0: add pi toward y's side (y = -0.0 counts as negative, as in NumPy)
    y_neg = ctx.emit("Or", [ctx.emit("Less", [y, zero]),
                            ctx.emit("And", [ctx.emit("Equal", [y, zero]),
                                             ctx.emit("Less", [ctx.emit("Div", [_one(ctx), y]), zero])])])
    turned = ctx.emit("Where", [y_neg, ctx.emit("Sub", [base, pi]), ctx.emit("Add", [base, pi])])
    half = ctx.emit("Where", [y_neg, _one(ctx, -math.pi / 2), _one(ctx, math.pi / 2)])
    on_axis = ctx.emit("Where", [ctx.emit("Equal", [y, zero]),
                                 ctx.emit("Where", [y_neg, ctx.emit("Neg", [zero]), zero]), half])
    return ctx.emit("Where", [ctx.emit("Greater", [x, zero]), base,
                              ctx.emit("Where", [ctx.emit("Less", [x, zero]), turned, on_axis])])


@rule(E.Cast)
def _cast(ctx):
    return cast(ctx, ctx.x(0), ctx.op.dtype)


@rule(E.Clip)
def _clip(ctx):
    dtype = ctx.dtype()
    lo = "" if ctx.op.lo is None else ctx.scalar(ctx.op.lo, dtype)
    hi = "" if ctx.op.hi is None else ctx.scalar(ctx.op.hi, dtype)
    return ctx.emit("Clip", [ctx.x(0), lo, hi])


@rule(E.Where)
def _where(ctx):
    return ctx.emit("Where", ctx.xs())


def _float32_exact(value: float) -> bool:
    """Whether an attribute value survives ONNX's float32 attributes unchanged."""
    return float(np.float32(value)) == value


@rule(E.LeakyRelu)
def _leaky_relu(ctx):
    x, slope = ctx.x(0), ctx.op.negative_slope
    if ctx.dtype() == "float32" or _float32_exact(slope):
        return ctx.emit("LeakyRelu", [x], alpha=float(slope))
    scaled = ctx.emit("Mul", [x, _one(ctx, slope)])
    return ctx.emit("Where", [ctx.emit("Greater", [x, _one(ctx, 0)]), x, scaled])


@rule(E.Elu)
def _elu(ctx):
    x, alpha = ctx.x(0), ctx.op.alpha
    if ctx.dtype() == "float32" or _float32_exact(alpha):
        return ctx.emit("Elu", [x], alpha=float(alpha))
    neg = ctx.emit("Mul", [ctx.emit("Sub", [ctx.emit("Exp", [x]), _one(ctx)]), _one(ctx, alpha)])
    return ctx.emit("Where", [ctx.emit("Greater", [x, _one(ctx, 0)]), x, neg])


@rule(E.Gelu)
def _gelu(ctx):
    x = ctx.x(0)
    if ctx.opset >= 20:
        return ctx.emit("Gelu", [x], approximate=ctx.op.approximate)
    half = ctx.emit("Mul", [x, _one(ctx, 0.5)])
    if ctx.op.approximate == "tanh":
        cube = ctx.emit("Mul", [ctx.emit("Mul", [x, x]), x])
        inner = ctx.emit("Add", [x, ctx.emit("Mul", [cube, _one(ctx, 0.044715)])])
        t = ctx.emit("Tanh", [ctx.emit("Mul", [inner, _one(ctx, math.sqrt(2 / math.pi))])])
    else:
        t = ctx.emit("Erf", [ctx.emit("Mul", [x, _one(ctx, 1 / math.sqrt(2))])])
    return ctx.emit("Mul", [half, ctx.emit("Add", [t, _one(ctx)])])


@rule(E.Round)
def _round(ctx):
    x, d = ctx.x(0), ctx.op.decimals
    if not is_float(ctx.dtype()):
        return ctx.emit("Identity", [x])
    if d == 0:
        return ctx.emit("Round", [x])
    # as torch: round(x * 10^d) / 10^d, or round(x / 10^-d) * 10^-d for negative d
    scale = _one(ctx, 10.0 ** abs(d))
    up, down = ("Mul", "Div") if d > 0 else ("Div", "Mul")
    return ctx.emit(down, [ctx.emit("Round", [ctx.emit(up, [x, scale])]), scale])


@rule(E.ReluGrad)
def _relu_grad(ctx):
    g, y = ctx.xs()
    zero = ctx.scalar(0, ctx.dtype(1))
    return ctx.emit("Where", [ctx.emit("Greater", [y, zero]), g, ctx.scalar(0, ctx.dtype(0))])


@rule(_op("log10"))
def _log10(ctx):
    return ctx.emit("Div", [ctx.emit("Log", [ctx.x(0)]), ctx.scalar(math.log(10), ctx.dtype())])


@rule(_op("trunc"))
def _trunc(ctx):
    x = ctx.x(0)
    if not is_float(ctx.dtype()):
        return ctx.emit("Identity", [x])
    negative = ctx.emit("Less", [x, ctx.scalar(0, ctx.dtype())])
    return ctx.emit("Where", [negative, ctx.emit("Ceil", [x]), ctx.emit("Floor", [x])])
