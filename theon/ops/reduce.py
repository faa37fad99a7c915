"""Reductions and scans: sum, prod, mean, var, std, max, min, argmax, argmin, logsumexp,
any, all, cumsum, cumprod (NumPy names and dtype rules).

The public functions cast the input to the dtype NumPy computes in (ints sum in int64,
mean in float64, ...) before building the op, so each op's output dtype is its input's
and kernels never rely on torch's own promotion. Gradients are theon graphs built from
differentiable ops, so second derivatives work.
"""
from __future__ import annotations

import builtins
import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from ..errors import DTypeError, GradientError, ShapeError
from ..graph import TensorType, canonical_dtype, format_shape, is_float
from .axes import axes_arg, axis_arg, check_axes
from .base import Op, as_variable
from .broadcast import BroadcastLike
from .constructors import full
from .dims import dim
from .elementwise import cast, cast_to, equal, exp, logical_and, where
from .shape import concatenate, expand_dims, ravel


def _axes(axis, ndim: int) -> tuple:
    # invalid axes pass through raw so that infer rejects them naming the user's line
    if ndim == 0 and axis is not None:
        # a 0-d tensor has no axes to reduce; NumPy accepts axis=0 and -1 for it
        raw = axes_arg(axis, 1)
        return () if builtins.all(a == 0 for a in raw) else raw
    return axes_arg(axis, ndim)


def _reduced_shape(shape, axes, keepdims) -> tuple:
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def _spread(g, x, axes, keepdims):
    """A reduced gradient `g` broadcast back over x's shape (same dtype as g)."""
    if not axes:
        return g
    if not keepdims:
        g = expand_dims(g, axes)
    return BroadcastLike()(g, x)


def _count(x, axes, dtype):
    """How many elements each reduction combines: a float, or a scalar of `dtype` when a dim
    is unknown until the call."""
    n, symbolic = 1, None
    for a in axes:
        d = dim(x, a)
        if isinstance(d, int):
            n *= d
        else:
            symbolic = d if symbolic is None else symbolic * d
    if symbolic is None:
        return float(n)
    return cast_to(symbolic * n if n != 1 else symbolic, dtype)


def _float_input(x):
    """NumPy's float dtype for mean/var of `x`: ints and bools give float64."""
    return x if is_float(x.dtype) else cast_to(x, "float64")


def _sum_dtype(x, dtype):
    """NumPy's accumulator dtype for sum/prod/cumsum: bool and ints give int64."""
    if dtype is not None:
        return canonical_dtype(dtype)
    return "int64" if x.dtype == "bool" or x.dtype.startswith(("int", "uint")) else x.dtype


@dataclass(frozen=True)
class Reduction(Op):
    """Reduce `axes` (a sorted tuple; empty means nothing to reduce). Subclasses define
    `reduce(x, out)`, the torch reduction over a non-empty `axes`."""
    axes: tuple = ()
    keepdims: bool = False
    bool_out: ClassVar[bool] = False
    needs_elements: ClassVar[bool] = False  # max/min: an empty reduction has no value
    float_only: ClassVar[bool] = False       # mean/var/std/logsumexp: the public fn casts

    def out_dtype(self, dtype: str) -> str:
        return "bool" if self.bool_out else dtype

    def infer(self, x):
        check_axes(self.axes, x.type.shape)
        if self.float_only and not is_float(x.dtype):
            raise DTypeError(f"{self.name} computes in a float dtype, got {x.dtype}")
        if self.needs_elements and builtins.any(x.type.shape[a] == 0 for a in self.axes):
            raise ShapeError(f"cannot take the {self.name} over a zero-size axis of shape "
                             f"{format_shape(x.type.shape)} (axes {self.axes})")
        shape = _reduced_shape(x.type.shape, self.axes, self.keepdims)
        return [TensorType(self.out_dtype(x.dtype), shape)]

    def kernel(self, x, out=None):
        if not self.axes:  # torch reads an empty dim list as "all dims"
            y = self.identity(x)
        else:
            y = self.reduce(x, out)
            if y is out:
                return out
        return y if out is None else out.copy_(y)

    def identity(self, x):
        return x.clone()

    def spread(self, g, x):
        return _spread(g, x, self.axes, self.keepdims)


