"""theon against NumPy on edge inputs: signed zeros, infinities, NaN, dtype extremes and
empty arrays, for every elementwise op, the reductions and a few others.

Each case runs twice: with the arrays as symbolic inputs of a compiled function, and with
them as graph constants (so the compiler folds everything at build time); both must give
NumPy's dtype and values (NaN where NumPy has NaN, the sign of every zero), or, where
NumPy refuses the dtypes, theon must refuse them when the graph is built.
"""
import warnings

import numpy as np
import pytest
import scipy.special as sp

import theon as th

FLOATS = ("float16", "float32", "float64")
INTS = ("uint8", "int8", "int16", "int32", "int64")
REALS = ("bool",) + INTS + FLOATS


def edge_values(dtype: str) -> np.ndarray:
    """The values that break implementations: zeros of both signs, infinities, NaN, extremes."""
    if dtype == "bool":
        return np.array([False, True])
    if dtype in INTS:
        info = np.iinfo(dtype)
        vals = [0, 1, 2, 3, 7, info.max, info.max - 1, info.min, info.min + 1]
        if info.min < 0:
            vals += [-1, -2, -3, -7]
        return np.array(sorted(set(vals)), dtype=dtype)
    if dtype.startswith("complex"):
        re = np.array([0.0, -0.0, 1.5, -2.0, np.inf, np.nan])
        return (re[:, None] + 1j * np.array([0.0, -0.0, 0.5, -3.0, np.inf])).ravel().astype(dtype)
    info = np.finfo(dtype)
    vals = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -2.5, 3.0, -7.0, 0.3, -0.7, 10.0, 1e4,
            np.inf, -np.inf, np.nan, float(info.max), float(-info.max), float(info.tiny),
            float(-info.tiny), float(info.smallest_subnormal)]
    return np.array(vals, dtype=dtype)


def _theon(fn, arrays, symbolic: bool):
    """fn applied by theon: arrays as compiled-function inputs, or as folded constants."""
    if symbolic:
        xs = [th.tensor(f"a{i}", a.shape, a.dtype.name) for i, a in enumerate(arrays)]
        return th.function(xs, fn(*xs))(*arrays)
    return th.function([], fn(*[th.constant(a) for a in arrays]))()


def _numpy(fn, arrays):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return np.asarray(fn(*arrays))


def assert_same(got, want, exact=True, zero_signs=True):
    got = np.asarray(got)
    assert got.dtype == want.dtype, f"dtype {got.dtype}, NumPy gives {want.dtype}"
    assert got.shape == want.shape, f"shape {got.shape}, NumPy gives {want.shape}"
    if want.dtype.kind in "fc":
        for part in ((lambda a: a.real), (lambda a: a.imag)) if want.dtype.kind == "c" else (lambda a: a,):
            g, w = part(got), part(want)
            np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg="NaN positions differ")
            ok = ~np.isnan(w)
            if exact:
                np.testing.assert_array_equal(g[ok], w[ok])
            else:
                info = np.finfo(w.dtype)  # subnormal results may flush to zero
                np.testing.assert_allclose(g[ok], w[ok], rtol=4 * info.eps, atol=info.tiny)
            zero = ok & (w == 0) if zero_signs else np.zeros_like(ok)
            np.testing.assert_array_equal(np.signbit(g[zero]), np.signbit(w[zero]),
                                          err_msg="signs of zeros differ")
    else:
        np.testing.assert_array_equal(got, want)


def check(fn, ref, arrays, exact=True, zero_signs=True):
    """theon's fn matches NumPy's ref on `arrays`, or both refuse the dtypes."""
    try:
        want = _numpy(ref, arrays)
    except (TypeError, ValueError, OverflowError) as e:
        error = next(c for c in (TypeError, OverflowError, ValueError) if isinstance(e, c))
        for symbolic in (True, False):
            with pytest.raises(error):
                _theon(fn, arrays, symbolic)
        return
    for symbolic in (True, False):
        assert_same(_theon(fn, arrays, symbolic), want, exact, zero_signs)


# ---- elementwise ----------------------------------------------------------------------

