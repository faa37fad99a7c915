"""Op-table rows for special functions, isclose and nan_to_num (NumPy/SciPy references)."""
import numpy as np
import scipy.special as sp

import theon as th
from theon.testing import ErrorCase, OpInfo, Sample, positive, rand


def _unary_samples(make):
    return lambda rng: [Sample((make(rng, 3, 4),)), Sample((make(rng, 5),)), Sample((make(rng),)),
                        Sample((make(rng, 4).astype("float32"),), grad=False)]


def _away_from_zero(rng, *shape):
    x = rand(rng, *shape)
    return np.where(np.abs(x) < 0.2, 0.5, x)


def _unit(rng, *shape):
    return rand(rng, *shape, low=-0.9, high=0.9)


def _edges(rng):
    # no -inf: C's lgamma(-inf) is +inf, scipy's gammaln -inf (docs/numpy_coverage.md)
    return [Sample((np.array([-2.0, 0.0, 1.5, np.inf, np.nan]),), grad=False)]


def _ints(rng):
    return [Sample((rng.integers(1, 6, size=(4,)),), grad=False)]


UNARY = [
    ("cbrt", th.cbrt, np.cbrt, _away_from_zero), ("exp2", th.exp2, np.exp2, rand),
    ("erfinv", th.erfinv, sp.erfinv, _unit), ("lgamma", th.lgamma, sp.gammaln, positive),
    ("digamma", th.digamma, sp.digamma, positive),
]
ROWS = [OpInfo(name, fn, ref, _unary_samples(make), second_order=True, rtol=1e-4)
        for name, fn, ref, make in UNARY]
ROWS += [OpInfo(f"{name}_edges", fn, ref, lambda rng: _edges(rng) + _ints(rng), grad=False)
         for name, fn, ref, _ in UNARY if name != "erfinv"]
ROWS += [
    OpInfo("polygamma", lambda x, n: th.polygamma(n, x), lambda x, n: sp.polygamma(n, x), lambda rng: [
        Sample((positive(rng, 3, 2),), {"n": 1}), Sample((positive(rng, 4),), {"n": 2}),
        Sample((positive(rng, 4),), {"n": 0})], rtol=1e-4,
        errors=[ErrorCase((np.ones(3),), {"n": -1}, ValueError, "n must be an int >= 0")]),
    OpInfo("isclose", th.isclose, np.isclose, lambda rng: [
        Sample((np.array([1.0, 1.0 + 1e-7, np.inf, -np.inf, np.nan, 1e-9, 2.0]),
                np.array([1.0, 1.0, np.inf, np.inf, np.nan, 0.0, 2.1]))),
        Sample((np.array([1.0, np.nan, 3.0]), np.array([1.0, np.nan, 3.05])), {"equal_nan": True, "atol": 0.1}),
        Sample((rand(rng, 3, 4), 0.25), {"rtol": 0.5}),
        Sample((np.array([1, 2, 3]), np.array([1, 2, 4])))], grad=False,
        errors=[ErrorCase((np.ones(3, complex), np.ones(3)), {}, th.errors.DTypeError, "complex")]),
    OpInfo("nan_to_num", th.nan_to_num, np.nan_to_num, lambda rng: [
        Sample((np.array([-np.inf, -1.5, 0.0, np.inf, np.nan]),), grad=False),
        Sample((np.array([-np.inf, 2.0, np.inf, np.nan], np.float32),), {"nan": 1.5, "posinf": 3.0}, grad=False),
        Sample((np.array([-np.inf, 2.0, np.nan]),), {"neginf": -7.0}, grad=False),
        Sample((np.array([1, 2, 3]),), grad=False),
        Sample((rand(rng, 3, 4),))]),
]
