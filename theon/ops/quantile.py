"""Order statistics: quantile, percentile and median (NumPy's default 'linear' method).
They sort along the axes and interpolate between the two neighbouring order statistics,
so the gradient flows through the sort's indices to the (at most two) elements each
result reads. NaN anywhere in a slice makes its result NaN, as in NumPy."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .axes import normalize_axis
from .base import as_variable, user_errors
from .dims import dim
from .elementwise import cast_to, floor, isnan, minimum, where
from .index import take_along_axis
from .reduce import any as any_
from .shape import moveaxis, reshape
from .sorting import sort

__all__ = ["quantile", "percentile", "median"]


@user_errors
def quantile(x, q, axis=None, keepdims=False, method="linear"):
    """numpy.quantile(x, q, axis, keepdims=keepdims) with the 'linear' method: q is a float
    or a 1-D sequence of floats in [0, 1] (a leading axis of the result)."""
    if method != "linear":
        raise ValueError(f"quantile: only method='linear' (NumPy's default) is provided, got {method!r}")
    x = as_variable(x)
    if not x.dtype.startswith("float"):
        x = cast_to(x, "float64")
    qs = np.asarray(q, dtype="float64")
    if qs.ndim > 1:
        raise ValueError(f"quantile: q must be a scalar or 1-D, got shape {qs.shape}")
    if np.any((qs < 0) | (qs > 1)) or np.any(np.isnan(qs)):
        raise ValueError(f"quantile: q must lie in [0, 1], got {q!r}")
    axes = normalize_axis(axis, x.ndim)
    # the reduced axes move last and merge into one
    rest = [i for i in range(x.ndim) if i not in axes]
    moved = moveaxis(x, list(axes), list(range(len(rest), x.ndim))) if axes else x
    if 0 in [x.type.shape[i] for i in axes]:
        raise ShapeError("quantile: cannot take the quantile of an empty axis")
    lead = [dim(moved, i) for i in range(len(rest))]
    flat = reshape(moved, tuple(lead) + (-1,))
    ordered = sort(flat, axis=-1)
    # positions q (n - 1) on the merged axis; n may be known only when the function runs
    n1 = cast_to(as_variable(dim(flat, -1)), x.dtype) - 1
    pos = as_variable(qs.reshape((1,) * len(rest) + (-1,)).astype(x.dtype)) * n1
    lo_f = floor(pos)
    t = pos - lo_f
    lo = cast_to(lo_f, "int64")
    hi = cast_to(minimum(lo_f + 1, n1), "int64")
    a, b = take_along_axis(ordered, lo, -1), take_along_axis(ordered, hi, -1)
    # NumPy's lerp: exact at both ends (a + t(b-a) below 1/2, b - (1-t)(b-a) above)
    out = where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)
    out = where(any_(isnan(flat), axis=-1, keepdims=True), np.asarray(np.nan, x.dtype), out)
    out = moveaxis(out, -1, 0)                                          # q first
    if keepdims:
        out = reshape(out, (qs.size,) + tuple(1 if i in axes else dim(x, i) for i in range(x.ndim)))
    if qs.ndim == 0:
        out = out[0]
    return out


@user_errors
def percentile(x, q, axis=None, keepdims=False, method="linear"):
    """numpy.percentile: quantile with q in [0, 100]."""
    qs = np.asarray(q, dtype="float64")
    if np.any((qs < 0) | (qs > 100)):
        raise ValueError(f"percentile: q must lie in [0, 100], got {q!r}")
    return quantile(x, qs / 100, axis, keepdims, method)


@user_errors
def median(x, axis=None, keepdims=False):
    """numpy.median: the middle value (the mean of the two middle ones for even lengths)."""
    return quantile(x, 0.5, axis, keepdims)
