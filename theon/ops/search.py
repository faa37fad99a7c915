"""Searching: argwhere and nonzero (how many elements are nonzero is known only when the
function runs, so their length is a None dim), searchsorted, and NumPy's unique on top of
the ONNX-style Unique op."""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import ClassVar

import torch

from ..errors import DTypeError, ShapeError
from ..graph import TensorType
from .base import Op, as_variable, result_dtype, user_errors
from .dims import dim
from .elementwise import cast, cast_to
from .reduce import sum as _sum
from .shape import ravel, reshape
from .unique import Unique

__all__ = ["ArgWhere", "BinCount", "SearchSorted", "argwhere", "bincount", "count_nonzero", "nonzero",
           "searchsorted", "unique", "unique_all", "unique_counts", "unique_inverse", "unique_values"]


@dataclass(frozen=True)
class ArgWhere(Op):
    name: ClassVar[str] = "argwhere"
    capturable: ClassVar[bool] = False  # its output shape depends on the values
    differentiable: ClassVar[bool] = False

    def infer(self, x):
        return [TensorType("int64", (None, x.ndim))]

    def kernel(self, x):
        return torch.argwhere(x)


@user_errors
def argwhere(x):
    """numpy.argwhere: the indices of the nonzero elements, one row each, in C order."""
    return ArgWhere()(as_variable(x))


@user_errors
def nonzero(x):
    """numpy.nonzero: a tuple of index arrays, one per axis, of the nonzero elements."""
    x = as_variable(x)
    if x.ndim == 0:
        raise ShapeError("nonzero: x must have at least one dimension (NumPy 2 refuses 0-d too); "
                         "reshape it to 1-D first")
    rows = ArgWhere()(x)
    return tuple(rows[:, i] for i in range(x.ndim))


@dataclass(frozen=True)
class SearchSorted(Op):
    right: bool = False
    name: ClassVar[str] = "searchsorted"
    differentiable: ClassVar[bool] = False

    def infer(self, a, v):
        if a.ndim != 1:
            raise ShapeError(f"a must be 1-D, got shape {a.type.shape}")
        if a.dtype != v.dtype:
            raise DTypeError(f"a and v must share one dtype, got {a.dtype} and {v.dtype}")
        if a.dtype.startswith("complex"):
            raise DTypeError("complex numbers have no order")
        return [TensorType("int64", v.type.shape)]

    def kernel(self, a, v):
        return torch.searchsorted(a, v, right=self.right)


@user_errors
def searchsorted(a, v, side="left", sorter=None):
    """numpy.searchsorted: where each v would go in the sorted 1-D a to keep it sorted
    (the first such place with side='left', the last with 'right')."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
    a, v = as_variable(a), as_variable(v)
    if sorter is not None:
        a = a[as_variable(sorter)]
    if a.dtype != v.dtype:
        common = result_dtype(a, v)
        a, v = cast_to(a, common), cast_to(v, common)
    return SearchSorted(side == "right")(a, v)


@user_errors
def unique(x, return_index=False, return_inverse=False, return_counts=False, axis=None):
    """numpy.unique: the sorted distinct values (slices along `axis`), and optionally the
    index of each one's first occurrence, each element's position among them (shaped like
    x for axis=None, as NumPy 2) and the counts. The number of distinct values is known
    only when the function runs (a None dim)."""
    x = as_variable(x)
    ax = axis
    if ax is not None and ax < 0:
        ax += x.ndim
    values, first, inverse, counts = Unique(ax, True)(x)
    if axis is None and x.ndim != 1:
        inverse = reshape(inverse, tuple(dim(x, i) for i in range(x.ndim)))
    extra = [o for o, want in ((first, return_index), (inverse, return_inverse), (counts, return_counts)) if want]
    return (values, *extra) if extra else values


# NumPy 2's (and the Array API's) unique_* functions: x flattened, results as named tuples
UniqueAllResult = namedtuple("UniqueAllResult", ["values", "indices", "inverse_indices", "counts"])
UniqueCountsResult = namedtuple("UniqueCountsResult", ["values", "counts"])
UniqueInverseResult = namedtuple("UniqueInverseResult", ["values", "inverse_indices"])


def _unique_flat(x):
    """(values, first indices, inverse shaped like x, counts) of x's elements."""
    x = as_variable(x)
    values, first, inverse, counts = Unique(None, True)(ravel(x) if x.ndim != 1 else x)
    if x.ndim != 1:
        inverse = reshape(inverse, tuple(dim(x, i) for i in range(x.ndim)))
    return values, first, inverse, counts


@user_errors
def unique_all(x):
    """numpy.unique_all: the sorted distinct elements, the flat index of each one's first
    occurrence, each element's position among them (shaped like x) and the counts."""
    return UniqueAllResult(*_unique_flat(x))


@user_errors
def unique_counts(x):
    """numpy.unique_counts: the sorted distinct elements and how often each occurs."""
    values, _, _, counts = _unique_flat(x)
    return UniqueCountsResult(values, counts)


@user_errors
def unique_inverse(x):
    """numpy.unique_inverse: the sorted distinct elements and each element's position among
    them (shaped like x)."""
    values, _, inverse, _ = _unique_flat(x)
    return UniqueInverseResult(values, inverse)


@user_errors
def unique_values(x):
    """numpy.unique_values: the sorted distinct elements of x (flattened)."""
    return _unique_flat(x)[0]


@user_errors
def count_nonzero(x, axis=None, keepdims=False):
    """numpy.count_nonzero: how many elements are nonzero (True, not 0, not 0j) along
    `axis` (all of them for None), as int64."""
    x = as_variable(x)
    return _sum(cast(x, "bool"), axis, dtype="int64", keepdims=keepdims)


@dataclass(frozen=True)
class BinCount(Op):
    """Counts (or summed weights) of each value 0..max(x), at least `minlength` long."""
    minlength: int = 0
    name: ClassVar[str] = "bincount"
    capturable: ClassVar[bool] = False  # its output length depends on the values

    def infer(self, x, *weights):
        if x.ndim != 1 or x.dtype not in ("int8", "int16", "int32", "int64", "uint8", "bool"):
            raise DTypeError(f"x must be a 1-D array of non-negative ints, got {x.dtype} of shape {x.type.shape}")
        dtype = "int64" if not weights else "float64" if not weights[0].dtype.startswith("float") else weights[0].dtype
        return [TensorType(dtype, (None,))]

    def kernel(self, x, *weights):
        if x.numel() and int(x.min()) < 0:
            raise ValueError("bincount: x must hold non-negative ints (NumPy raises too)")
        w = weights[0] if weights else None
        return torch.bincount(x.long(), w, minlength=self.minlength)

    def grad(self, inputs, outputs, output_grads):
        if len(inputs) == 1:
            return [None]
        return [None, output_grads[0][inputs[0]]]


@user_errors
def bincount(x, weights=None, minlength=0):
    """numpy.bincount: how often each of 0..max(x) occurs (the sum of `weights` at its
    positions, differentiable in the weights). Its length depends on the values."""
    x = as_variable(x)
    if weights is None:
        return BinCount(int(minlength))(x)
    weights = as_variable(weights)
    if not weights.dtype.startswith("float"):
        weights = cast_to(weights, "float64")
    return BinCount(int(minlength))(x, weights)
