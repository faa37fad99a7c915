"""Elementwise operators: NumPy names, broadcasting and type promotion.

Most are one table line: `unary(name, torch_fn, grad)` / `binary(...)`. The public
function casts its inputs to the dtype NumPy would compute in, so every kernel sees
inputs of one dtype and torch's own promotion rules never matter.
"""
from __future__ import annotations

import builtins
import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..backend.interop import torch_dtype
from ..errors import DTypeError
from ..graph import Constant, TensorType, Variable, canonical_dtype, constant, is_float
from ..graph.types import INT_DTYPES
from .axes import broadcast_shapes
from . import complex_special
from .base import Op, as_variable, check_fits, float_dtype, is_weak, promotion_operands, result_dtype
from .constructors import full_like


@dataclass(frozen=True)
class Elementwise(Op):
    elementwise: ClassVar[bool] = True
    supports_out: ClassVar[bool] = True
    allocates: ClassVar[bool] = True  # with or without out=, never a view of an input
    bool_out: ClassVar[bool] = False  # output is bool whatever the inputs
    ufunc: ClassVar = None            # the NumPy ufunc whose loops give the output dtype

    def infer(self, *inputs):
        dtypes = tuple(i.dtype for i in inputs)
        shape = broadcast_shapes(*(i.type.shape for i in inputs))
        if self.ufunc is not None:
            loop = loop_dtypes(self.ufunc, dtypes)
            if loop[:-1] != dtypes:
                raise DTypeError(f"inputs must be {', '.join(loop[:-1])} (NumPy's loop), "
                                 f"got {', '.join(dtypes)}")
            return [TensorType(loop[-1], shape)]
        if len(set(dtypes)) > 1:
            raise DTypeError(f"inputs must share one dtype, got {', '.join(dtypes)}")
        return [TensorType("bool" if self.bool_out else inputs[0].dtype, shape)]


@functools.lru_cache(maxsize=None)
def loop_dtypes(ufunc, operands: tuple) -> tuple:
    """NumPy's loop for these operands (dtype names, or Python types for weak scalars):
    the input dtypes it computes in, then the output dtype."""
    args = tuple(o if isinstance(o, type) else np.dtype(o) for o in operands)
    try:
        resolved = ufunc.resolve_dtypes(args + (None,) * ufunc.nout)
    except TypeError as e:
        names = ", ".join(o.__name__ if isinstance(o, type) else o for o in operands)
        raise DTypeError(f"{ufunc.__name__} does not take {names}: {e}") from None
    return tuple(np.dtype(d).name for d in resolved)


def _loop_inputs(ufunc, variables) -> list:
    """The inputs cast to the dtypes NumPy's ufunc loop computes in."""
    keys = tuple(p if isinstance(p, type) else p.name for p in promotion_operands(variables))
    loop = loop_dtypes(ufunc, keys)
    return [cast_to(v, d) for v, d in zip(variables, loop)]


def _refuse_complex_order(name, variables):
    if any(v.dtype.startswith("complex") for v in variables):
        raise DTypeError(f"{name}: complex numbers have no order (NumPy 2 and the Array API "
                         f"refuse it); compare th.real/th.abs of them instead")


def _make(name, base, fn, grad, bool_out=False, differentiable=True, supports_out=True, ufunc=None):
    attrs = {"name": name, "torch_fn": staticmethod(fn), "_grad": staticmethod(grad) if grad else None,
             "bool_out": bool_out, "differentiable": differentiable and not bool_out,
             "supports_out": supports_out, "ufunc": ufunc, "__module__": __name__,
             "__qualname__": _camel(name)}
    return dataclass(frozen=True)(type(_camel(name), (base,), attrs))


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


@dataclass(frozen=True)
class Unary(Elementwise):
    _grad: ClassVar = None

    def grad(self, inputs, outputs, output_grads):
        if self._grad is None:
            return [zeros_like(inputs[0])] if inputs[0].dtype.startswith("float") else [None]
        return [self._grad(*_conj_args(inputs[0], outputs[0]), output_grads[0])]


