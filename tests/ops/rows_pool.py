"""Op-table rows for pooling over 1, 2 and 3 spatial dims (references: torch.nn.functional)."""
import numpy as np
import torch.nn.functional as F

from theon.errors import ShapeError
from theon.ops import nn
from theon.testing import ErrorCase, OpInfo, Sample, rand

from .rows_nn import _distinct, _torch


def _max_pool_samples(rng):
    return [Sample((_distinct(rng, 2, 2, 4, 4),), {"kernel_size": 2}),
            Sample((_distinct(rng, 1, 2, 5, 5),), {"kernel_size": 3, "stride": 2, "padding": 1,
                                                   "ceil_mode": True}),
            Sample((_distinct(rng, 1, 1, 6, 5),), {"kernel_size": (2, 3), "stride": 1, "dilation": 2}),
            Sample((_distinct(rng, 2, 5, 4),), {"kernel_size": 2, "stride": (1, 2)})]


def _max_pool1d_samples(rng):
    return [Sample((_distinct(rng, 2, 3, 8),), {"kernel_size": 2}),
            Sample((_distinct(rng, 1, 2, 9),), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
            Sample((_distinct(rng, 1, 2, 9),), {"kernel_size": 2, "stride": 1, "dilation": 3}),
            Sample((_distinct(rng, 3, 7),), {"kernel_size": 3, "stride": 2})]


def _max_pool3d_samples(rng):
    return [Sample((_distinct(rng, 2, 2, 4, 4, 4),), {"kernel_size": 2}),
            Sample((_distinct(rng, 1, 1, 5, 4, 5),), {"kernel_size": 3, "stride": 2, "padding": 1,
                                                      "ceil_mode": True}),
            Sample((_distinct(rng, 1, 1, 5, 6, 5),), {"kernel_size": (2, 3, 2), "stride": 1, "dilation": (1, 2, 2)}),
            Sample((_distinct(rng, 2, 4, 4, 4),), {"kernel_size": 2, "stride": (1, 2, 2)})]


def _avg_pool_samples(rng):
    return [Sample((rand(rng, 2, 2, 4, 4),), {"kernel_size": 2}),
            Sample((rand(rng, 1, 2, 5, 5),), {"kernel_size": 3, "stride": 2, "padding": 1,
                                              "ceil_mode": True, "count_include_pad": False}),
            Sample((rand(rng, 1, 1, 5, 4),), {"kernel_size": (2, 3), "stride": 1, "padding": (1, 1)}),
            Sample((rand(rng, 1, 1, 4, 4),), {"kernel_size": 2, "divisor_override": 3}),
            Sample((rand(rng, 2, 5, 4),), {"kernel_size": 2, "stride": (1, 2)})]


def _avg_pool1d_samples(rng):
    return [Sample((rand(rng, 2, 3, 8),), {"kernel_size": 2}),
            Sample((rand(rng, 1, 2, 9),), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                                           "count_include_pad": False}),
            Sample((rand(rng, 3, 7),), {"kernel_size": 3, "stride": 2, "padding": 1})]


def _avg_pool3d_samples(rng):
    return [Sample((rand(rng, 2, 2, 4, 4, 4),), {"kernel_size": 2}),
            Sample((rand(rng, 1, 1, 5, 4, 5),), {"kernel_size": 3, "stride": 2, "padding": 1,
                                                 "ceil_mode": True, "count_include_pad": False}),
            Sample((rand(rng, 1, 1, 4, 4, 4),), {"kernel_size": 2, "divisor_override": 3}),
            Sample((rand(rng, 2, 4, 5, 4),), {"kernel_size": (2, 3, 2), "stride": 1})]


def _adaptive_samples(n, distinct=False):
    make = _distinct if distinct else rand

    def samples(rng):
        spatial = {1: (7,), 2: (5, 7), 3: (4, 5, 6)}[n]
        out = {1: (3,), 2: (2, 3), 3: (2, 3, 4)}[n]
        keep = (None,) + out[1:] if n > 1 else spatial   # torch's 1-D pools take no None
        return [Sample((make(rng, 2, 2, *spatial),), {"output_size": out}),
                Sample((make(rng, 1, 2, *spatial),), {"output_size": 1}),
                Sample((make(rng, 3, *spatial),), {"output_size": keep})]
    return samples


def _errors(n):
    spatial = (2,) * n
    return [ErrorCase((np.zeros((1, 3) + spatial),), {"kernel_size": 3}, ShapeError,
                      r"window of size 3 is larger than the padded input"),
            ErrorCase((np.zeros((3,) * (n + 3)),), {"kernel_size": 2}, ShapeError,
                      rf"rank {n + 1} or {n + 2}")]


def _adaptive_errors(n):
    return [ErrorCase((np.zeros((3,) * (n + 3)),), {"output_size": 2}, ShapeError, rf"rank {n + 1} or {n + 2}"),
            ErrorCase((np.zeros((1, 2) + (0,) * n),), {"output_size": 1}, ShapeError, "empty spatial")]


ROWS = [
    OpInfo("max_pool1d", nn.max_pool1d, _torch(F.max_pool1d), _max_pool1d_samples, second_order=True,
           errors=_errors(1)),
    OpInfo("max_pool2d", nn.max_pool2d, _torch(F.max_pool2d), _max_pool_samples, second_order=True,
           errors=_errors(2)),
    OpInfo("max_pool3d", nn.max_pool3d, _torch(F.max_pool3d), _max_pool3d_samples, second_order=True,
           errors=_errors(3)),
    OpInfo("avg_pool1d", nn.avg_pool1d, _torch(F.avg_pool1d), _avg_pool1d_samples, second_order=True,
           errors=_errors(1)),
    OpInfo("avg_pool2d", nn.avg_pool2d, _torch(F.avg_pool2d), _avg_pool_samples, second_order=True,
           errors=_errors(2)),
    OpInfo("avg_pool3d", nn.avg_pool3d, _torch(F.avg_pool3d), _avg_pool3d_samples, second_order=True,
           errors=_errors(3)),
]
for _n in (1, 2, 3):
    ROWS += [
        OpInfo(f"adaptive_avg_pool{_n}d", getattr(nn, f"adaptive_avg_pool{_n}d"),
               _torch(getattr(F, f"adaptive_avg_pool{_n}d")), _adaptive_samples(_n), second_order=True,
               errors=_adaptive_errors(_n)),
        OpInfo(f"adaptive_max_pool{_n}d", getattr(nn, f"adaptive_max_pool{_n}d"),
               _torch(getattr(F, f"adaptive_max_pool{_n}d")), _adaptive_samples(_n, distinct=True),
               second_order=True, errors=_adaptive_errors(_n)),
    ]
