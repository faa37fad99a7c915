"""Elementwise operators: NumPy names, broadcasting and type promotion.

Most are one table line: `unary(name, torch_fn, grad)` / `binary(...)`. The public
function casts its inputs to the dtype NumPy would compute in, so every kernel sees
inputs of one dtype and torch's own promotion rules never matter.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..backend.interop import torch_dtype
from ..errors import DTypeError
from ..graph import Constant, TensorType, Variable, canonical_dtype, constant
from .axes import broadcast_shapes
from .base import Op, as_variable, float_dtype, result_dtype
from .constructors import zeros_like as _zl


@dataclass(frozen=True)
class Elementwise(Op):
    elementwise: ClassVar[bool] = True
    supports_out: ClassVar[bool] = True
    allocates: ClassVar[bool] = True  # with or without out=, never a view of an input
    bool_out: ClassVar[bool] = False  # output is bool whatever the inputs

    def infer(self, *inputs):
        dtypes = {i.dtype for i in inputs}
        if len(dtypes) > 1:
            raise DTypeError(f"inputs must share one dtype, got {', '.join(i.dtype for i in inputs)}")
        shape = broadcast_shapes(*(i.type.shape for i in inputs))
        return [TensorType("bool" if self.bool_out else inputs[0].dtype, shape)]


@functools.lru_cache(maxsize=None)
def _numpy_dtype(ufunc, operands: tuple) -> str:
    """The dtype NumPy's ufunc gives for operands: dtype names, or Python types for weak scalars."""
    args = [t(1) if isinstance(t, type) else np.ones(1, dtype=t) for t in operands]
    with np.errstate(all="ignore"):
        return ufunc(*args).dtype.name


def _operand_key(v):
    if isinstance(v, Constant) and v.weak:
        return {"b": bool, "i": int, "u": int, "f": float, "c": complex}[v.value.dtype.kind]
    return v.dtype


def _compute_dtype(ufunc, variables) -> str:
    """The dtype to compute in: NumPy's result dtype, for bool results the promoted inputs."""
    try:
        dtype = _numpy_dtype(ufunc, tuple(_operand_key(v) for v in variables))
    except TypeError as e:
        raise DTypeError(f"{ufunc.__name__} does not take {', '.join(v.dtype for v in variables)}: {e}") from None
    if dtype == "bool" and ufunc not in _BOOL_COMPUTE:
        return unify_dtype(variables)
    return dtype


def unify_dtype(variables) -> str:
    return result_dtype(*variables)


_BOOL_COMPUTE = {np.logical_and, np.logical_or, np.logical_xor, np.logical_not}


def _make(name, base, fn, grad, bool_out=False, differentiable=True, supports_out=True, fields=None):
    attrs = {"name": name, "torch_fn": staticmethod(fn), "_grad": staticmethod(grad) if grad else None,
             "bool_out": bool_out, "differentiable": differentiable and not bool_out,
             "supports_out": supports_out, "__module__": __name__, "__qualname__": _camel(name)}
    return dataclass(frozen=True)(type(_camel(name), (base,), attrs))


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


@dataclass(frozen=True)
class Unary(Elementwise):
    _grad: ClassVar = None

    def grad(self, inputs, outputs, output_grads):
        if self._grad is None:
            return [zeros_like(inputs[0])] if inputs[0].dtype.startswith("float") else [None]
        return [self._grad(inputs[0], outputs[0], output_grads[0])]


@dataclass(frozen=True)
class Binary(Elementwise):
    _grad: ClassVar = None

    def grad(self, inputs, outputs, output_grads):
        if self._grad is None:
            return [zeros_like(i) for i in inputs]
        return list(self._grad(inputs[0], inputs[1], outputs[0], output_grads[0]))