@dataclass(frozen=True)
class Sum(Reduction):
    name: ClassVar[str] = "sum"
    supports_out: ClassVar[bool] = True

    def reduce(self, x, out):
        if out is not None:
            return torch.sum(x, self.axes, self.keepdims, dtype=x.dtype, out=out)
        return torch.sum(x, self.axes, self.keepdims, dtype=x.dtype)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [self.spread(g, x) if is_float(x.dtype) else None]


@dataclass(frozen=True)
class Prod(Reduction):
    name: ClassVar[str] = "prod"

    def reduce(self, x, out):
        for a in reversed(self.axes):  # torch.prod takes one dim at a time
            x = torch.prod(x, a, keepdim=True, dtype=x.dtype)
        return x if self.keepdims else x.reshape(_reduced_shape(x.shape, self.axes, False))

    def grad(self, inputs, outputs, output_grads):
        (x,), (y,), (g,) = inputs, outputs, output_grads
        if not is_float(x.dtype):
            return [None]
        # d prod / d x_k is the product of the others: y / x_k without zeros; with exactly one
        # zero in a slice only that element's gradient is nonzero; with more, none is.
        zero = equal(x, 0)
        safe = where(zero, 1.0, x)
        zeros_in_slice = self.spread(sum(cast(zero, "int64"), self.axes, keepdims=self.keepdims), x)
        others = self.spread(prod(safe, self.axes, keepdims=self.keepdims), x)
        lone_zero = logical_and(zero, equal(zeros_in_slice, 1))
        slope = where(equal(zeros_in_slice, 0), self.spread(y, x) / safe, where(lone_zero, others, 0.0))
        return [self.spread(g, x) * slope]


@dataclass(frozen=True)
class Mean(Reduction):
    name: ClassVar[str] = "mean"
    float_only: ClassVar[bool] = True
    supports_out: ClassVar[bool] = True

    def reduce(self, x, out):
        if out is not None:
            return torch.mean(x, self.axes, self.keepdims, out=out)
        return torch.mean(x, self.axes, self.keepdims)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [self.spread(g, x) / _count(x, self.axes, x.dtype)]


@dataclass(frozen=True)
class Var(Reduction):
    ddof: float = 0
    name: ClassVar[str] = "var"
    float_only: ClassVar[bool] = True

    def out_dtype(self, dtype):
        return {"complex64": "float32", "complex128": "float64"}.get(dtype, dtype)

    def identity(self, x):
        # one element per "slice": NumPy's |x - x|**2 / max(1 - ddof, 0), so NaN and
        # infinities give NaN, and so does a ddof that leaves no degrees of freedom
        d = (x - x).abs()
        return d * d / builtins.max(1 - self.ddof, 0)

    def reduce(self, x, out):
        return torch.var(x, self.axes, correction=self.ddof, keepdim=self.keepdims)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [_var_grad(self, x, g)]


def _var_grad(op, x, g):
    """Gradient of var(x) for an output gradient g: 2 (x - mean) / (N - ddof) * g."""
    if x.dtype.startswith("complex"):
        raise GradientError(f"{op.name} of a complex tensor has no gradient here")
    centred = x - mean(x, op.axes, keepdims=True)
    n = _count(x, op.axes, x.dtype)
    if isinstance(n, float):
        scale = 2.0 / (n - op.ddof) if n != op.ddof else math.inf
    else:
        scale = 2.0 / (n - op.ddof)
    return op.spread(g, x) * centred * scale


