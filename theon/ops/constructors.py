"""Tensors made from nothing but a shape: zeros, ones, full, arange, eye, *_like.

A shape may mix ints with symbolic int scalars (such as `x.shape[0]` of a dim unknown
until the call); the symbolic dims are inputs of the node and become constants once the
compiler specialises on the call's shapes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..backend.interop import torch_dtype
from ..errors import DTypeError, ShapeError
from ..graph import Constant, TensorType, Variable, canonical_dtype, default_dtype
from ..graph.types import DEFAULT_FLOAT, INT_DTYPES
from .base import Op, as_variable, check_fits
from .broadcast import broadcast_to
from .dims import resolve_shape, runtime_shape, shape_tuple, split_shape


@dataclass(frozen=True)
class Full(Op):
    value: object = 0
    dtype: str = "float32"
    template: tuple = ()
    name: ClassVar[str] = "full"
    differentiable: ClassVar[bool] = False
    needs_device: ClassVar[bool] = True

    def infer(self, *dims):
        return [TensorType(self.dtype, resolve_shape(self.template, dims))]

    def kernel(self, *dims, device=None):
        return torch.full(runtime_shape(self.template, dims), self.value,
                          dtype=torch_dtype(self.dtype), device=device)


def full(shape, fill_value, dtype=None):
    """A tensor of `shape` filled with `fill_value`. Without `dtype`, a Python float gives
    the default float dtype (float32), an int int64, a bool bool; NumPy scalars keep theirs."""
    if isinstance(fill_value, Variable):
        value = fill_value if dtype is None else fill_value.astype(dtype)
        return broadcast_to(value, shape)
    dtype = canonical_dtype(dtype) if dtype is not None else scalar_dtype(fill_value)
    template, dynamic = split_shape(shape)
    if dtype in INT_DTYPES:
        check_fits(fill_value, dtype)
    value = np.asarray(fill_value, dtype=dtype).item()
    return Full(value, dtype, template)(*dynamic)


def scalar_dtype(value) -> str:
    """The dtype a scalar gives with no other dtype to follow: the default-dtype rule for
    Python numbers (graph/types.py), a NumPy scalar's own dtype."""
    if isinstance(value, np.generic) or type(value).__module__ == "torch":
        return canonical_dtype(np.asarray(value).dtype)
    if isinstance(value, (bool, int, float, complex)):
        kind = np.asarray(value).dtype.kind
        return default_dtype(kind)
    return canonical_dtype(np.asarray(value).dtype)


def zeros(shape, dtype=None):
    """Zeros of `shape` (default float dtype, float32, unless `dtype` is given)."""
    return full(shape, 0.0, dtype)


def ones(shape, dtype=None):
    """Ones of `shape` (default float dtype, float32, unless `dtype` is given)."""
    return full(shape, 1.0, dtype)


@dataclass(frozen=True)
class Empty(Op):
    """A tensor of `template`'s shape whose values are unspecified (NumPy's empty)."""
    dtype: str = "float32"
    template: tuple = ()
    name: ClassVar[str] = "empty"
    differentiable: ClassVar[bool] = False
    needs_device: ClassVar[bool] = True
    impure: ClassVar[bool] = True   # nothing to fold: its values are whatever memory held

    def infer(self, *dims):
        return [TensorType(self.dtype, resolve_shape(self.template, dims))]

    def kernel(self, *dims, device=None):
        return torch.empty(runtime_shape(self.template, dims), dtype=torch_dtype(self.dtype), device=device)


def empty(shape, dtype=None):
    """A tensor of `shape` with unspecified values (default float dtype, float32)."""
    template, dynamic = split_shape(shape)
    return Empty(canonical_dtype(dtype or DEFAULT_FLOAT), template)(*dynamic)


def empty_like(x, dtype=None):
    """A tensor of x's shape (and dtype unless given) with unspecified values."""
    x = as_variable(x)
    return empty(shape_tuple(x), x.dtype if dtype is None else dtype)