def unary(name, fn, grad=None, *, ufunc=None, float_only=False, bool_out=False,
          differentiable=True, supports_out=True):
    """Define a one-input elementwise op and its public function from a table line.

    `ufunc` is the NumPy function whose dtype rules apply; `float_only` casts integer
    inputs to the float dtype NumPy would give.
    """
    cls = _make(name, Unary, fn, grad, bool_out, differentiable, supports_out)

    def public(x):
        x = as_variable(x)
        if ufunc is not None:
            x = cast_to(x, _compute_dtype(ufunc, [x]))
        elif float_only:
            x = cast_to(x, float_dtype(x.dtype))
        return cls()(x)

    public.__name__ = public.__qualname__ = name
    public.__doc__ = f"Elementwise {name} (NumPy semantics)."
    public.op = cls
    return public


def binary(name, fn, grad=None, *, ufunc, bool_out=False, differentiable=True, supports_out=True):
    """Define a two-input elementwise op and its public function from a table line."""
    cls = _make(name, Binary, fn, grad, bool_out, differentiable, supports_out)

    def public(x, y):
        x, y = as_variable(x), as_variable(y)
        x, y = unify(x, y, dtype=_compute_dtype(ufunc, [x, y]))
        return cls()(x, y)

    public.__name__ = public.__qualname__ = name
    public.__doc__ = f"Elementwise {name} with broadcasting (NumPy semantics)."
    public.op = cls
    return public


# ---- helpers used by gradient rules -----------------------------------------------------

def zeros_like(x, dtype=None):
    return _zl(x, dtype=dtype)


def _mask(cond, like):
    """A 0/1 tensor of `like`'s dtype from a boolean condition."""
    return cast(cond, like.dtype)


# ---- one-input ops ----------------------------------------------------------------------

negative = unary("negative", torch.neg, lambda x, y, g: -g, ufunc=np.negative)
abs = unary("abs", torch.abs, lambda x, y, g: g * sign(x), ufunc=np.absolute)
sign = unary("sign", torch.sign, ufunc=np.sign)
exp = unary("exp", torch.exp, lambda x, y, g: g * y, ufunc=np.exp)
expm1 = unary("expm1", torch.expm1, lambda x, y, g: g * (y + 1), ufunc=np.expm1)
log = unary("log", torch.log, lambda x, y, g: g / x, ufunc=np.log)
log1p = unary("log1p", torch.log1p, lambda x, y, g: g / (x + 1), ufunc=np.log1p)
log2 = unary("log2", torch.log2, lambda x, y, g: g / (x * math.log(2.0)), ufunc=np.log2)
sqrt = unary("sqrt", torch.sqrt, lambda x, y, g: g / (y * 2), ufunc=np.sqrt)
rsqrt = unary("rsqrt", torch.rsqrt, lambda x, y, g: g * y / x * -0.5, float_only=True)
square = unary("square", torch.square, lambda x, y, g: g * x * 2, ufunc=np.square, supports_out=False)
reciprocal = unary("reciprocal", torch.reciprocal, lambda x, y, g: -g * y * y, float_only=True)
sin = unary("sin", torch.sin, lambda x, y, g: g * cos(x), ufunc=np.sin)
cos = unary("cos", torch.cos, lambda x, y, g: -g * sin(x), ufunc=np.cos)
tan = unary("tan", torch.tan, lambda x, y, g: g * (y * y + 1), ufunc=np.tan)
arcsin = unary("arcsin", torch.asin, lambda x, y, g: g * rsqrt(1 - x * x), ufunc=np.arcsin)
arccos = unary("arccos", torch.acos, lambda x, y, g: -g * rsqrt(1 - x * x), ufunc=np.arccos)
arctan = unary("arctan", torch.atan, lambda x, y, g: g / (x * x + 1), ufunc=np.arctan)
sinh = unary("sinh", torch.sinh, lambda x, y, g: g * cosh(x), ufunc=np.sinh)
cosh = unary("cosh", torch.cosh, lambda x, y, g: g * sinh(x), ufunc=np.cosh)
tanh = unary("tanh", torch.tanh, lambda x, y, g: g * (1 - y * y), ufunc=np.tanh)
sigmoid = unary("sigmoid", torch.sigmoid, lambda x, y, g: g * y * (1 - y), float_only=True)
softplus = unary("softplus", F.softplus, lambda x, y, g: g * sigmoid(x), float_only=True,
                 supports_out=False)