@dataclass(frozen=True)
class Std(Var):
    name: ClassVar[str] = "std"

    def identity(self, x):
        return torch.sqrt(super().identity(x))

    def reduce(self, x, out):
        return torch.std(x, self.axes, correction=self.ddof, keepdim=self.keepdims)

    def grad(self, inputs, outputs, output_grads):
        (x,), (y,), (g,) = inputs, outputs, output_grads
        return [_var_grad(self, x, g / (y * 2))]


@dataclass(frozen=True)
class Max(Reduction):
    name: ClassVar[str] = "max"
    supports_out: ClassVar[bool] = True
    needs_elements: ClassVar[bool] = True
    torch_reduce: ClassVar = staticmethod(torch.amax)

    def infer(self, x):
        if x.dtype.startswith("complex"):
            raise DTypeError(f"{self.name} does not order complex numbers")
        return super().infer(x)

    def reduce(self, x, out):
        if out is not None:
            return self.torch_reduce(x, self.axes, self.keepdims, out=out)
        return self.torch_reduce(x, self.axes, self.keepdims)

    def grad(self, inputs, outputs, output_grads):
        (x,), (y,), (g,) = inputs, outputs, output_grads
        if not is_float(x.dtype):
            return [None]
        # ties share the gradient evenly, as torch's amax does
        hit = cast(equal(x, self.spread(y, x)), x.dtype)
        ties = sum(hit, self.axes, keepdims=True)
        return [self.spread(g, x) * hit / BroadcastLike()(ties, x)]


@dataclass(frozen=True)
class Min(Max):
    name: ClassVar[str] = "min"
    torch_reduce: ClassVar = staticmethod(torch.amin)


@dataclass(frozen=True)
class LogSumExp(Reduction):
    name: ClassVar[str] = "logsumexp"
    float_only: ClassVar[bool] = True

    def reduce(self, x, out):
        return torch.logsumexp(x, self.axes, self.keepdims)

    def grad(self, inputs, outputs, output_grads):
        (x,), (y,), (g,) = inputs, outputs, output_grads
        return [self.spread(g, x) * exp(x - self.spread(y, x))]


@dataclass(frozen=True)
class Any(Reduction):
    name: ClassVar[str] = "any"
    bool_out: ClassVar[bool] = True
    differentiable: ClassVar[bool] = False
    torch_reduce: ClassVar = staticmethod(torch.any)

    def identity(self, x):
        return x != 0

    def reduce(self, x, out):
        # torch's any/all keep uint8 (and reject some dtypes); NumPy's answer is always bool
        if x.dtype != torch.bool:
            x = x != 0
        return self.torch_reduce(x, self.axes, keepdim=self.keepdims)

    def grad(self, inputs, outputs, output_grads):
        return [None]


@dataclass(frozen=True)
class All(Any):
    name: ClassVar[str] = "all"
    torch_reduce: ClassVar = staticmethod(torch.all)


@dataclass(frozen=True)
class ArgMax(Op):
    """Index of the first maximum along `axis` (of the flattened tensor when axis is None)."""
    axis: int | None = None
    keepdims: bool = False
    name: ClassVar[str] = "argmax"
    differentiable: ClassVar[bool] = False
    torch_fn: ClassVar = staticmethod(torch.argmax)

    def infer(self, x):
        axes = tuple(range(x.ndim)) if self.axis is None else (self.axis,)
        check_axes(axes, x.type.shape)
        if builtins.any(x.type.shape[a] == 0 for a in axes):
            raise ShapeError(f"cannot take the {self.name} of a zero-size axis of shape "
                             f"{format_shape(x.type.shape)}")
        if x.dtype.startswith("complex"):
            raise DTypeError(f"{self.name} does not order complex numbers")
        return [TensorType("int64", _reduced_shape(x.type.shape, axes, self.keepdims))]

    def kernel(self, x):
        if x.dtype == torch.bool:
            x = x.to(torch.uint8)
        if self.axis is None:
            y = self.torch_fn(x.reshape(-1))
            return y.reshape((1,) * x.ndim) if self.keepdims else y
        return self.torch_fn(x, self.axis, self.keepdims)

    def grad(self, inputs, outputs, output_grads):
        return [None]