@dataclass(frozen=True)
class FullLike(Op):
    value: object = 0
    dtype: str = "float32"
    name: ClassVar[str] = "full_like"
    differentiable: ClassVar[bool] = False

    def infer(self, x):
        return [x.type.with_dtype(self.dtype)]

    def kernel(self, x):
        return torch.full(x.shape, self.value, dtype=torch_dtype(self.dtype), device=x.device)

    def grad(self, inputs, outputs, output_grads):
        return [None]


def full_like(x, fill_value, dtype=None):
    x = as_variable(x)
    dtype = canonical_dtype(dtype) if dtype is not None else x.dtype
    return FullLike(np.asarray(fill_value, dtype=dtype).item(), dtype)(x)


def zeros_like(x, dtype=None):
    return full_like(x, 0, dtype)


def ones_like(x, dtype=None):
    return full_like(x, 1, dtype)


@dataclass(frozen=True)
class Arange(Op):
    start: float = 0
    stop: float = 0
    step: float = 1
    dtype: str = "int64"
    name: ClassVar[str] = "arange"
    differentiable: ClassVar[bool] = False
    needs_device: ClassVar[bool] = True

    @property
    def length(self) -> int:
        """NumPy's length: ceil((stop - start) / step), or 0 when the range is empty."""
        return _arange_length(self.start, self.stop, self.step)

    def infer(self):
        return [TensorType(self.dtype, (self.length,))]

    def kernel(self, device=None):
        n, tdtype = self.length, torch_dtype(self.dtype)
        if all(isinstance(v, int) for v in (self.start, self.stop, self.step)):
            return torch.arange(n, dtype=torch.int64, device=device).mul_(self.step).add_(self.start).to(tdtype)
        # start + i * step for exactly `length` values, as NumPy fills them
        i = torch.arange(n, dtype=torch.float64, device=device)
        return (i * self.step + self.start).to(tdtype)


