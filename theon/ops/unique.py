"""Unique values (ONNX's Unique): the distinct values (or slices along an axis), the index
of each one's first occurrence, each input element's position among them, and counts;
sorted ascending or in order of first occurrence. Output lengths are known only when the
function runs (None dims)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..errors import ShapeError
from ..graph import TensorType
from .base import Op, as_variable

__all__ = ["Unique", "unique"]


@dataclass(frozen=True)
class Unique(Op):
    axis: int | None = None
    sorted: bool = True
    name: ClassVar[str] = "unique"
    capturable: ClassVar[bool] = False  # its output shape depends on the values
    nout: ClassVar[int] = 4
    differentiable: ClassVar[bool] = False

    def infer(self, x):
        if self.axis is not None and not 0 <= self.axis < x.ndim:
            raise ShapeError(f"unique: axis {self.axis} is out of range for rank {x.ndim}")
        if self.axis is None:
            values = TensorType(x.dtype, (None,))
            inverse = TensorType("int64", (None if None in x.type.shape else _prod(x.type.shape),))
        else:
            shape = list(x.type.shape)
            shape[self.axis] = None
            values = TensorType(x.dtype, tuple(shape))
            inverse = TensorType("int64", (x.type.shape[self.axis],))
        return [values, TensorType("int64", (None,)), inverse, TensorType("int64", (None,))]

    def kernel(self, x):
        data = x.reshape(-1) if self.axis is None else x
        dim = 0 if self.axis is None else self.axis
        uniq, inverse, counts = torch.unique(data, sorted=True, return_inverse=True, return_counts=True,
                                             dim=None if self.axis is None else dim)
        positions = torch.arange(inverse.numel(), device=x.device)
        first = torch.full((uniq.shape[dim],), inverse.numel(), dtype=torch.long, device=x.device)
        first = first.scatter_reduce(0, inverse, positions, "amin")
        if not self.sorted:
            order = torch.argsort(first)
            rank = torch.empty_like(order)
            rank[order] = torch.arange(order.numel(), device=x.device)
            uniq = uniq.index_select(dim, order)
            first, counts, inverse = first[order], counts[order], rank[inverse]
        return uniq.contiguous(), first, inverse, counts


def _prod(shape):
    out = 1
    for d in shape:
        out *= d
    return out


def unique(x, axis=None, sorted=True):
    """(values, first indices, inverse indices, counts) of x's distinct values."""
    x = as_variable(x)
    if axis is not None and axis < 0:
        axis += x.ndim
    return Unique(axis, bool(sorted))(x)