relu = unary("relu", torch.relu, lambda x, y, g: ReluGrad()(g, y), ufunc=np.negative,
             supports_out=False)
silu = unary("silu", F.silu, lambda x, y, g: g * _silu_slope(x), float_only=True, supports_out=False)
erf = unary("erf", torch.erf, lambda x, y, g: g * exp(-x * x) * (2 / math.sqrt(math.pi)),
            float_only=True)
floor = unary("floor", torch.floor, ufunc=np.floor)
ceil = unary("ceil", torch.ceil, ufunc=np.ceil)
isnan = unary("isnan", torch.isnan, bool_out=True, supports_out=False)
isinf = unary("isinf", torch.isinf, bool_out=True, supports_out=False)
isfinite = unary("isfinite", torch.isfinite, bool_out=True, supports_out=False)
logical_not = unary("logical_not", torch.logical_not, ufunc=np.logical_not, bool_out=True)
invert = unary("invert", torch.bitwise_not, ufunc=np.invert, differentiable=False)


def _silu_slope(x):
    s = sigmoid(x)
    return s * (1 + x * (1 - s))


@dataclass(frozen=True)
class ReluGrad(Elementwise):
    """g where the relu's output y is positive, else 0: one kernel instead of three."""
    name: ClassVar[str] = "relu_grad"

    def kernel(self, g, y, out=None):
        if out is None:
            return torch.ops.aten.threshold_backward(g, y, 0)
        return torch.ops.aten.threshold_backward.grad_input(g, y, 0, grad_input=out)

    def grad(self, inputs, outputs, output_grads):
        (g, y), (gg,) = inputs, output_grads
        return [ReluGrad()(gg, y), None]


# ---- two-input ops ----------------------------------------------------------------------

def _pow_grad(x, y, out, g):
    gx = g * y * power(x, y - 1)
    safe_log = log(where(x > 0, x, 1))
    return gx, g * out * safe_log


def _minmax_grad(pick):
    def rule(x, y, out, g):
        half = _mask(x == y, g) * 0.5
        wx = _mask(pick(x, y), g) + half
        return g * wx, g * (1 - wx)
    return rule


add = binary("add", torch.add, lambda x, y, o, g: (g, g), ufunc=np.add)
subtract = binary("subtract", torch.sub, lambda x, y, o, g: (g, -g), ufunc=np.subtract)
multiply = binary("multiply", torch.mul, lambda x, y, o, g: (g * y, g * x), ufunc=np.multiply)
divide = binary("divide", torch.div, lambda x, y, o, g: (g / y, -g * o / y), ufunc=np.divide)
floor_divide = binary("floor_divide", torch.floor_divide, ufunc=np.floor_divide)
mod = binary("mod", torch.remainder, lambda x, y, o, g: (g, -g * floor_divide(x, y)), ufunc=np.mod)
power = binary("power", torch.pow, _pow_grad, ufunc=np.power)
arctan2 = binary("arctan2", torch.atan2,
                 lambda y, x, o, g: (g * x / (x * x + y * y), -g * y / (x * x + y * y)),
                 ufunc=np.arctan2)