# name: (theon, NumPy, exact): `exact` ops must match bit for bit; transcendental ones to
# a few ulps (torch and NumPy use different libm implementations)
UNARY = {
    "negative": (th.negative, np.negative, True), "abs": (th.abs, np.abs, True),
    "sign": (th.sign, np.sign, True), "square": (th.square, np.square, True),
    "floor": (th.floor, np.floor, True), "ceil": (th.ceil, np.ceil, True),
    "round": (th.round, np.round, True), "isnan": (th.isnan, np.isnan, True),
    "isinf": (th.isinf, np.isinf, True), "isfinite": (th.isfinite, np.isfinite, True),
    "logical_not": (th.logical_not, np.logical_not, True), "invert": (th.invert, np.invert, True),
    "sqrt": (th.sqrt, np.sqrt, False), "exp": (th.exp, np.exp, False),
    "expm1": (th.expm1, np.expm1, False), "log": (th.log, np.log, False),
    "log1p": (th.log1p, np.log1p, False), "log2": (th.log2, np.log2, False),
    "sin": (th.sin, np.sin, False), "cos": (th.cos, np.cos, False), "tan": (th.tan, np.tan, False),
    "arcsin": (th.arcsin, np.arcsin, False), "arccos": (th.arccos, np.arccos, False),
    "arctan": (th.arctan, np.arctan, False), "sinh": (th.sinh, np.sinh, False),
    "cosh": (th.cosh, np.cosh, False), "tanh": (th.tanh, np.tanh, False),
    "log10": (th.log10, np.log10, False), "arcsinh": (th.arcsinh, np.arcsinh, False),
    "arccosh": (th.arccosh, np.arccosh, False), "arctanh": (th.arctanh, np.arctanh, False),
    "trunc": (th.trunc, np.trunc, True), "signbit": (th.signbit, np.signbit, True),
}
FLOAT_ONLY_UNARY = {
    "sigmoid": (th.sigmoid, sp.expit), "erf": (th.erf, sp.erf),
    "reciprocal": (th.reciprocal, np.reciprocal), "rsqrt": (th.rsqrt, lambda x: 1 / np.sqrt(x)),
}


@pytest.mark.parametrize("dtype", REALS)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name, dtype):
    fn, ref, exact = UNARY[name]
    if dtype == "float16" and not exact:
        return  # float16 transcendental functions round differently in each library
    check(fn, ref, [edge_values(dtype)], exact)


@pytest.mark.parametrize("dtype", ("float32", "float64"))
@pytest.mark.parametrize("name", sorted(FLOAT_ONLY_UNARY))
def test_float_unary(name, dtype):
    fn, ref = FLOAT_ONLY_UNARY[name]
    check(fn, ref, [edge_values(dtype)], exact=False)


BINARY = {
    "add": (th.add, np.add, True), "subtract": (th.subtract, np.subtract, True),
    "multiply": (th.multiply, np.multiply, True), "divide": (th.divide, np.divide, True),
    "floor_divide": (th.floor_divide, np.floor_divide, True), "mod": (th.mod, np.mod, True),
    "power": (th.power, np.power, False), "arctan2": (th.arctan2, np.arctan2, False),
    "maximum": (th.maximum, np.maximum, True), "minimum": (th.minimum, np.minimum, True),
    "equal": (th.equal, np.equal, True), "not_equal": (th.not_equal, np.not_equal, True),
    "less": (th.less, np.less, True), "less_equal": (th.less_equal, np.less_equal, True),
    "greater": (th.greater, np.greater, True),
    "greater_equal": (th.greater_equal, np.greater_equal, True),
    "logical_and": (th.logical_and, np.logical_and, True),
    "logical_or": (th.logical_or, np.logical_or, True),
    "logical_xor": (th.logical_xor, np.logical_xor, True),
    "bitwise_and": (th.bitwise_and, np.bitwise_and, True),
    "bitwise_or": (th.bitwise_or, np.bitwise_or, True),
    "bitwise_xor": (th.bitwise_xor, np.bitwise_xor, True),
    "copysign": (th.copysign, np.copysign, True), "hypot": (th.hypot, np.hypot, False),
    "logaddexp": (th.logaddexp, np.logaddexp, False), "nextafter": (th.nextafter, np.nextafter, True),
    "left_shift": (th.left_shift, np.left_shift, True), "right_shift": (th.right_shift, np.right_shift, True),
}
DTYPE_PAIRS = [(d, d) for d in REALS] + [
    ("int8", "uint8"), ("uint8", "int64"), ("int32", "float32"), ("bool", "int8"),
    ("float16", "float64"), ("int64", "float64"),
]