@dataclass(frozen=True)
class Binary(Elementwise):
    _grad: ClassVar = None

    def grad(self, inputs, outputs, output_grads):
        if self._grad is None:
            return [zeros_like(i) for i in inputs]
        return list(self._grad(*_conj_args(*inputs, outputs[0]), output_grads[0]))


def _conj_args(*values):
    """The grad rules are written as g * f'(x). For complex values theon follows torch's
    convention for a real loss L (the gradient is dL/dRe + i dL/dIm), under which a
    holomorphic f with real coefficients pulls g back as g * conj(f'(x)) = g * f'(conj(x)):
    the rule runs on the conjugated inputs and output."""
    if not any(v.dtype.startswith("complex") for v in values):
        return values
    return tuple(conj(v) if v.dtype.startswith("complex") else v for v in values)


def unary(name, fn, grad=None, *, ufunc=None, float_only=False, bool_out=False,
          differentiable=True, supports_out=True, orders=False):
    """Define a one-input elementwise op and its public function from a table line.

    `ufunc` is the NumPy function whose loops (input and output dtypes) apply;
    `float_only` casts integer inputs to the float dtype NumPy would give; `orders` refuses
    complex inputs (ops that compare values).
    """
    cls = _make(name, Unary, fn, grad, bool_out, differentiable, supports_out, ufunc)

    def public(x):
        x = as_variable(x)
        if orders:
            _refuse_complex_order(name, [x])
        if ufunc is not None:
            (x,) = _loop_inputs(ufunc, [x])
        elif float_only:
            if is_weak(x):
                x = cast_to(x, result_dtype(x))
            x = cast_to(x, float_dtype(x.dtype))
        return cls()(x)

    public.__name__ = public.__qualname__ = name
    public.__doc__ = f"Elementwise {name} (NumPy semantics)."
    public.op = cls
    return public


def binary(name, fn, grad=None, *, ufunc, bool_out=False, differentiable=True, supports_out=True,
           orders=False, compares=False, check=None):
    """Define a two-input elementwise op and its public function from a table line.

    `compares`: a comparison, which answers a Python int outside the other input's
    integer range without casting it (`uint8_x > -1` is all True, as in NumPy 2).
    `check(x, y)`: build-time validation of the loop-cast inputs.
    """
    cls = _make(name, Binary, fn, grad, bool_out, differentiable, supports_out, ufunc)

    def public(x, y):
        if compares:
            known = _out_of_range_comparison(ufunc, x, y)
            if known is not None:
                return known
        x, y = as_variable(x), as_variable(y)
        if orders:
            _refuse_complex_order(name, [x, y])
        x, y = _loop_inputs(ufunc, [x, y])
        if check is not None:
            check(x, y)
        return cls()(x, y)

    public.__name__ = public.__qualname__ = name
    public.__doc__ = f"Elementwise {name} with broadcasting (NumPy semantics)."
    public.op = cls
    return public


def _out_of_range_comparison(ufunc, x, y):
    """`int_tensor OP n` for a Python int n outside the tensor's range: every element
    compares the same way, so the answer is a constant of the tensor's shape."""
    for tensor, n, swapped in ((x, y, False), (y, x, True)):
        if not isinstance(tensor, Variable) or is_weak(tensor) \
                or not isinstance(n, int) or isinstance(n, (bool, np.generic)):
            continue
        if tensor.dtype not in INT_DTYPES:
            continue
        info = np.iinfo(tensor.dtype)
        if info.min <= n <= info.max:
            return None
        # any in-range stand-in on the same side of the range gives the same answers
        stand_in = np.array(info.max if n > info.max else info.min, tensor.dtype)
        probe = np.array(n, dtype=object)
        a, b = (probe, stand_in) if swapped else (stand_in, probe)
        value = bool(ufunc(a, b))
        return full_like(tensor, value, dtype="bool")
    return None