@dataclass(frozen=True)
class ArgMin(ArgMax):
    name: ClassVar[str] = "argmin"
    torch_fn: ClassVar = staticmethod(torch.argmin)


@dataclass(frozen=True)
class Cumsum(Op):
    """Running sum along `axis`; `reverse` sums from the end (the gradient of cumsum)."""
    axis: int = 0
    reverse: bool = False
    name: ClassVar[str] = "cumsum"

    def infer(self, x):
        check_axes((self.axis,), x.type.shape)
        return [x.type]

    def kernel(self, x):
        if self.reverse:
            return torch.cumsum(x.flip(self.axis), self.axis, dtype=x.dtype).flip(self.axis)
        return torch.cumsum(x, self.axis, dtype=x.dtype)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [Cumsum(self.axis, not self.reverse)(g) if is_float(x.dtype) else None]


@dataclass(frozen=True)
class Cumprod(Op):
    axis: int = 0
    name: ClassVar[str] = "cumprod"

    def infer(self, x):
        check_axes((self.axis,), x.type.shape)
        return [x.type]

    def kernel(self, x):
        return torch.cumprod(x, self.axis, dtype=x.dtype)

    def grad(self, inputs, outputs, output_grads):
        (x,), (y,), (g,) = inputs, outputs, output_grads
        if not is_float(x.dtype):
            return [None]
        a = self.axis
        back = Cumsum(a, reverse=True)
        # before a slice's first zero: sum_{j>=k} g_j y_j / x_k. At the first zero z: the same
        # sum with x_z taken as 1 (y' below). After it every product holds that zero: 0.
        zero = equal(x, 0)
        zeros_so_far = Cumsum(a)(cast(zero, "int64"))
        first_zero = logical_and(zero, equal(zeros_so_far, 1))
        before = back(g * y) / where(zero, 1.0, x)
        at_zero = back(g * Cumprod(a)(where(first_zero, 1.0, x)))
        return [where(equal(zeros_so_far, 0), before, where(first_zero, at_zero, 0.0))]


# ---- public functions (NumPy signatures; options after `axis`/`dtype` are keywords) -------

def sum(x, axis=None, dtype=None, *, keepdims=False):
    """Sum over `axis` (all axes when None); bools and ints sum in int64 as in NumPy."""
    x = as_variable(x)
    x = cast_to(x, _sum_dtype(x, dtype))
    return Sum(_axes(axis, x.ndim), bool(keepdims))(x)


def prod(x, axis=None, dtype=None, *, keepdims=False):
    x = as_variable(x)
    x = cast_to(x, _sum_dtype(x, dtype))
    return Prod(_axes(axis, x.ndim), bool(keepdims))(x)


def mean(x, axis=None, dtype=None, *, keepdims=False):
    """Arithmetic mean; ints give float64 as in NumPy."""
    x = as_variable(x)
    x = cast_to(x, dtype) if dtype is not None else _float_input(x)
    return Mean(_axes(axis, x.ndim), bool(keepdims))(x)


def var(x, axis=None, dtype=None, *, ddof=0, keepdims=False):
    """Variance, dividing by N - ddof."""
    x = as_variable(x)
    x = cast_to(x, dtype) if dtype is not None else _float_input(x)
    return Var(_axes(axis, x.ndim), bool(keepdims), _ddof(ddof))(x)


def std(x, axis=None, dtype=None, *, ddof=0, keepdims=False):
    """Standard deviation, dividing by N - ddof."""
    x = as_variable(x)
    x = cast_to(x, dtype) if dtype is not None else _float_input(x)
    return Std(_axes(axis, x.ndim), bool(keepdims), _ddof(ddof))(x)


def _ddof(ddof):
    return int(ddof) if float(ddof).is_integer() else float(ddof)