def _pairs(a, b):
    """Every value of a against every value of b (broadcast (n, 1) with (m,))."""
    return [a[:, None], b]


@pytest.mark.parametrize("dtypes", DTYPE_PAIRS, ids="-".join)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary(name, dtypes):
    fn, ref, exact = BINARY[name]
    a, b = edge_values(dtypes[0]), edge_values(dtypes[1])
    if name == "power" and dtypes[1] in INTS and np.iinfo(dtypes[1]).min < 0:
        b = b[b >= 0]  # negative integer powers raise: tested on their own
    if "float16" in dtypes and not exact:
        return
    # NumPy's float16 nextafter(x, y) returns x when x == y; C's (and torch's) returns y
    zero_signs = name not in UNSIGNED_ZEROS and not (name == "nextafter" and "float16" in dtypes)
    check(fn, ref, _pairs(a, b), exact, zero_signs)


# NumPy's SIMD maximum/minimum pick either zero when comparing +0.0 with -0.0 (the Array
# API leaves it unspecified)
UNSIGNED_ZEROS = ("maximum", "minimum")
SCALARS = [0, 1, -1, 3, 0.0, -0.0, 0.5, -2.5, np.inf, -np.inf, np.nan, True, False]


@pytest.mark.parametrize("dtype", ("uint8", "int8", "int32", "float32", "float64", "bool"))
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_with_python_scalar(name, dtype):
    """A Python scalar is weak (NEP 50): it takes the array's dtype where its kind allows."""
    fn, ref, exact = BINARY[name]
    a = edge_values(dtype)
    for s in SCALARS:
        zero_signs = name not in UNSIGNED_ZEROS
        if not (name == "power" and s == 0.5):  # NumPy's x ** 0.5 is sqrt(x); theon's IEEE pow
            check(lambda x: fn(x, s), lambda x: ref(x, s), [a], exact, zero_signs)
        if not (name == "power" and dtype in INTS and isinstance(s, int)):  # see test_power_*
            check(lambda x: fn(s, x), lambda x: ref(s, x), [a], exact, zero_signs)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_of_empty(name):
    fn, ref, _ = UNARY[name]
    for dtype in ("int32", "float32"):
        check(fn, ref, [np.zeros((0, 3), dtype)])


@pytest.mark.parametrize("decimals", (-2, -1, 0, 1, 3))
@pytest.mark.parametrize("dtype", REALS)
def test_round_decimals(dtype, decimals):
    check(lambda x: th.round(x, decimals), lambda x: np.round(x, decimals), [edge_values(dtype)])


CLIP_BOUNDS = [(None, None), (-1, 2), (-1000, 1000), (-0.5, 0.5), (0.0, None), (None, -0.0),
               (np.nan, 1.0), (2, 1), (-(2 ** 40), None), (None, 2 ** 40), (300, None), (None, -300)]


@pytest.mark.parametrize("bounds", CLIP_BOUNDS, ids=str)
@pytest.mark.parametrize("dtype", ("uint8", "int8", "int32", "float32", "float64"))
def test_clip(dtype, bounds):
    lo, hi = bounds  # which zero clip gives for +0.0 against -0.0 is unspecified, as for maximum
    check(lambda x: th.clip(x, lo, hi), lambda x: np.clip(x, lo, hi), [edge_values(dtype)],
          zero_signs=False)


# ---- reductions -------------------------------------------------------------------------

REDUCTIONS = {
    "sum": (th.sum, np.sum), "prod": (th.prod, np.prod), "mean": (th.mean, np.mean),
    "var": (th.var, np.var), "std": (th.std, np.std), "max": (th.max, np.max),
    "min": (th.min, np.min), "any": (th.any, np.any), "all": (th.all, np.all),
    "argmax": (th.argmax, np.argmax), "argmin": (th.argmin, np.argmin),
    "logsumexp": (th.logsumexp, sp.logsumexp),
}
AXES = [dict(), dict(axis=0), dict(axis=1), dict(axis=(), keepdims=True), dict(axis=-1, keepdims=True)]


