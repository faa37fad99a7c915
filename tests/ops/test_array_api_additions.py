"""The Array API functions theon gained for the conformance suite, checked against NumPy:
result_type/can_cast/isdtype, 0-d boolean indices, and the complex special values of acos,
expm1 and log1p (C99 Annex G, which the Array API and, except expm1, NumPy follow)."""
import itertools
import warnings

import numpy as np
import pytest

import theon as th
from theon.errors import DTypeError

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64",
          "complex64", "complex128"]


@pytest.mark.parametrize("a, b", list(itertools.product(DTYPES, DTYPES)))
def test_dtype_functions_answer_as_numpy(a, b):
    assert th.result_type(a, b) == np.result_type(a, b).name
    assert th.result_type(th.tensor("x", (2,), a), np.dtype(b)) == np.result_type(a, b).name
    assert th.can_cast(a, b) is np.can_cast(a, b)
    assert th.can_cast(th.tensor("x", (), a), b) is np.can_cast(a, b)
    for kind in ("bool", "signed integer", "unsigned integer", "integral", "real floating",
                 "complex floating", "numeric", ("bool", "real floating"), b):
        want = np.isdtype(np.dtype(a), np.dtype(kind) if kind == b else kind)
        assert th.isdtype(a, kind) is want, (a, kind)


def test_result_type_keeps_python_scalars_weak():
    assert th.result_type(th.tensor("x", (), "float32"), 1.5) == "float32"
    assert th.result_type("int8", 1) == "int8"
    assert th.result_type("int8", 1.5) == "float64"        # NumPy 2 (NEP 50)


def test_dtype_functions_refuse_what_is_not_a_dtype():
    with pytest.raises(DTypeError, match="at least one tensor or dtype"):
        th.result_type(1, 2.0)
    with pytest.raises(DTypeError, match="kind must be a dtype or one of"):
        th.isdtype("float32", "floaty")
    with pytest.raises(DTypeError, match="not a tensor"):
        th.isdtype(th.tensor("x", ()), "numeric")
    with pytest.raises(DTypeError, match="expected a tensor or a dtype"):
        th.can_cast("no such dtype", "int8")


def test_count_nonzero_of_complex_and_bool():
    z = np.array([0j, 1j, 2 + 0j, -0.0 + 0j, complex(0.0, -0.0)])
    b = np.array([[True, False], [True, True]])
    vz, vb = th.tensor("z", z.shape, "complex128"), th.tensor("b", b.shape, "bool")
    nz, nb = th.function([vz, vb], [th.count_nonzero(vz), th.count_nonzero(vb, axis=0)])(z, b)
    assert nz == np.count_nonzero(z) == 2 and nz.dtype == np.int64
    np.testing.assert_array_equal(nb, np.count_nonzero(b, axis=0))


def test_unique_functions_of_bool_and_nan():
    b = np.array([[True, False], [True, True]])
    x = np.array([np.nan, 1.0, np.nan, 0.5], "float32")
    vb, vx = th.tensor("b", b.shape, "bool"), th.tensor("x", x.shape, "float32")
    got = th.function([vb, vx], [*th.unique_all(vb), *th.unique_counts(vx)])(b, x)
    for g, w in zip(got, [*np.unique_all(b), *np.unique_counts(x)]):
        np.testing.assert_array_equal(g, w)


BOOL_KEYS = [True, False, np.True_, np.array(False), (Ellipsis, True), (0, False), (False, 1),
             (None, False, Ellipsis), (slice(1, None), True, 2)]


@pytest.mark.parametrize("key", BOOL_KEYS, ids=repr)
def test_boolean_scalar_index_is_a_new_axis_as_in_numpy(key):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = th.tensor("x", (2, 3, 4), "float64")
    want = a[key]
    f = th.function([x], [x[key], th.set_subtensor(x[key], -1.0)])
    got, updated = f(a)
    np.testing.assert_array_equal(got, want)
    assert got.shape == want.shape
    expected = a.copy()
    expected[key] = -1.0
    np.testing.assert_array_equal(updated, expected)
    np.testing.assert_array_equal(th.function([], th.constant(a)[key])(), want)   # folded


def test_boolean_scalar_index_of_a_0d_tensor():
    s = th.tensor("s", (), "float32")
    f = th.function([s], [s[True], s[False]])
    yes, no = f(np.float32(2.0))
    assert yes.shape == (1,) and yes[0] == 2.0 and no.shape == (0,)