def max(x, axis=None, *, keepdims=False):
    """Largest element over `axis` (NumPy's amax); NaN propagates."""
    x = as_variable(x)
    return Max(_axes(axis, x.ndim), bool(keepdims))(x)


def min(x, axis=None, *, keepdims=False):
    """Smallest element over `axis` (NumPy's amin); NaN propagates."""
    x = as_variable(x)
    return Min(_axes(axis, x.ndim), bool(keepdims))(x)


amax, amin = max, min


def argmax(x, axis=None, *, keepdims=False):
    """Index (int64) of the first maximum along `axis`, or in the flattened tensor."""
    x = as_variable(x)
    return ArgMax(_arg_axis(axis, x.ndim), bool(keepdims))(x)


def argmin(x, axis=None, *, keepdims=False):
    x = as_variable(x)
    return ArgMin(_arg_axis(axis, x.ndim), bool(keepdims))(x)


def _arg_axis(axis, ndim):
    if axis is None or ndim == 0:
        return None
    return axis_arg(axis, ndim)


def logsumexp(x, axis=None, *, keepdims=False):
    """log(sum(exp(x))) computed without overflow; ints give float64."""
    x = _float_input(as_variable(x))
    return LogSumExp(_axes(axis, x.ndim), bool(keepdims))(x)


def any(x, axis=None, *, keepdims=False):
    """Whether any element along `axis` is nonzero (bool)."""
    x = as_variable(x)
    return Any(_axes(axis, x.ndim), bool(keepdims))(x)


def all(x, axis=None, *, keepdims=False):
    """Whether every element along `axis` is nonzero (bool)."""
    x = as_variable(x)
    return All(_axes(axis, x.ndim), bool(keepdims))(x)


def _scan(cls, x, axis, dtype):
    x = as_variable(x)
    x = cast_to(x, _sum_dtype(x, dtype))
    if axis is None or x.ndim == 0:
        x, axis = ravel(x), 0
    return cls(axis_arg(axis, x.ndim))(x)


def cumsum(x, axis=None, dtype=None):
    """Running sum along `axis` (of the flattened tensor when None)."""
    return _scan(Cumsum, x, axis, dtype)


def cumprod(x, axis=None, dtype=None):
    """Running product along `axis` (of the flattened tensor when None)."""
    return _scan(Cumprod, x, axis, dtype)


def _cumulative(cls, identity, x, axis, dtype, include_initial):
    x = as_variable(x)
    if axis is None:
        if x.ndim > 1:
            raise ValueError(f"{cls.name}: axis is required for a tensor of more than one dimension "
                             f"(shape {format_shape(x.type.shape)})")
        axis = 0
    y = _scan(cls, x, axis, dtype)
    if not include_initial:
        return y
    axis = y.ndim - 1 if x.ndim == 0 else axis_arg(axis, y.ndim)
    first = full(tuple(1 if a == axis else dim(y, a) for a in range(y.ndim)), identity, y.dtype)
    return concatenate([first, y], axis=axis)


def cumulative_sum(x, axis=None, dtype=None, include_initial=False):
    """NumPy 2's cumulative_sum: cumsum along `axis` (required past 1-D), with a leading 0
    when include_initial."""
    return _cumulative(Cumsum, 0, x, axis, dtype, include_initial)


def cumulative_prod(x, axis=None, dtype=None, include_initial=False):
    """NumPy 2's cumulative_prod: cumprod along `axis` (required past 1-D), with a leading 1
    when include_initial."""
    return _cumulative(Cumprod, 1, x, axis, dtype, include_initial)


__all__ = [
    "cumulative_sum", "cumulative_prod", "sum", "prod", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin",
    "logsumexp", "any", "all", "cumsum", "cumprod",
    "Reduction", "Sum", "Prod", "Mean", "Var", "Std", "Max", "Min", "LogSumExp", "Any", "All",
    "ArgMax", "ArgMin", "Cumsum", "Cumprod",
]