def _grid(dtype):
    """The edge values in a (k, 3) grid, each row mixing ordinary and special values."""
    v = edge_values(dtype)
    v = np.concatenate([v, v[: (-len(v)) % 3]])
    return v.reshape(-1, 3)


def _numpy_sum_dtype(ref):
    """theon has no uint64: unsigned sums and products accumulate in int64 (NumPy: uint64)."""
    def wrapped(x, **kw):
        if x.dtype.kind == "u":
            return ref(x.astype("int64"), **kw)
        return ref(x, **kw)
    return wrapped


@pytest.mark.parametrize("dtype", ("bool", "uint8", "int8", "int32", "float32", "float64"))
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction(name, dtype):
    fn, ref = REDUCTIONS[name]
    grid = _grid(dtype)
    if name in ("var", "std") and dtype in FLOATS:
        # NumPy's two-pass variance overflows to inf on values near the float's maximum
        # where torch's (Welford) stays finite and right: leave those rows out
        grid = grid[np.all((np.abs(grid) < 1e15) | np.isnan(grid), axis=1)]
    if name in ("sum", "prod"):
        ref = _numpy_sum_dtype(ref)
    # The sign of a zero result is unspecified for reductions (the Array API leaves it so):
    # NumPy sums from +0.0 and picks either zero of a +0.0/-0.0 tie in max and min.
    for kw in AXES:
        if name.startswith("arg") and (kw.get("axis") == () or "keepdims" in kw):
            continue
        if name == "logsumexp" and dtype not in FLOATS:
            continue
        exact = name not in ("mean", "var", "std", "logsumexp")
        check(lambda x: fn(x, **kw), lambda x: ref(x, **kw), [grid], exact, zero_signs=False)


@pytest.mark.parametrize("name", ("sum", "prod", "mean", "var", "std", "any", "all"))
def test_reduction_of_empty_and_0d(name):
    fn, ref = REDUCTIONS[name]
    for arrays in ([np.zeros((0, 3), "float64")], [np.array(np.nan)], [np.array(2.5, "float32")],
                   [np.array(7, "int8")]):
        for kw in (dict(), dict(axis=())):
            check(lambda x: fn(x, **kw), lambda x: ref(x, **kw), arrays, exact=False)
    check(lambda x: fn(x, axis=0), lambda x: ref(x, axis=0), [np.zeros((0, 3), "float32")], exact=False)


@pytest.mark.parametrize("name", ("cumsum", "cumprod"))
@pytest.mark.parametrize("dtype", ("bool", "int8", "float32"))
def test_scans(name, dtype):
    fn, ref = getattr(th, name), getattr(np, name)
    exact = dtype != "float32"  # torch accumulates float32 running sums in double
    check(lambda x: fn(x, axis=0), lambda x: ref(x, axis=0), [_grid(dtype)], exact, zero_signs=False)
    check(fn, ref, [_grid(dtype)], exact, zero_signs=False)


# ---- other ops on edge values -------------------------------------------------------------

CASTS = [("float64", "float32"), ("float32", "float16"), ("float32", "bool"), ("int8", "uint8"),
         ("int64", "int8"), ("bool", "float32"), ("uint8", "int8"), ("int32", "float64"),
         ("float32", "complex64"), ("int64", "float64")]


@pytest.mark.parametrize("pair", CASTS, ids="-".join)
def test_cast(pair):
    src, dst = pair
    check(lambda x: th.cast(x, dst), lambda x: x.astype(dst), [edge_values(src)])


@pytest.mark.parametrize("dtype", ("bool", "int8", "uint8", "float32"))
def test_where_einsum_matmul(dtype):
    v = edge_values(dtype)
    m = np.resize(v, (4, 4)).astype(dtype)
    zero = np.zeros((), dtype)
    check(lambda c, x: th.where(c, x, zero), lambda c, x: np.where(c, x, zero), [m > 0, m])
    check(lambda x: th.einsum("ij->i", x), lambda x: np.einsum("ij->i", x), [m])
    check(lambda x: th.einsum("ii", x), lambda x: np.einsum("ii", x), [m])
    check(lambda x: th.einsum("ij,jk->ik", x, x), lambda x: np.einsum("ij,jk->ik", x, x), [m])
    if dtype != "float32":  # BLAS sums in another order
        check(th.matmul, np.matmul, [m, m])