# ---- helpers used by gradient rules -----------------------------------------------------

def zeros_like(x, dtype=None):
    return full_like(x, 0, dtype)


def _mask(cond, like):
    """A 0/1 tensor of `like`'s dtype from a boolean condition."""
    return cast(cond, like.dtype)


# ---- kernels where torch's function differs from NumPy's ---------------------------------
# Each takes torch tensors already in NumPy's loop dtypes and an optional `out=`.

def _into(result, out):
    return result if out is None else out.copy_(result)


def _copy(x, out=None):
    return x.clone() if out is None else out.copy_(x)


def _abs(x, out=None):
    if x.dtype == torch.bool:
        return _copy(x, out)
    return torch.abs(x) if out is None else torch.abs(x, out=out)


def _sign(x, out=None):
    if x.is_complex():
        return _into(torch.sgn(x), out)     # z / |z|, NumPy 2's complex sign
    y = torch.sign(x) if out is None else torch.sign(x, out=out)
    if x.is_floating_point():
        y = torch.where(torch.isnan(x), x, y, out=y)  # torch's sign(nan) is 0; NumPy's is nan
    return y


def _rounding(fn):
    def kernel(x, out=None):
        if not (x.is_floating_point() or x.is_complex()):
            return _copy(x, out)   # integers and bools are already whole
        return fn(x) if out is None else fn(x, out=out)
    kernel.__name__ = fn.__name__
    return kernel


