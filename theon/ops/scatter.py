"""Scatters: writing `updates` into a copy of `data` at index positions (ONNX's
ScatterElements and ScatterND; torch's scatter/index_put kernels).

scatter_elements(data, indices, updates, axis, reduction): out[..., indices[i, j], ...]
(on `axis`) = updates[i, j] (or combined by 'add', 'mul', 'max', 'min'). scatter_nd(data,
indices, updates, reduction): each row of `indices` (last axis) addresses a slice of data.
Negative indices count from the end.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..errors import DTypeError, GradientError, ShapeError
from ..graph import is_int
from .base import Op, as_variable, user_errors
from .broadcast import broadcast_to
from .constructors import ones_like, zeros_like
from .dims import dim
from .elementwise import cast_to, less, where
from .index import take_along_axis

__all__ = ["ScatterElements", "ScatterND", "put_along_axis", "scatter_elements", "scatter_nd"]

_REDUCE = {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}


def _wrap(idx, size):
    return torch.where(idx < 0, idx + size, idx)


@dataclass(frozen=True)
class ScatterElements(Op):
    axis: int = 0
    reduction: str = "none"
    name: ClassVar[str] = "scatter_elements"

    def infer(self, data, indices, updates):
        if not is_int(indices.dtype):
            raise DTypeError(f"scatter_elements: indices must be integers, got {indices.dtype}")
        if data.dtype != updates.dtype:
            raise DTypeError(f"scatter_elements: updates are {updates.dtype} but data is {data.dtype}")
        if not (indices.ndim == updates.ndim == data.ndim) or not 0 <= self.axis < max(data.ndim, 1):
            raise ShapeError(f"scatter_elements: data, indices and updates must share a rank and "
                             f"axis {self.axis} must be in it")
        return [data.type]

    def kernel(self, data, indices, updates):
        idx = _wrap(indices.long(), data.shape[self.axis])
        if self.reduction == "none":
            return data.scatter(self.axis, idx, updates)
        return data.scatter_reduce(self.axis, idx, updates, _REDUCE[self.reduction], include_self=True)

    def grad(self, inputs, outputs, output_grads):
        data, indices, updates = inputs
        (g,) = output_grads
        if self.reduction == "add":
            return [g, None, take_along_axis(g, _wrapped(indices, data, self.axis), self.axis)]
        if self.reduction != "none":
            raise GradientError(f"scatter_elements with reduction {self.reduction!r} has no gradient")
        hit = ScatterElements(self.axis)(zeros_like(g), indices, ones_like(updates))
        return [g * (1 - hit), None, take_along_axis(g, _wrapped(indices, data, self.axis), self.axis)]


def _wrapped(indices, data, axis):
    size = cast_to(as_variable(dim(data, axis)), indices.dtype)
    return where(less(indices, 0), indices + size, indices)


@dataclass(frozen=True)
class ScatterND(Op):
    reduction: str = "none"
    name: ClassVar[str] = "scatter_nd"
    capturable: ClassVar[bool] = False  # reads the indices on the host

    def infer(self, data, indices, updates):
        if not is_int(indices.dtype):
            raise DTypeError(f"scatter_nd: indices must be integers, got {indices.dtype}")
        if data.dtype != updates.dtype:
            raise DTypeError(f"scatter_nd: updates are {updates.dtype} but data is {data.dtype}")
        k = indices.type.shape[-1] if indices.ndim else None
        if k is not None and k > data.ndim:
            raise ShapeError(f"scatter_nd: index rows of length {k} for data of rank {data.ndim}")
        return [data.type]

    def kernel(self, data, indices, updates):
        k = indices.shape[-1]
        idx = indices.long().reshape(-1, k)
        key = tuple(_wrap(idx[:, j], data.shape[j]) for j in range(k))
        upd = updates.reshape((-1,) + tuple(data.shape[k:]))
        out = data.clone()
        if self.reduction == "none":
            out[key] = upd
        elif self.reduction == "add":
            out.index_put_(key, upd, accumulate=True)
        else:
            for row in range(idx.shape[0]):
                where = tuple(int(t[row]) for t in key)
                cur = out[where]
                out[where] = {"mul": cur * upd[row], "max": torch.maximum(cur, upd[row]),
                              "min": torch.minimum(cur, upd[row])}[self.reduction]
        return out

    def grad(self, inputs, outputs, output_grads):
        raise GradientError("scatter_nd has no gradient yet")


def scatter_elements(data, indices, updates, axis=0, reduction="none"):
    data, indices, updates = as_variable(data), as_variable(indices), as_variable(updates)
    if reduction not in ("none", *_REDUCE):
        raise ValueError(f"scatter_elements: reduction must be none, add, mul, max or min, got {reduction!r}")
    axis = axis + data.ndim if axis < 0 else axis
    return ScatterElements(int(axis), reduction)(data, indices, updates)


def scatter_nd(data, indices, updates, reduction="none"):
    if reduction not in ("none", *_REDUCE):
        raise ValueError(f"scatter_nd: reduction must be none, add, mul, max or min, got {reduction!r}")
    return ScatterND(reduction)(as_variable(data), as_variable(indices), as_variable(updates))



@user_errors
def put_along_axis(arr, indices, values, axis):
    """numpy.put_along_axis as a function (theon's arrays are immutable): a copy of `arr`
    with `values` written at `indices` along `axis`, the inverse of take_along_axis.
    `indices` has arr's rank and broadcasts against it on the other axes (a dim of 1);
    `values` broadcasts against the indices and is cast to arr's dtype, as NumPy's
    assignment does. axis=None works on arr flattened and keeps its shape. Negative
    indices count from the end. Where an index repeats along the axis, which of its values
    lands is unspecified (NumPy: the last), and each of them receives the gradient."""
    arr, indices = as_variable(arr), as_variable(indices)
    if not is_int(indices.dtype):
        raise DTypeError(f"put_along_axis: indices must be integers, got {indices.dtype}")
    if axis is None:
        flat = put_along_axis(arr.reshape(-1), indices.reshape(-1), values, 0)
        return flat.reshape(arr.shape)
    if indices.ndim != arr.ndim:
        raise ShapeError(f"put_along_axis: indices need arr's rank {arr.ndim}, got shape "
                         f"{indices.type.shape} for arr of shape {arr.type.shape}")
    axis = int(axis)
    if not -arr.ndim <= axis < arr.ndim:
        raise IndexError(f"put_along_axis: axis {axis} is out of bounds for an array of rank {arr.ndim}")
    axis %= arr.ndim
    target = []
    for d, (a, i) in enumerate(zip(arr.type.shape, indices.type.shape)):
        if d == axis:
            target.append(i if i is not None else dim(indices, d))
        elif i not in (1, None) and a is not None and i != a:
            raise ShapeError(f"put_along_axis: indices of shape {indices.type.shape} do not "
                             f"broadcast against arr of shape {arr.type.shape} on axis {d}")
        else:
            target.append(a if a is not None else dim(arr, d))
    target = tuple(target)
    updates = broadcast_to(cast_to(as_variable(values), arr.dtype), target)
    return ScatterElements(axis)(arr, broadcast_to(indices, target), updates)
