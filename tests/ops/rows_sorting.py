"""Op-table rows for sorting and order statistics (NumPy references): sort and argsort
(stable, NaN last), quantile/percentile/median with gradients through the sort's indices."""
import numpy as np

import theon as th
from theon.errors import AxisError, DTypeError, ShapeError
from theon.testing import ErrorCase, OpInfo, Sample, integers, rand


def _sort_samples(rng):
    return [
        Sample((rand(rng, 3, 5),)), Sample((rand(rng, 4, 3),), {"axis": 0}),
        Sample((rand(rng, 2, 3),), {"axis": None}),
        Sample((np.array([3.0, np.nan, 1.0, 1.0, -np.inf]),), grad=False),
        Sample((integers(rng, -3, 3, 2, 6),), grad=False),
        Sample((rand(rng, 6).astype("float32"),), grad=False),
    ]


def _np_sort(x, axis=-1, descending=False):
    idx = _np_argsort(x, axis, descending)
    return np.take_along_axis(x.reshape(-1) if axis is None else x, idx, -1 if axis is None else axis)


def _np_argsort(x, axis=-1, descending=False):
    if descending:  # stable descending: sort the reversed axis, map positions back
        a = -1 if axis is None else axis
        data = x.reshape(-1) if axis is None else x
        n = data.shape[a]
        rev = np.argsort(np.flip(data, a), axis=a, kind="stable")
        return np.flip(n - 1 - rev, a)
    return np.argsort(x, axis=axis, kind="stable")


_ORDER_ERRORS = [ErrorCase((np.zeros(()),), {}, ShapeError, "at least one dimension"),
                 ErrorCase((np.zeros((2, 3)),), {"axis": 2}, AxisError, "out of range"),
                 ErrorCase((np.zeros(3, complex),), {}, DTypeError, "no order")]


def _quantile_samples(rng):
    return [
        Sample((rand(rng, 7),), {"q": 0.5}), Sample((rand(rng, 3, 4),), {"q": [0.0, 0.25, 1.0], "axis": 1}),
        Sample((rand(rng, 2, 3, 4),), {"q": 0.3, "axis": (0, 2), "keepdims": True}),
        Sample((rand(rng, 2, 5),), {"q": [0.9], "axis": -1, "keepdims": True}),
        Sample((np.array([[1.0, np.nan, 2.0], [3.0, 1.0, 2.0]]),), {"q": 0.5, "axis": 1}, grad=False),
        Sample((integers(rng, 0, 9, 6),), {"q": 0.4}, grad=False),
    ]


ROWS = [
    OpInfo("sort", th.sort, _np_sort, lambda rng: _sort_samples(rng) + [
        Sample((rand(rng, 3, 4),), {"descending": True}),
        Sample((np.array([2.0, 1.0, 2.0, 0.0]),), {"descending": True}, grad=False)],
        errors=_ORDER_ERRORS, second_order=True),
    OpInfo("argsort", th.argsort, _np_argsort, lambda rng: _sort_samples(rng) + [
        Sample((np.array([2.0, 1.0, 2.0, 0.0]),), {"descending": True})],
        grad=False, errors=_ORDER_ERRORS),
    OpInfo("topk_public", th.topk, lambda x, k, axis=-1, largest=True: (
        np.take(_np_sort(x, axis, largest), np.arange(k), axis), np.take(_np_argsort(x, axis, largest), np.arange(k), axis)),
        lambda rng: [Sample((rand(rng, 3, 6),), {"k": 2}), Sample((rand(rng, 5, 2),), {"k": 3, "axis": 0, "largest": False})],
        errors=[ErrorCase((np.zeros((3, 2)),), {"k": 3}, ShapeError, "larger than the axis")]),
    OpInfo("quantile", th.quantile, np.quantile, _quantile_samples, second_order=True, errors=[
        ErrorCase((np.zeros(3),), {"q": 1.5}, ValueError, r"in \[0, 1\]"),
        ErrorCase((np.zeros(3),), {"q": 0.5, "method": "nearest"}, ValueError, "linear"),
        ErrorCase((np.zeros((2, 3)),), {"q": 0.5, "axis": 3}, AxisError, "out of range")]),
    OpInfo("percentile", th.percentile, np.percentile, lambda rng: [
        Sample((rand(rng, 3, 4),), {"q": [10.0, 50.0, 95.0], "axis": 0}), Sample((rand(rng, 5),), {"q": 30})],
        errors=[ErrorCase((np.zeros(3),), {"q": 101}, ValueError, r"in \[0, 100\]")]),
    OpInfo("median", th.median, np.median, lambda rng: [
        Sample((rand(rng, 5),)), Sample((rand(rng, 3, 4),), {"axis": 1}),
        Sample((rand(rng, 2, 3, 4),), {"axis": (0, 1), "keepdims": True}), Sample((rand(rng, 4, 2),))]),
]