def _arange_length(start, stop, step) -> int:
    if all(isinstance(v, int) for v in (start, stop, step)):
        return max(0, -(-(stop - start) // step))
    return max(0, int(math.ceil((stop - start) / step)))


def _bound(v, what):
    if isinstance(v, Variable):
        raise ShapeError(f"{what}: bounds must be Python numbers (the length must be static)")
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what}: bounds must be real numbers, got {v!r}")
    return int(v) if isinstance(v, (int, np.integer)) else float(v)


@dataclass(frozen=True)
class SymbolicArange(Op):
    """arange whose bounds may be symbolic scalars (`x.shape[0]`, a function input): each
    None in `template` (start, stop, step) is the next input. The length is known once the
    bounds are (shape-derived ones fold to constants when the function is specialised)."""
    template: tuple = (0, 0, 1)
    dtype: str = "int64"
    name: ClassVar[str] = "arange_symbolic"
    capturable: ClassVar[bool] = False  # reads its bounds on the host
    differentiable: ClassVar[bool] = False
    needs_device: ClassVar[bool] = True

    def infer(self, *bounds):
        for b in bounds:
            if b.ndim != 0 or b.dtype == "bool" or b.dtype.startswith("complex"):
                raise ShapeError(f"arange: a symbolic bound must be a real scalar, got {b.type}")
        values = _fill(self.template, [b.value.item() if isinstance(b, Constant) else None for b in bounds])
        if values[2] == 0:
            raise ValueError("arange: step must not be zero")
        n = None if None in values else _arange_length(*values)
        return [TensorType(self.dtype, (n,))]

    def kernel(self, *bounds, device=None):
        start, stop, step = _fill(self.template, [b.item() for b in bounds])
        if step == 0:
            raise ValueError("arange: step must not be zero (a symbolic step was 0 at run time)")
        return Arange(start, stop, step, self.dtype).kernel(device=device)


def _fill(template, values):
    it = iter(values)
    return [t if t is not None else next(it) for t in template]


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in [start, stop), NumPy's arange; empty when the range is.
    Bounds are Python numbers or real scalar variables (`th.arange(x.shape[0])`), whose
    length is then known when the function runs. Without `dtype`: int64 for ints, the
    default float dtype (float32) when a bound is a Python float, a NumPy scalar bound's
    dtype otherwise."""
    if stop is None:
        start, stop = 0, start
    raw = (start, stop, step)
    if any(isinstance(v, Variable) and not isinstance(v, Constant) for v in raw):
        return _symbolic_arange(raw, dtype)
    raw = tuple(v.value.item() if isinstance(v, Constant) else v for v in raw)
    start, stop, step = (_bound(v, "arange") for v in raw)
    if step == 0:
        raise ValueError("arange: step must not be zero")
    if dtype is None:
        dtype = _numbers_dtype(raw)
    dtype = canonical_dtype(dtype)
    return Arange(start, stop, step, dtype)()


def _symbolic_arange(raw, dtype):
    template, dynamic = [], []
    for v in raw:
        if isinstance(v, Variable):
            template.append(None)
            dynamic.append(v)
        else:
            template.append(_bound(v, "arange"))
    if dtype is None:
        floats = [v.dtype for v in dynamic if v.dtype.startswith(("float", "bfloat"))]
        dtype = floats[0] if floats else (DEFAULT_FLOAT if any(isinstance(t, float) for t in template)
                                          else "int64")
    return SymbolicArange(tuple(template), canonical_dtype(dtype))(*dynamic)


def _numbers_dtype(values) -> str:
    """The dtype NumPy gives these numbers, with Python floats at the default float dtype."""
    numpy_dtype = np.result_type(*values)
    if numpy_dtype.kind == "f" and not any(isinstance(v, np.floating) for v in values):
        return DEFAULT_FLOAT
    return canonical_dtype(numpy_dtype)


@dataclass(frozen=True)
class Linspace(Op):
    start: float = 0.0
    stop: float = 1.0
    num: int = 50
    endpoint: bool = True
    dtype: str = "float32"
    name: ClassVar[str] = "linspace"
    differentiable: ClassVar[bool] = False
    needs_device: ClassVar[bool] = True

    def infer(self):
        return [TensorType(self.dtype, (self.num,))]

    def kernel(self, device=None):
        div = self.num - 1 if self.endpoint else self.num
        i = torch.arange(self.num, dtype=torch.float64, device=device)
        step = (self.stop - self.start) / div if div > 0 else 0.0
        y = self.start + i * step
        if self.endpoint and self.num > 1:
            y[-1] = self.stop   # exact, as NumPy makes it
        return y.to(torch_dtype(self.dtype))


def linspace(start, stop, num=50, endpoint=True, dtype=None):
    """`num` evenly spaced values from start to stop (NumPy's linspace; default float dtype)."""
    start, stop = (_bound(v, "linspace") for v in (start, stop))
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 0:
        raise ValueError(f"linspace: num must be a non-negative int, got {num!r}")
    if dtype is None:
        dtype = _numbers_dtype((start, stop, 0.0))
    return Linspace(float(start), float(stop), int(num), bool(endpoint), canonical_dtype(dtype))()


@dataclass(frozen=True)
class Eye(Op):
    n: int = 1
    m: int = 1
    k: int = 0
    dtype: str = "float32"
    name: ClassVar[str] = "eye"
    differentiable: ClassVar[bool] = False
    needs_device: ClassVar[bool] = True

    def infer(self):
        return [TensorType(self.dtype, (self.n, self.m))]

    def kernel(self, device=None):
        out = torch.zeros(self.n, self.m, dtype=torch_dtype(self.dtype), device=device)
        out.diagonal(self.k).fill_(1)
        return out


def eye(n, m=None, k=0, dtype=None):
    """The n×m matrix with ones on diagonal k (default float dtype, float32)."""
    if not isinstance(n, (int, np.integer)) or (m is not None and not isinstance(m, (int, np.integer))):
        raise DTypeError("eye: n and m must be Python ints")
    if n < 0 or (m is not None and m < 0):
        raise ShapeError(f"eye: negative dimension ({n}, {m})")
    return Eye(int(n), int(n if m is None else m), int(k), canonical_dtype(dtype or DEFAULT_FLOAT))()

