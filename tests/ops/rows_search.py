"""Op-table rows for argwhere, nonzero, searchsorted and NumPy's unique (NumPy
references). Their lengths depend on the values: those dims stay None when building."""
import numpy as np

import theon as th
from theon.errors import DTypeError, ShapeError
from theon.testing import ErrorCase, OpInfo, Sample, integers, rand

_VALUE_DEPENDENT = {"infer": "how many elements are selected depends on the values: that dim stays None"}


def _sparse(rng, *shape):
    return np.where(rand(rng, *shape) > 0.3, rand(rng, *shape), 0.0)


def _mask_samples(rng):
    return [Sample((_sparse(rng, 3, 4),)), Sample((_sparse(rng, 6),)), Sample((rand(rng, 2, 3) > 0,)),
            Sample((integers(rng, 0, 2, 2, 2, 3),)), Sample((np.zeros((2, 2)),))]


def _unique_ref(x, **kw):
    out = np.unique(x, **kw)
    return tuple(out) if isinstance(out, tuple) else out


ROWS = [
    OpInfo("argwhere", th.argwhere, np.argwhere, _mask_samples, grad=False, known_failures=_VALUE_DEPENDENT),
    OpInfo("nonzero", th.nonzero, np.nonzero, _mask_samples, grad=False, known_failures=_VALUE_DEPENDENT,
           errors=[ErrorCase((np.ones(()),), {}, ShapeError, "at least one dimension")]),
    OpInfo("searchsorted", th.searchsorted, np.searchsorted, lambda rng: [
        Sample((np.sort(rand(rng, 6)), rand(rng, 3, 2))), Sample((np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0, 0.0, 9.0])),
                                                                 {"side": "right"}),
        Sample((np.array([1.0, 2.0, 2.0, 3.0]), np.array([2.0, 2.5]))),
        Sample((np.array([1, 3, 5]), np.array([2.5, 3.0]))),
        Sample((np.array([3.0, 1.0, 2.0]), np.array([1.5, 2.5])), {"sorter": np.array([1, 2, 0])})], grad=False,
        errors=[ErrorCase((np.zeros((2, 2)), np.zeros(2)), {}, ShapeError, "1-D"),
                ErrorCase((np.zeros(2), np.zeros(2)), {"side": "middle"}, ValueError, "'left' or 'right'"),
                ErrorCase((np.zeros(2, complex), np.zeros(2, complex)), {}, DTypeError, "no order")]),
    OpInfo("unique_numpy", th.unique, _unique_ref, lambda rng: [
        Sample((integers(rng, 0, 4, 7),)), Sample((integers(rng, 0, 3, 2, 3),), {"return_inverse": True}),
        Sample((np.array([2.0, 1.0, 2.0, 0.5]),), {"return_index": True, "return_counts": True}),
        Sample((np.array([[1, 0], [1, 0], [0, 1]]),), {"axis": 0, "return_inverse": True, "return_counts": True})],
        grad=False, known_failures={"infer": "how many distinct values there are depends on the values: None dims"}),
]

ROWS += [
    OpInfo("bincount", th.bincount, np.bincount, lambda rng: [
        Sample((integers(rng, 0, 5, 9),), grad=False), Sample((integers(rng, 0, 4, 6), rand(rng, 6))),
        Sample((np.array([1, 1, 3]),), {"minlength": 6}, grad=False), Sample((np.array([0, 2]), rand(rng, 2)), {"minlength": 4})],
        grad_args=(1,), known_failures=_VALUE_DEPENDENT,
        errors=[ErrorCase((np.zeros(3),), {}, DTypeError, "non-negative ints")]),
]


def _hist_ref(a, *weights, bins=10, range=None, density=False):
    return tuple(np.histogram(a, bins, range, weights=weights[0] if weights else None, density=density))


def _hist(a, *weights, **kw):  # weights by position, so the table makes them a symbolic input
    return th.histogram(a, weights=weights[0] if weights else None, **kw)


ROWS += [
    OpInfo("histogram", _hist, _hist_ref, lambda rng: [
        Sample((rand(rng, 40),)), Sample((rand(rng, 4, 5),), {"bins": 7, "range": (-0.5, 0.5)}),
        Sample((np.array([1.0, 1.0, 1.0]),), {"bins": 3}), Sample((integers(rng, 0, 10, 20),), {"bins": 4}),
        Sample((rand(rng, 30).astype("float32"),), {"bins": 5}), Sample((np.linspace(0, 1, 11),), {"bins": 10}),
        Sample((rand(rng, 8), rand(rng, 8)), {"bins": 3}), Sample((rand(rng, 12),), {"bins": 4, "density": True}),
        Sample((np.array([0.0, 1.0, 1.0, 2.0, 3.0, -1.0]),), {"bins": [0, 1, 1, 2]}),
        Sample((np.array([0.5, 1.0, 2.0, 2.0, 7.0]), rand(rng, 5)), {"bins": [0.0, 1.0, 2.0], "density": True})], grad=False,
        errors=[ErrorCase((np.zeros(3),), {"bins": 0}, ValueError, "positive int"),
                ErrorCase((np.zeros(3),), {"bins": [0.0, 2.0, 1.0]}, ValueError, "increase monotonically"),
                ErrorCase((np.zeros(3),), {"bins": [[0.0, 1.0]]}, ValueError, "1-D sequence"),
                ErrorCase((np.zeros(3),), {"bins": "auto"}, ValueError, "not provided"),
                ErrorCase((np.zeros(3),), {"range": (1.0, 0.0)}, ValueError, "min <= max"),
                ErrorCase((np.zeros(3, complex),), {}, DTypeError, "no order")]),
]


def _hist_edges_ref(a, edges, *weights, density=False):
    return tuple(np.histogram(a, edges, weights=weights[0] if weights else None, density=density))


def _hist_edges(a, edges, *weights, density=False):  # the edges as a symbolic input
    return th.histogram(a, edges, weights=weights[0] if weights else None, density=density)


ROWS += [
    OpInfo("histogram_edges", _hist_edges, _hist_edges_ref, lambda rng: [
        Sample((np.array([0.0, 1.0, 1.5, 2.0, 3.0, np.nan, -np.inf]), np.array([0.0, 1.0, 2.0]))),
        Sample((rand(rng, 3, 4), np.array([-1.0, -0.2, 0.0, 0.5, 1.0]), rand(rng, 3, 4)), {"density": True}),
        Sample((integers(rng, 0, 6, 10), np.array([0, 2, 2, 5]))),
        Sample((rand(rng, 9).astype("float32"), np.array([-0.5, 0.0, 0.5], "float32")))], grad=False,
        errors=[ErrorCase((np.zeros(3), np.zeros((2, 2))), {}, ShapeError, "must be 1-D"),
                ErrorCase((np.zeros(3), np.zeros(3, complex)), {}, DTypeError, "no order")]),
]
