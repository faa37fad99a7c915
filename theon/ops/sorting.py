"""Sorting: the positions of the k largest (or smallest) values along an axis, ties to the
lower index (a stable sort); values follow with take_along_axis, which carries gradients."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..errors import ShapeError
from ..graph import TensorType
from .base import Op, as_variable
from .index import take_along_axis

__all__ = ["TopKIndices", "topk"]


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


def topk(x, k, axis=-1, largest=True):
    """(values, indices) of the k largest (smallest with largest=False) along `axis`, in
    order; equal values keep their order."""
    x = as_variable(x)
    axis = axis + x.ndim if axis < 0 else axis
    idx = TopKIndices(int(k), int(axis), bool(largest))(x)
    return take_along_axis(x, idx, axis), idx