@pytest.mark.parametrize("key", [(True, True), (True, [0]), (0, slice(None), False)], ids=repr)
def test_boolean_scalar_index_mixed_with_arrays_is_refused_clearly(key):
    x = th.tensor("x", (2, 3), "float32")
    with pytest.raises(TypeError, match="boolean scalar index"):
        x[key]


# ---- complex special values -----------------------------------------------------------------

_PARTS = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0, np.inf, -np.inf, np.nan, 700.0]


def _grid(dtype):
    re, im = zip(*itertools.product(_PARTS, _PARTS))
    z = np.zeros(len(re), dtype)
    z.real, z.imag = re, im
    return z


def _expm1_c99(z):
    """exp(z) - 1 by C99's cexp: exp(x) + 0j for a zero imaginary part; -1 + 0j at
    -inf + (inf or nan) j; inf + nan j at +inf + (inf or nan) j; NumPy's expm1 elsewhere."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = np.expm1(z)
        x, y = z.real, z.imag
        zero_y = y == 0
        out.real = np.where(zero_y, np.expm1(x) + 0.0, out.real)          # -0.0 + 0.0 is +0.0
        out.imag = np.where(zero_y, y, out.imag)
        unbounded = ~np.isfinite(y)
        to_zero, to_inf = np.isneginf(x) & unbounded, np.isposinf(x) & unbounded
        out.real = np.where(to_zero, -1.0, np.where(to_inf, np.inf, out.real))
        out.imag = np.where(to_zero, np.copysign(0.0, y), np.where(to_inf, np.nan, out.imag))
    return out


def _same_parts(got, want, rtol):
    for g, w in ((got.real, want.real), (got.imag, want.imag)):
        both_nan = np.isnan(g) & np.isnan(w)
        close = np.isclose(g, w, rtol=rtol, atol=0) & (np.signbit(g) == np.signbit(w))
        assert np.all(both_nan | close), (got[~(both_nan | close)], want[~(both_nan | close)])


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("name, ref", [("arccos", np.arccos), ("log1p", np.log1p), ("expm1", _expm1_c99)])
@pytest.mark.parametrize("folded", [False, True], ids=["symbolic", "folded"])
def test_complex_special_values(name, ref, dtype, folded):
    z = _grid(dtype)
    fn = getattr(th, name)
    if folded:
        got = th.function([], fn(th.constant(z)))()
    else:
        v = th.tensor("z", z.shape, dtype)
        got = th.function([v], fn(v))(z)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = ref(z)
    assert got.dtype == want.dtype
    _same_parts(got, want, rtol=1e-5 if dtype == "complex64" else 1e-12)


def test_complex_special_values_the_array_api_names():
    inf, nan = np.inf, np.nan
    z = np.array([complex(0.0, 0.0), complex(inf, 0.0), complex(-inf, inf), complex(nan, 0.0),
                  complex(inf, nan), complex(nan, inf), complex(-0.0, 0.0)])
    v = th.tensor("z", z.shape, "complex128")
    acos, expm1, log1p = th.function([v], [th.arccos(v), th.expm1(v), th.log1p(v)])(z)
    assert acos[0].real == np.pi / 2 and np.signbit(acos[0].imag)          # pi/2 - 0j
    assert expm1[1] == inf and not np.signbit(expm1[1].imag)               # inf + 0j
    assert expm1[2] == -1                                                  # -1 + 0j
    assert np.isnan(expm1[3].real) and expm1[3].imag == 0                  # nan + 0j
    assert np.isinf(expm1[4].real) and np.isnan(expm1[4].imag)             # inf + nan j
    assert expm1[6] == 0 and not np.signbit(expm1[6].real)                # 0 + 0j
    assert log1p[4].real == inf and log1p[5].real == inf and np.isnan(log1p[5].imag)


def test_real_inputs_keep_torchs_kernels():
    x = np.array([-0.0, 0.25, -0.5, 3.0])
    v = th.tensor("x", x.shape, "float64")
    got = th.function([v], [th.arccos(v / 4), th.expm1(v), th.log1p(v)])(x)
    for g, w in zip(got, (np.arccos(x / 4), np.expm1(x), np.log1p(x))):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    assert np.signbit(got[1][0]) and np.signbit(got[2][0])                 # -0.0 stays -0.0