maximum = binary("maximum", torch.maximum, _minmax_grad(lambda x, y: x > y), ufunc=np.maximum)
minimum = binary("minimum", torch.minimum, _minmax_grad(lambda x, y: x < y), ufunc=np.minimum)
equal = binary("equal", torch.eq, ufunc=np.equal, bool_out=True)
not_equal = binary("not_equal", torch.ne, ufunc=np.not_equal, bool_out=True)
less = binary("less", torch.lt, ufunc=np.less, bool_out=True)
less_equal = binary("less_equal", torch.le, ufunc=np.less_equal, bool_out=True)
greater = binary("greater", torch.gt, ufunc=np.greater, bool_out=True)
greater_equal = binary("greater_equal", torch.ge, ufunc=np.greater_equal, bool_out=True)
logical_and = binary("logical_and", torch.logical_and, ufunc=np.logical_and, bool_out=True)
logical_or = binary("logical_or", torch.logical_or, ufunc=np.logical_or, bool_out=True)
logical_xor = binary("logical_xor", torch.logical_xor, ufunc=np.logical_xor, bool_out=True)
bitwise_and = binary("bitwise_and", torch.bitwise_and, ufunc=np.bitwise_and, differentiable=False)
bitwise_or = binary("bitwise_or", torch.bitwise_or, ufunc=np.bitwise_or, differentiable=False)
bitwise_xor = binary("bitwise_xor", torch.bitwise_xor, ufunc=np.bitwise_xor, differentiable=False)
true_divide = divide


# ---- ops with attributes ----------------------------------------------------------------

@dataclass(frozen=True)
class Cast(Elementwise):
    dtype: str = "float32"
    name: ClassVar[str] = "cast"

    def infer(self, x):
        return [x.type.with_dtype(self.dtype)]

    def kernel(self, x, out=None):
        if out is not None:
            return out.copy_(x)
        return x.to(torch_dtype(self.dtype), copy=True)  # a new tensor, as `allocates` says

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        if not x.dtype.startswith("float"):
            return [None]
        return [cast(g, x.dtype)]


def cast(x, dtype):
    """`x` converted to `dtype` (NumPy's astype)."""
    x = as_variable(x)
    dtype = canonical_dtype(dtype)
    if x.dtype == dtype:
        return x
    return Cast(dtype)(x)


def cast_to(v: Variable, dtype: str) -> Variable:
    """`v` as `dtype` (constants are converted at once; tensors get a cast node)."""
    if v.dtype == dtype:
        return v
    if isinstance(v, Constant):
        return constant(v.value.astype(dtype))
    return cast(v, dtype)


def unify(*values, dtype: str | None = None) -> list:
    """The values as variables of one dtype (their promotion unless `dtype` is given)."""
    variables = [as_variable(v) for v in values]
    target = dtype or result_dtype(*variables)
    return [cast_to(v, target) for v in variables]


def _float_op(cls, x, **attrs):
    x = as_variable(x)
    return cls(**attrs)(cast_to(x, float_dtype(x.dtype)))


@dataclass(frozen=True)
class LeakyRelu(Elementwise):
    negative_slope: float = 0.01
    name: ClassVar[str] = "leaky_relu"
    supports_out: ClassVar[bool] = False

    def kernel(self, x, out=None):
        return F.leaky_relu(x, self.negative_slope)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [g * where(x > 0, 1.0, self.negative_slope)]


def leaky_relu(x, negative_slope=0.01):
    return _float_op(LeakyRelu, x, negative_slope=float(negative_slope))


@dataclass(frozen=True)
class Elu(Elementwise):
    alpha: float = 1.0
    name: ClassVar[str] = "elu"
    supports_out: ClassVar[bool] = False

    def kernel(self, x, out=None):
        return F.elu(x, self.alpha)

    def grad(self, inputs, outputs, output_grads):
        (x,), (y,), (g,) = inputs, outputs, output_grads
        return [g * where(x > 0, 1.0, y + self.alpha)]


def elu(x, alpha=1.0):
    return _float_op(Elu, x, alpha=float(alpha))


@dataclass(frozen=True)
class Gelu(Elementwise):
    approximate: str = "none"
    name: ClassVar[str] = "gelu"
    supports_out: ClassVar[bool] = False

    def kernel(self, x, out=None):
        return F.gelu(x, approximate=self.approximate)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        if self.approximate == "tanh":
            c = math.sqrt(2 / math.pi)
            inner = c * (x + 0.044715 * x * x * x)
            t = tanh(inner)
            slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
        else:
            cdf = 0.5 * (1 + erf(x * (1 / math.sqrt(2))))
            slope = cdf + x * exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return [g * slope]


