"""numpy.histogram: the counts (or summed weights, or a density) and the bin edges.

`bins` is a number of equal-width bins (`Histogram`: the edges span `range`, or the data's
min and max when the function runs) or the edges themselves (`HistogramEdges`: a 1-D
increasing sequence, or a tensor checked when the function runs). Each value goes to the
bin NumPy would pick: [e[i], e[i+1]), the last bin including its right edge; values outside
the edges and NaNs are dropped. Not differentiable (counts are piecewise constant)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..backend.interop import torch_dtype
from ..errors import DTypeError, ShapeError
from ..graph import TensorType, Variable, constant, format_shape
from .base import Op, as_variable, user_errors

__all__ = ["Histogram", "HistogramEdges", "histogram", "histogram_bin_edges"]


@dataclass(frozen=True)
class Histogram(Op):
    bins: int = 10
    range: tuple | None = None
    edge_dtype: str = "float64"
    density: bool = False
    name: ClassVar[str] = "histogram"
    capturable: ClassVar[bool] = False  # reads the value range on the host
    nout: ClassVar[int] = 2
    differentiable: ClassVar[bool] = False

    def infer(self, x, *weights):
        if x.dtype.startswith("complex"):
            raise DTypeError("complex numbers have no order")
        if weights and weights[0].type.shape != x.type.shape and None not in weights[0].type.shape + x.type.shape:
            raise DTypeError(f"weights of shape {weights[0].type.shape} must match x's {x.type.shape}")
        return [TensorType(_count_dtype(weights, self.density), (self.bins,)),
                TensorType(self.edge_dtype, (self.bins + 1,))]

    def kernel(self, x, *weights):
        a = x.reshape(-1).to(torch.float64)
        if self.range is not None:
            lo, hi = self.range
        elif a.numel():
            lo, hi = float(a.min()), float(a.max())
            if not (np.isfinite(lo) and np.isfinite(hi)):   # NaN or inf in the data, as NumPy
                raise ValueError(f"histogram: autodetected range of [{lo}, {hi}] is not finite")
        else:
            lo, hi = 0.0, 1.0
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        n = self.bins
        edges = torch.linspace(lo, hi, n + 1, dtype=torch_dtype(self.edge_dtype), device=x.device)
        keep = (a >= lo) & (a <= hi)
        a = a[keep]
        # NumPy's binning: scale, then correct by comparing with the edges themselves
        e = edges.to(torch.float64)
        idx = ((a - lo) * (n / (hi - lo))).long().clamp(0, n - 1)
        idx = idx - (a < e[idx]).long()
        idx = idx + ((a >= e[idx + 1]) & (idx != n - 1)).long()
        w = weights[0].reshape(-1)[keep] if weights else None
        return _counts(idx, w, edges, self.density), edges


def _count_dtype(weights, density: bool) -> str:
    count = weights[0].dtype if weights else "int64"
    return "float64" if density and not count.startswith("complex") else count


def _counts(idx, w, edges, density: bool):
    n = edges.shape[0] - 1
    hist = torch.bincount(idx, w, minlength=n)
    if w is not None and hist.dtype != w.dtype:   # torch gives int64 when nothing is counted
        hist = hist.to(w.dtype)
    if not density:
        return hist
    # NumPy's density: hist / (total * bin widths), in float64
    widths = torch.diff(edges.to(torch.float64))
    return hist.to(torch.float64) / widths / hist.sum().to(torch.float64)


def _check_increasing(edges, where: str) -> None:
    if bool((edges[1:] < edges[:-1]).any()):
        raise ValueError(f"histogram: bins must increase monotonically, got {where}")


@dataclass(frozen=True)
class HistogramEdges(Op):
    """numpy.histogram with explicit bin edges: inputs x, edges and optional weights."""
    density: bool = False
    name: ClassVar[str] = "histogram_edges"
    capturable: ClassVar[bool] = False  # reads the value range on the host
    nout: ClassVar[int] = 2
    differentiable: ClassVar[bool] = False

    def infer(self, x, edges, *weights):
        for v, what in ((x, "values"), (edges, "bin edges")):
            if v.dtype.startswith("complex"):
                raise DTypeError(f"complex numbers have no order ({what} are {v.dtype})")
        if edges.ndim != 1:
            raise ShapeError(f"histogram: bin edges must be 1-D, got shape {format_shape(edges.type.shape)}")
        if weights and weights[0].type.shape != x.type.shape and None not in weights[0].type.shape + x.type.shape:
            raise DTypeError(f"weights of shape {weights[0].type.shape} must match x's {x.type.shape}")
        n = edges.type.shape[0]
        return [TensorType(_count_dtype(weights, self.density), (None if n is None else max(n - 1, 0),)),
                edges.type]

    def kernel(self, x, edges, *weights):
        if edges.shape[0] < 1:
            raise ValueError("histogram: bins needs at least one edge")
        e = edges.to(torch.float64)
        _check_increasing(e, f"edges {edges.tolist()}")
        a = x.reshape(-1).to(torch.float64)
        n = e.shape[0] - 1
        # bin i holds e[i] <= v < e[i+1]; the last edge itself goes to the last bin
        idx = torch.bucketize(a, e, right=True) - 1
        idx = torch.where(a == e[-1], n - 1, idx)
        keep = (idx >= 0) & (idx < n)
        w = weights[0].reshape(-1)[keep] if weights else None
        return _counts(idx[keep], w, edges, self.density), edges.clone()


def _edges(bins):
    """Explicit bin edges as a variable (constant edges checked now, as NumPy does)."""
    if isinstance(bins, Variable):
        return bins
    edges = np.asarray(bins)
    if edges.ndim != 1:
        raise ValueError(f"histogram: bins must be an int or a 1-D sequence of edges, got shape {edges.shape}")
    if edges.dtype.kind not in "biuf":
        raise ValueError(f"histogram: bins must be an int or numbers (bin edges), got {bins!r}")
    if edges.size < 1:
        raise ValueError("histogram: bins needs at least one edge")
    _check_increasing(edges, f"edges {edges.tolist()}")
    return constant(edges)


@user_errors
def histogram(a, bins=10, range=None, weights=None, density=False):
    """numpy.histogram(a, bins, range, weights, density): (hist, bin_edges).

    bins: an int (that many equal-width bins over `range`, default the data's min and max)
    or the bin edges (a 1-D increasing sequence or tensor; `range` is then unused; a list
    becomes edges of NumPy's dtype for it, as numpy.histogram returns them)."""
    a = as_variable(a)
    density = bool(density)
    if isinstance(bins, str):
        raise ValueError(f"histogram: bins={bins!r}: estimator names are not provided; "  # noqa: TRY004
                         "give an int or the bin edges")   # (NumPy: a ValueError for a name it lacks)
    if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool):
        inputs = [a, _edges(bins)] + ([] if weights is None else [as_variable(weights)])
        return HistogramEdges(density)(*inputs)
    if bins < 1:
        raise ValueError(f"histogram: bins must be a positive int (equal-width bins), got {bins!r}")
    if range is not None:
        lo, hi = (float(v) for v in range)
        if not lo <= hi or not np.isfinite([lo, hi]).all():
            raise ValueError(f"histogram: range must be finite with min <= max, got {range!r}")
        range = (lo, hi)
    edge_dtype = a.dtype if a.dtype.startswith("float") else "float64"
    inputs = [a] if weights is None else [a, as_variable(weights)]
    return Histogram(int(bins), range, edge_dtype, density)(*inputs)


@user_errors
def histogram_bin_edges(a, bins=10, range=None, weights=None):
    """numpy.histogram_bin_edges: the edges histogram(a, bins, range, weights) uses."""
    return histogram(a, bins, range, weights)[1]
