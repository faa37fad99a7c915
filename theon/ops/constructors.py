"""Tensors made from nothing but a shape: zeros, ones, full, arange, eye, *_like.

A shape may mix ints with symbolic int scalars (such as `x.shape[0]` of a dim unknown
until the call); the symbolic dims are inputs of the node and become constants once the
compiler specialises on the call's shapes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..backend.interop import torch_dtype
from ..errors import DTypeError, ShapeError
from ..graph import TensorType, Variable, canonical_dtype
from .base import Op, as_variable
from .broadcast import broadcast_to
from .dims import resolve_shape, runtime_shape, split_shape


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
    """A tensor of `shape` filled with `fill_value` (dtype from the value unless given)."""
    if isinstance(fill_value, Variable):
        value = fill_value if dtype is None else fill_value.astype(dtype)
        return broadcast_to(value, shape)
    dtype = canonical_dtype(dtype) if dtype is not None else _scalar_dtype(fill_value)
    template, dynamic = split_shape(shape)
    value = np.asarray(fill_value, dtype=dtype).item()
    return Full(value, dtype, template)(*dynamic)


def _scalar_dtype(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float32"
    return canonical_dtype(np.asarray(value).dtype)


def zeros(shape, dtype="float32"):
    return full(shape, 0, dtype)


def ones(shape, dtype="float32"):
    return full(shape, 1, dtype)


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

    def infer(self):
        n = max(0, int(np.ceil((self.stop - self.start) / self.step)))
        return [TensorType(self.dtype, (n,))]

    def kernel(self, device=None):
        return torch.arange(self.start, self.stop, self.step, dtype=torch_dtype(self.dtype),
                            device=device)


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in [start, stop), NumPy's arange (bounds are Python numbers)."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    if any(isinstance(v, Variable) for v in (start, stop, step)):
        raise ShapeError("arange: bounds must be Python numbers (the length must be static)")
    dtype = canonical_dtype(dtype) if dtype is not None else np.arange(start, stop, step).dtype.name
    return Arange(start, stop, step, dtype)()


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


def eye(n, m=None, k=0, dtype="float32"):
    """The n×m matrix with ones on diagonal k."""
    if not isinstance(n, (int, np.integer)) or (m is not None and not isinstance(m, (int, np.integer))):
        raise DTypeError("eye: n and m must be Python ints")
    return Eye(int(n), int(n if m is None else m), int(k), canonical_dtype(dtype))()
