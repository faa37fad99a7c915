"""numpy.histogram with a number of equal-width bins: the counts (or summed weights) and
the bin edges. The edges span `range`, or the data's min and max when the function runs;
each value goes to the bin NumPy would pick (the last bin includes its right edge, values
outside the range are dropped). Not differentiable (counts are piecewise constant)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..backend.interop import torch_dtype
from ..errors import DTypeError
from ..graph import TensorType
from .base import Op, as_variable, user_errors

__all__ = ["Histogram", "histogram"]


@dataclass(frozen=True)
class Histogram(Op):
    bins: int = 10
    range: tuple | None = None
    edge_dtype: str = "float64"
    name: ClassVar[str] = "histogram"
    nout: ClassVar[int] = 2
    differentiable: ClassVar[bool] = False

    def infer(self, x, *weights):
        if x.dtype.startswith("complex"):
            raise DTypeError("complex numbers have no order")
        if weights and weights[0].type.shape != x.type.shape and None not in weights[0].type.shape + x.type.shape:
            raise DTypeError(f"weights of shape {weights[0].type.shape} must match x's {x.type.shape}")
        count = weights[0].dtype if weights else "int64"
        return [TensorType(count, (self.bins,)), TensorType(self.edge_dtype, (self.bins + 1,))]

    def kernel(self, x, *weights):
        a = x.reshape(-1).to(torch.float64)
        if self.range is not None:
            lo, hi = self.range
        elif a.numel():
            lo, hi = float(a.min()), float(a.max())
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
        return torch.bincount(idx, w, minlength=n), edges


@user_errors
def histogram(a, bins=10, range=None, weights=None):
    """numpy.histogram(a, bins, range, weights) for an int number of bins: (hist, edges)."""
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"histogram: bins must be a positive int (equal-width bins), got {bins!r}")
    a = as_variable(a)
    if range is not None:
        lo, hi = (float(v) for v in range)
        if not lo <= hi or not np.isfinite([lo, hi]).all():
            raise ValueError(f"histogram: range must be finite with min <= max, got {range!r}")
        range = (lo, hi)
    edge_dtype = a.dtype if a.dtype.startswith("float") else "float64"
    inputs = [a] if weights is None else [a, as_variable(weights)]
    return Histogram(int(bins), range, edge_dtype)(*inputs)
