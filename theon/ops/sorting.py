"""Sorting: sort, argsort and top-k along an axis. The index ops are not differentiable;
values follow from the indices with take_along_axis, which carries gradients (so a sort's
gradient scatters back to where each value came from). Sorts are stable (ties keep their
order) and NaN sorts last, as in NumPy."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..errors import DTypeError, ShapeError
from ..graph import TensorType
from .axes import normalize_axis
from .base import Op, as_variable, user_errors
from .index import take_along_axis
from .shape import ravel

__all__ = ["TopKIndices", "ArgSort", "topk", "sort", "argsort"]


@dataclass(frozen=True)
class TopKIndices(Op):
    k: int = 1
    axis: int = -1
    largest: bool = True
    name: ClassVar[str] = "topk_indices"
    differentiable: ClassVar[bool] = False

    def infer(self, x):
        if not 0 <= self.axis < x.ndim:
            raise ShapeError(f"topk: axis {self.axis} is out of range for rank {x.ndim}")
        n = x.type.shape[self.axis]
        if n is not None and self.k > n:
            raise ShapeError(f"topk: k={self.k} is larger than the axis ({n})")
        shape = list(x.type.shape)
        shape[self.axis] = self.k
        return [TensorType("int64", shape)]

    def kernel(self, x):
        order = torch.sort(x, dim=self.axis, descending=self.largest, stable=True).indices
        return order.narrow(self.axis, 0, self.k).contiguous()


@dataclass(frozen=True)
class ArgSort(Op):
    axis: int = -1
    descending: bool = False
    name: ClassVar[str] = "argsort"
    differentiable: ClassVar[bool] = False

    def infer(self, x):
        if x.dtype.startswith("complex"):
            raise DTypeError("complex numbers have no order (NumPy 2 and the Array API refuse to sort them)")
        return [TensorType("int64", x.type.shape)]

    def kernel(self, x):
        return torch.sort(x, dim=self.axis, descending=self.descending, stable=True).indices


def _axis(x, axis):
    """(x, axis): a flattened x for axis=None, as numpy.sort."""
    if axis is None:
        return ravel(x), 0
    (axis,) = normalize_axis(axis, x.ndim)
    return x, axis


@user_errors
def argsort(x, axis=-1, descending=False, stable=True):
    """Indices that sort x along `axis` (the flattened x for axis=None); ties keep their
    order, NaN last."""
    x = as_variable(x)
    if x.ndim == 0 and axis is not None:
        raise ShapeError("argsort: x must have at least one dimension (or axis=None)")
    x, axis = _axis(x, axis)
    return ArgSort(axis, bool(descending))(x)


@user_errors
def sort(x, axis=-1, descending=False, stable=True):
    """x sorted along `axis` (the flattened x for axis=None), NaN last. Differentiable:
    the gradient goes back to where each value came from."""
    x = as_variable(x)
    if x.ndim == 0 and axis is not None:
        raise ShapeError("sort: x must have at least one dimension (or axis=None)")
    x, axis = _axis(x, axis)
    return take_along_axis(x, ArgSort(axis, bool(descending))(x), axis)


@user_errors
def topk(x, k, axis=-1, largest=True):
    """(values, indices) of the k largest (smallest with largest=False) along `axis`, in
    order; equal values keep their order. The values are differentiable."""
    x = as_variable(x)
    (axis,) = normalize_axis(axis, x.ndim)
    idx = TopKIndices(int(k), int(axis), bool(largest))(x)
    return take_along_axis(x, idx, axis), idx