def gelu(x, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _float_op(Gelu, x, approximate=approximate)


@dataclass(frozen=True)
class Round(Elementwise):
    decimals: int = 0
    name: ClassVar[str] = "round"

    def kernel(self, x, out=None):
        if not x.is_floating_point():
            return x.clone() if out is None else out.copy_(x)
        if out is None:
            return torch.round(x, decimals=self.decimals)
        return torch.round(x, decimals=self.decimals, out=out)

    def grad(self, inputs, outputs, output_grads):
        return [zeros_like(inputs[0])]


def round(x, decimals=0):
    """Round half to even, as NumPy does."""
    return Round(int(decimals))(as_variable(x))


@dataclass(frozen=True)
class Clip(Elementwise):
    lo: float | None = None
    hi: float | None = None
    name: ClassVar[str] = "clip"

    def kernel(self, x, out=None):
        if out is None:
            return torch.clamp(x, self.lo, self.hi)
        return torch.clamp(x, self.lo, self.hi, out=out)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        inside = None
        if self.lo is not None:
            inside = x >= self.lo
        if self.hi is not None:
            upper = x <= self.hi
            inside = upper if inside is None else logical_and(inside, upper)
        return [g if inside is None else g * _mask(inside, g)]


def clip(x, a_min=None, a_max=None):
    """Limit values to [a_min, a_max]; either bound may be None, a scalar or a tensor."""
    x = as_variable(x)
    scalar = lambda b: b is None or isinstance(b, (int, float, np.number))
    if scalar(a_min) and scalar(a_max):
        if a_min is None and a_max is None:
            raise ValueError("clip: give at least one of a_min and a_max")
        dtype = x.dtype if x.dtype.startswith("float") or all(
            b is None or float(b).is_integer() for b in (a_min, a_max)) else "float64"
        x = cast_to(x, dtype)
        conv = float if dtype.startswith("float") else int
        return Clip(None if a_min is None else conv(a_min), None if a_max is None else conv(a_max))(x)
    if a_min is not None:
        x = maximum(x, a_min)
    if a_max is not None:
        x = minimum(x, a_max)
    return x


@dataclass(frozen=True)
class Where(Elementwise):
    name: ClassVar[str] = "where"
    torch_fn: ClassVar = staticmethod(torch.where)

    def infer(self, cond, x, y):
        if cond.dtype != "bool":
            raise DTypeError(f"condition must be bool, got {cond.dtype}")
        if x.dtype != y.dtype:
            raise DTypeError(f"branches must share one dtype, got {x.dtype} and {y.dtype}")
        shape = broadcast_shapes(cond.type.shape, x.type.shape, y.type.shape)
        return [TensorType(x.dtype, shape)]

    def grad(self, inputs, outputs, output_grads):
        (c, x, y), (g,) = inputs, output_grads
        zero = zeros_like(g)
        return [None, where(c, g, zero), where(c, zero, g)]


def where(condition, x, y):
    """x where condition holds, else y (all three broadcast together)."""
    condition = as_variable(condition)
    if condition.dtype != "bool":
        condition = cast(condition, "bool")
    x, y = unify(x, y)
    return Where()(condition, x, y)


__all__ = [
    "Elementwise", "Unary", "Binary", "unary", "binary", "cast", "Cast", "where", "Where", "clip",
    "round", "leaky_relu", "elu", "gelu",
    "negative", "abs", "sign", "exp", "expm1", "log", "log1p", "log2", "sqrt", "rsqrt", "square",
    "reciprocal", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "sigmoid", "softplus", "relu", "silu", "erf", "floor", "ceil", "isnan", "isinf", "isfinite",
    "logical_not", "invert", "add", "subtract", "multiply", "divide", "true_divide",
    "floor_divide", "mod", "power", "arctan2", "maximum", "minimum", "equal", "not_equal",
    "less", "less_equal", "greater", "greater_equal", "logical_and", "logical_or",
    "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
]
