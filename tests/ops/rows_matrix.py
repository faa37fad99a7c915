"""Op-table rows for diagonal, diag, trace, kron, cross, diff, meshgrid and norm (NumPy
references)."""
import numpy as np

import theon as th
from theon.errors import AxisError, ShapeError
from theon.testing import ErrorCase, OpInfo, Sample, integers, rand


def _away_from_zero(rng, *shape):
    x = rand(rng, *shape)
    return np.where(np.abs(x) < 0.2, 0.5, x)


def _distinct_abs(rng, *shape):
    """|values| apart from each other (max/min norms have no kinks nearby)."""
    n = int(np.prod(shape))
    return (rng.permutation(n) + 1.0).reshape(shape) / n * rng.choice([-1.0, 1.0], size=shape)


_NORM = [  # (shape, kwargs)
    ((5,), {}), ((3, 4), {}), ((2, 3, 4), {"axis": 1}), ((2, 3, 4), {"ord": 3, "axis": -1, "keepdims": True}),
    ((4,), {"ord": 1}), ((4,), {"ord": np.inf}), ((4,), {"ord": -np.inf}), ((4,), {"ord": 0.5}),
    ((3, 4), {"ord": "fro", "keepdims": True}), ((3, 4), {"ord": 1}), ((3, 4), {"ord": -1}),
    ((3, 4), {"ord": np.inf}), ((2, 3, 4), {"ord": -np.inf, "axis": (2, 0)}),
    ((2, 3, 4), {"axis": (1, 2)}),
]


def _norm_samples(rng):
    return [Sample((_distinct_abs(rng, *shape),), kw) for shape, kw in _NORM] + [
        Sample((np.array([0.0, 2.0, 0.0, -1.0]),), {"ord": 0}, grad=False),
        Sample((integers(rng, -3, 3, 2, 3),), grad=False),
        Sample((rand(rng, 3, 3).astype("float32"),), {"ord": 1}, grad=False)]


ROWS = [
    OpInfo("diagonal", th.diagonal, np.diagonal, lambda rng: [
        Sample((rand(rng, 3, 4),)), Sample((rand(rng, 3, 4),), {"offset": 2}), Sample((rand(rng, 4, 3),), {"offset": -1}),
        Sample((rand(rng, 2, 3, 4),), {"offset": 1, "axis1": 1, "axis2": 2}),
        Sample((rand(rng, 2, 3, 4),), {"axis1": 2, "axis2": 0}), Sample((rand(rng, 2, 3),), {"offset": 5}),
        Sample((integers(rng, 0, 5, 3, 3),), grad=False)], second_order=True,
        errors=[ErrorCase((np.zeros(3),), {}, ShapeError, "at least 2 dims"),
                ErrorCase((np.zeros((3, 3)),), {"axis1": 1, "axis2": 1}, ShapeError, "must differ"),
                ErrorCase((np.zeros((3, 3)),), {"axis2": 2}, AxisError, "out of range")]),
    OpInfo("diag", th.diag, np.diag, lambda rng: [
        Sample((rand(rng, 4),)), Sample((rand(rng, 3),), {"k": 2}), Sample((rand(rng, 3),), {"k": -1}),
        Sample((rand(rng, 3, 4),), {"k": 1}), Sample((rand(rng, 4, 4),))], second_order=True,
        errors=[ErrorCase((np.zeros((2, 2, 2)),), {}, ShapeError, "1-D or 2-D")]),
    OpInfo("trace", th.trace, np.trace, lambda rng: [
        Sample((rand(rng, 3, 4),)), Sample((rand(rng, 3, 4),), {"offset": 1}),
        Sample((rand(rng, 2, 3, 3),), {"axis1": 1, "axis2": 2}), Sample((integers(rng, 0, 5, 3, 3),), grad=False)]),
    OpInfo("kron", th.kron, np.kron, lambda rng: [
        Sample((rand(rng, 2, 3), rand(rng, 3, 2))), Sample((rand(rng, 3), rand(rng, 2))),
        Sample((rand(rng, 2, 2), rand(rng, 3))), Sample((rand(rng, 2), rand(rng, 2, 2, 3))),
        Sample((integers(rng, 0, 4, 2, 2), integers(rng, 0, 4, 2)), grad=False)], second_order=True),
    OpInfo("cross", th.cross, np.cross, lambda rng: [
        Sample((rand(rng, 3), rand(rng, 3))), Sample((rand(rng, 4, 3), rand(rng, 3))),
        Sample((rand(rng, 3, 2), rand(rng, 3, 2)), {"axis": 0}), Sample((rand(rng, 2, 3, 2), rand(rng, 3, 1)), {"axis": -2}),
        Sample((integers(rng, -3, 3, 2, 3), integers(rng, -3, 3, 2, 3)), grad=False)],
        errors=[ErrorCase((np.zeros(2), np.zeros(2)), {}, ShapeError, "length 3")]),
    OpInfo("diff", th.diff, np.diff, lambda rng: [
        Sample((rand(rng, 6),)), Sample((rand(rng, 3, 5),), {"n": 2}), Sample((rand(rng, 4, 3),), {"axis": 0}),
        Sample((rand(rng, 5),), {"n": 0}), Sample((rand(rng, 3, 4),), {"prepend": 0.5, "append": rand(rng, 3, 2)}),
        Sample((rand(rng, 5) > 0,), grad=False), Sample((integers(rng, 0, 9, 6),), {"n": 3}, grad=False)],
        errors=[ErrorCase((np.zeros(()),), {}, ShapeError, "at least one dimension"),
                ErrorCase((np.zeros(3),), {"n": -1}, ValueError, "non-negative")]),
    OpInfo("meshgrid", lambda *xs, **kw: tuple(th.meshgrid(*xs, **kw)), lambda *xs, **kw: tuple(np.meshgrid(*xs, **kw)),
           lambda rng: [Sample((rand(rng, 3), rand(rng, 4))), Sample((rand(rng, 3), rand(rng, 2), rand(rng, 4)), {"indexing": "ij"}),
                        Sample((rand(rng, 3), rand(rng, 2), rand(rng, 2)), {"sparse": True}), Sample((rand(rng, 2),))],
           errors=[ErrorCase((np.zeros(3),), {"indexing": "ji"}, ValueError, "'xy' or 'ij'")]),
    OpInfo("norm", th.norm, np.linalg.norm, _norm_samples, second_order=True, rtol=1e-5, errors=[
        ErrorCase((np.zeros((2, 3)),), {"ord": 3}, ValueError, "invalid norm order 3 for matrices"),
        ErrorCase((np.zeros((2, 2, 2)),), {"ord": 1}, ShapeError, "1-D or 2-D"),
        ErrorCase((np.zeros(3),), {"ord": "fro"}, ValueError, "invalid norm order")]),
]