def _fmod(a, b):
    """C's fmod (exact). torch's vectorised fmod gives NaN when a / b overflows; there,
    reduce a by b * 2**k first (a multiple of b, so the remainder is unchanged), with k
    falling in steps small enough that some step neither overflows b * 2**k nor a / it."""
    mod = torch.fmod(a, b)
    bad = torch.isnan(mod) & torch.isfinite(a) & torch.isfinite(b) & (b != 0)
    if not bool(bad.any()):
        return mod
    info = np.finfo(str(a.dtype).replace("torch.", ""))
    gap = info.maxexp - info.minexp + info.nmant + 2      # the widest exponent difference
    r = a
    for k in range(gap, 0, -(info.maxexp // 2)):
        big = b
        for chunk in range(k, 0, -(info.maxexp - 1)):   # b * 2**k without 2**k overflowing
            big = big * 2.0 ** min(chunk, info.maxexp - 1)
        step = torch.fmod(r, big)
        r = torch.where(bad & torch.isfinite(big) & ~torch.isnan(step), step, r)
    return torch.where(bad, torch.fmod(r, b), mod)


def _safe_divisor(y):
    """Integer division by zero is 0 in NumPy (with a warning); torch raises. Divide by 1
    where y is 0 and zero those results."""
    zero = y == 0
    return zero, torch.where(zero, torch.ones_like(y), y)


def _float_divmod(a, b):
    """NumPy's float floor division and remainder (npy_divmod), step by step: the remainder
    takes the divisor's sign (zeros too), 1 // inf is 0 and -1 // inf is -1, and division
    by zero gives a / b and NaN. float16 computes in float32, as NumPy's half loops do."""
    half = a.dtype == torch.float16
    if half:
        a, b = a.float(), b.float()
    mod = _fmod(a, b)
    div = (a - mod) / b
    fix = (mod != 0) & ((b < 0) != (mod < 0))
    zero_mod = mod == 0
    mod = torch.where(fix, mod + b, mod)
    div = torch.where(fix, div - 1, div)
    mod = torch.where(zero_mod, torch.copysign(torch.zeros_like(mod), b), mod)
    floor = torch.floor(div)
    floor = torch.where(div - floor > 0.5, floor + 1, floor)
    quotient = a / b
    floor = torch.where(div == 0, torch.copysign(torch.zeros_like(div), quotient), floor)
    floor = torch.where(b == 0, quotient, floor)
    mod = torch.where(b == 0, torch.fmod(a, b), mod)
    if half:
        floor, mod = floor.half(), mod.half()
    return floor, mod


def _floor_divide(x, y, out=None):
    if x.is_floating_point():
        return _into(_float_divmod(x, y)[0], out)
    zero, safe = _safe_divisor(y)
    q = torch.floor_divide(x, safe)
    return _into(torch.where(zero, torch.zeros_like(q), q), out)


def _mod(x, y, out=None):
    if x.is_floating_point():
        return _into(_float_divmod(x, y)[1], out)
    zero, safe = _safe_divisor(y)
    r = torch.remainder(x, safe)
    return _into(torch.where(zero, torch.zeros_like(r), r), out)


def _power(x, y, out=None):
    if not (x.is_floating_point() or x.is_complex()) and x.dtype != torch.bool:
        if bool((y < 0).any()):
            raise ValueError("Integers to negative integer powers are not allowed.")
    return torch.pow(x, y) if out is None else torch.pow(x, y, out=out)


def _check_power(x, y):
    """Integer powers with a constant negative exponent fail when the graph is built."""
    if x.dtype in INT_DTYPES and isinstance(y, Constant) and y.value.size and (y.value < 0).any():
        raise ValueError("Integers to negative integer powers are not allowed "
                         f"(exponent {y.value.min()}; NumPy raises too): use a float base")


def _conj(x, out=None):
    if not x.is_complex():
        return _copy(x, out)
    return _into(torch.conj_physical(x), out)


# ---- one-input ops ----------------------------------------------------------------------

negative = unary("negative", torch.neg, lambda x, y, g: -g, ufunc=np.negative)
abs = unary("abs", _abs, lambda x, y, g: g * _abs_slope(x), ufunc=np.absolute)
sign = unary("sign", _sign, ufunc=np.sign)
exp = unary("exp", torch.exp, lambda x, y, g: g * y, ufunc=np.exp)
expm1 = unary("expm1", complex_special.expm1, lambda x, y, g: g * (y + 1), ufunc=np.expm1)
log = unary("log", torch.log, lambda x, y, g: g / x, ufunc=np.log)
log1p = unary("log1p", complex_special.log1p, lambda x, y, g: g / (x + 1), ufunc=np.log1p)
log2 = unary("log2", torch.log2, lambda x, y, g: g / (x * math.log(2.0)), ufunc=np.log2)
sqrt = unary("sqrt", torch.sqrt, lambda x, y, g: g / (y * 2), ufunc=np.sqrt)
rsqrt = unary("rsqrt", torch.rsqrt, lambda x, y, g: g * y / x * -0.5, float_only=True)
square = unary("square", torch.square, lambda x, y, g: g * x * 2, ufunc=np.square, supports_out=False)
reciprocal = unary("reciprocal", torch.reciprocal, lambda x, y, g: -g * y * y, float_only=True)
sin = unary("sin", torch.sin, lambda x, y, g: g * cos(x), ufunc=np.sin)
cos = unary("cos", torch.cos, lambda x, y, g: -g * sin(x), ufunc=np.cos)
tan = unary("tan", torch.tan, lambda x, y, g: g * (y * y + 1), ufunc=np.tan)
arcsin = unary("arcsin", torch.asin, lambda x, y, g: g * rsqrt(1 - x * x), ufunc=np.arcsin)
arccos = unary("arccos", complex_special.acos, lambda x, y, g: -g * rsqrt(1 - x * x), ufunc=np.arccos)
arctan = unary("arctan", torch.atan, lambda x, y, g: g / (x * x + 1), ufunc=np.arctan)
sinh = unary("sinh", torch.sinh, lambda x, y, g: g * cosh(x), ufunc=np.sinh)
cosh = unary("cosh", torch.cosh, lambda x, y, g: g * sinh(x), ufunc=np.cosh)
tanh = unary("tanh", torch.tanh, lambda x, y, g: g * (1 - y * y), ufunc=np.tanh)
sigmoid = unary("sigmoid", torch.sigmoid, lambda x, y, g: g * y * (1 - y), float_only=True)
softplus = unary("softplus", F.softplus, lambda x, y, g: g * sigmoid(x), float_only=True,
                 supports_out=False)
relu = unary("relu", torch.relu, lambda x, y, g: ReluGrad()(g, y), ufunc=np.negative,
             supports_out=False, orders=True)
silu = unary("silu", F.silu, lambda x, y, g: g * _silu_slope(x), float_only=True, supports_out=False)
erf = unary("erf", torch.erf, lambda x, y, g: g * exp(-x * x) * (2 / math.sqrt(math.pi)),
            float_only=True)
floor = unary("floor", _rounding(torch.floor), ufunc=np.floor, orders=True)
ceil = unary("ceil", _rounding(torch.ceil), ufunc=np.ceil, orders=True)
isnan = unary("isnan", torch.isnan, ufunc=np.isnan, bool_out=True, supports_out=False)
isinf = unary("isinf", torch.isinf, ufunc=np.isinf, bool_out=True, supports_out=False)
isfinite = unary("isfinite", torch.isfinite, ufunc=np.isfinite, bool_out=True, supports_out=False)
logical_not = unary("logical_not", torch.logical_not, ufunc=np.logical_not, bool_out=True)
invert = unary("invert", torch.bitwise_not, ufunc=np.invert, differentiable=False)
conj = unary("conj", _conj, lambda x, y, g: conj(g), ufunc=np.conjugate)
log10 = unary("log10", torch.log10, lambda x, y, g: g / (x * math.log(10.0)), ufunc=np.log10)
arcsinh = unary("arcsinh", torch.asinh, lambda x, y, g: g * rsqrt(x * x + 1), ufunc=np.arcsinh)
arccosh = unary("arccosh", torch.acosh, lambda x, y, g: g * rsqrt(x * x - 1), ufunc=np.arccosh)
arctanh = unary("arctanh", torch.atanh, lambda x, y, g: g / (1 - x * x), ufunc=np.arctanh)
trunc = unary("trunc", _rounding(torch.trunc), ufunc=np.trunc, orders=True)
signbit = unary("signbit", torch.signbit, ufunc=np.signbit, bool_out=True, supports_out=False)


def _abs_slope(x):
    """d|x|: sign(x) for reals; for complex x, under the conjugate convention, x / |x|
    (the rule receives conj(x), so conj back); 0 at 0 either way."""
    if x.dtype.startswith("complex"):
        return sign(conj(x))
    return sign(x)


def _silu_slope(x):
    s = sigmoid(x)
    return s * (1 + x * (1 - s))


def _real_dtype(dtype: str) -> str:
    return {"complex64": "float32", "complex128": "float64"}.get(dtype, dtype)


@dataclass(frozen=True)
class Real(Elementwise):
    """The real part (the value itself for real dtypes), NumPy's np.real."""
    name: ClassVar[str] = "real"
    supports_out: ClassVar[bool] = False

    def infer(self, x):
        return [x.type.with_dtype(_real_dtype(x.dtype))]

    def kernel(self, x):
        return (x.real if x.is_complex() else x).clone()

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [cast(g, x.dtype) if is_float(x.dtype) else None]


@dataclass(frozen=True)
class Imag(Elementwise):
    """The imaginary part (zeros for real dtypes), NumPy's np.imag."""
    name: ClassVar[str] = "imag"
    supports_out: ClassVar[bool] = False

    def infer(self, x):
        return [x.type.with_dtype(_real_dtype(x.dtype))]

    def kernel(self, x):
        return x.imag.clone() if x.is_complex() else torch.zeros_like(x)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        if not x.dtype.startswith("complex"):
            return [zeros_like(x) if is_float(x.dtype) else None]
        # torch's convention for a real loss: dL/dRe + i dL/dIm, here i * g
        return [cast(g, x.dtype) * 1j]


def real(x):
    """The real part of x (x itself for real dtypes)."""
    x = as_variable(x)
    return x if not x.dtype.startswith("complex") else Real()(x)


def imag(x):
    """The imaginary part of x (zeros of x's dtype for real dtypes)."""
    return Imag()(as_variable(x))


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
    safe_log = log(where(x > 0, x, 1)) if not x.dtype.startswith("complex") else log(x)
    return gx, g * out * safe_log


def _minmax_grad(pick):
    def rule(x, y, out, g):
        half = _mask(equal(x, y), g) * 0.5
        wx = _mask(pick(x, y), g) + half
        return g * wx, g * (1 - wx)
    return rule


add = binary("add", torch.add, lambda x, y, o, g: (g, g), ufunc=np.add)
subtract = binary("subtract", torch.sub, lambda x, y, o, g: (g, -g), ufunc=np.subtract)
multiply = binary("multiply", torch.mul, lambda x, y, o, g: (g * y, g * x), ufunc=np.multiply)
divide = binary("divide", torch.div, lambda x, y, o, g: (g / y, -g * o / y), ufunc=np.divide)
floor_divide = binary("floor_divide", _floor_divide, ufunc=np.floor_divide)
mod = binary("mod", _mod, lambda x, y, o, g: (g, -g * floor_divide(x, y)), ufunc=np.mod)
power = binary("power", _power, _pow_grad, ufunc=np.power, check=_check_power)
arctan2 = binary("arctan2", torch.atan2,
                 lambda y, x, o, g: (g * x / (x * x + y * y), -g * y / (x * x + y * y)),
                 ufunc=np.arctan2)
maximum = binary("maximum", torch.maximum, _minmax_grad(lambda x, y: x > y), ufunc=np.maximum,
                 orders=True)
minimum = binary("minimum", torch.minimum, _minmax_grad(lambda x, y: x < y), ufunc=np.minimum,
                 orders=True)
equal = binary("equal", torch.eq, ufunc=np.equal, bool_out=True, compares=True)
not_equal = binary("not_equal", torch.ne, ufunc=np.not_equal, bool_out=True, compares=True)
less = binary("less", torch.lt, ufunc=np.less, bool_out=True, orders=True, compares=True)
less_equal = binary("less_equal", torch.le, ufunc=np.less_equal, bool_out=True, orders=True,
                    compares=True)
greater = binary("greater", torch.gt, ufunc=np.greater, bool_out=True, orders=True, compares=True)
greater_equal = binary("greater_equal", torch.ge, ufunc=np.greater_equal, bool_out=True, orders=True,
                       compares=True)
logical_and = binary("logical_and", torch.logical_and, ufunc=np.logical_and, bool_out=True)
logical_or = binary("logical_or", torch.logical_or, ufunc=np.logical_or, bool_out=True)
logical_xor = binary("logical_xor", torch.logical_xor, ufunc=np.logical_xor, bool_out=True)
bitwise_and = binary("bitwise_and", torch.bitwise_and, ufunc=np.bitwise_and, differentiable=False)
bitwise_or = binary("bitwise_or", torch.bitwise_or, ufunc=np.bitwise_or, differentiable=False)
bitwise_xor = binary("bitwise_xor", torch.bitwise_xor, ufunc=np.bitwise_xor, differentiable=False)
true_divide = divide
copysign = binary("copysign", torch.copysign,
                  lambda x, y, o, g: (g * sign(x) * where(signbit(y), -1.0, 1.0), zeros_like(y)),
                  ufunc=np.copysign)
hypot = binary("hypot", torch.hypot, lambda x, y, o, g: (g * x / o, g * y / o), ufunc=np.hypot)
logaddexp = binary("logaddexp", torch.logaddexp,
                   lambda x, y, o, g: (g * exp(x - o), g * exp(y - o)), ufunc=np.logaddexp)
nextafter = binary("nextafter", torch.nextafter, ufunc=np.nextafter, differentiable=False)
left_shift = binary("left_shift", torch.bitwise_left_shift, ufunc=np.left_shift, differentiable=False)
right_shift = binary("right_shift", torch.bitwise_right_shift, ufunc=np.right_shift, differentiable=False)


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
        # float -> complex: the real part of g; complex -> float (NumPy drops the imaginary
        # part): g as the real part, as torch's convention for a real loss has it
        (x,), (g,) = inputs, output_grads
        if not is_float(x.dtype):
            return [None]
        if g.dtype.startswith("complex") and not x.dtype.startswith("complex"):
            g = real(g)
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
        if v.weak:
            check_fits(v.value.item(), dtype)
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
    """NumPy's round: half to even at `decimals` digits (negative: tens, hundreds...)."""
    decimals: int = 0
    name: ClassVar[str] = "round"

    def kernel(self, x, out=None):
        return _into(_round(x, self.decimals), out)

    def grad(self, inputs, outputs, output_grads):
        return [zeros_like(inputs[0])]


def _round(x, decimals):
    if x.is_complex():
        return torch.complex(_round(x.real, decimals), _round(x.imag, decimals))
    if x.is_floating_point() and x.dtype != torch.float16:
        return torch.round(x, decimals=decimals)
    if decimals >= 0 and not x.is_floating_point():
        return x.clone()   # integers are whole
    # NumPy's steps: x * 10**d (or / 10**-d), rint, then back, in float16 for float16 (which
    # may overflow) and in float64 for integers, cast back as astype does
    y = x if x.is_floating_point() else x.to(torch.float64)
    scale = 10.0 ** builtins.abs(decimals)
    if decimals >= 0:
        y = torch.round(y * scale) / scale
    else:
        y = torch.round(y / scale) * scale
    return y.to(x.dtype)


def round(x, decimals=0):
    """Round half to even, as NumPy does; integers round to tens, hundreds... when
    `decimals` is negative; bools round through float16 as in NumPy."""
    x = as_variable(x)
    if is_weak(x):
        x = cast_to(x, result_dtype(x))
    if isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)):
        raise TypeError(f"round: decimals must be an int, got {decimals!r}")
    if x.dtype == "bool":
        if decimals:
            raise DTypeError("round: bool tensors round only with decimals=0 (as in NumPy)")
        x = cast(x, "float16")
    return Round(int(decimals))(x)


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
    """Limit values to [a_min, a_max] (NumPy 2): either bound may be None, a scalar or a
    tensor; with neither, x itself. A Python-int bound beyond an integer dtype's range on the
    side that clips nothing is dropped (int8 in [-1000, 1000] is every int8); one that would
    clip everything outside the range is an OverflowError."""
    x = as_variable(x)
    if a_min is None and a_max is None:
        return x
    _refuse_complex_order("clip", [x] + [as_variable(b) for b in (a_min, a_max) if b is not None])
    scalar = lambda b: b is None or isinstance(b, (bool, int, float, np.number))
    if x.dtype in INT_DTYPES:
        info = np.iinfo(x.dtype)
        if _python_int(a_min) and a_min < info.min:
            a_min = None
        if _python_int(a_max) and a_max > info.max:
            a_max = None
        if a_min is None and a_max is None:
            return x
    if scalar(a_min) and scalar(a_max):
        bounds = [as_variable(b) for b in (a_min, a_max) if b is not None]
        dtype = result_dtype(x, *bounds)
        x = cast_to(x, dtype)
        lo, hi = (None if b is None else cast_to(as_variable(b), dtype).value.item() for b in (a_min, a_max))
        return Clip(lo, hi)(x)
    if a_min is not None:
        x = maximum(x, a_min)
    if a_max is not None:
        x = minimum(x, a_max)
    return x


def _python_int(b) -> bool:
    return isinstance(b, int) and not isinstance(b, (bool, np.generic))


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
    "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor", "conj", "real", "imag",
    "log10", "arcsinh", "arccosh", "arctanh", "trunc", "signbit", "copysign", "hypot", "logaddexp",
    "nextafter", "left_shift", "right_shift",
]
