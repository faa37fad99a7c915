"""NumPy semantics that once differed (issue 13), one test each. Every case is checked both
with symbolic inputs (the compiled program) and with constants (folded while compiling):
the two must agree with NumPy and with each other."""
import numpy as np
import pytest

import theon as th
from theon.errors import DTypeError, KernelError


def both(fn, *arrays):
    """fn's result with `arrays` as compiled-function inputs, and with them as constants."""
    xs = [th.tensor(f"a{i}", a.shape, a.dtype.name) for i, a in enumerate(arrays)]
    symbolic = th.function(xs, fn(*xs))(*arrays)
    folded = th.function([], fn(*[th.constant(a) for a in arrays]))()
    return symbolic, folded


def assert_both(fn, arrays, want):
    want = np.asarray(want)
    for got in both(fn, *arrays):
        assert got.dtype == want.dtype, f"dtype {got.dtype}, want {want.dtype}"
        np.testing.assert_array_equal(got, want)
        if want.dtype.kind == "f":  # the signs of zeros too
            zero = want == 0
            np.testing.assert_array_equal(np.signbit(got[zero]), np.signbit(want[zero]))


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int32", "int64"])
def test_integer_floor_divide_and_mod_by_zero_give_zero(dtype):
    x, y = np.array([7, 0, 3], dtype), np.array([0, 0, 2], dtype)
    assert_both(th.floor_divide, [x, y], np.array([0, 0, 1], dtype))
    assert_both(th.mod, [x, y], np.array([0, 0, 1], dtype))


def test_sign_of_nan_is_nan_and_of_complex_is_unit():
    assert_both(th.sign, [np.array([np.nan, -0.0, 2.0, -np.inf])], [np.nan, 0.0, 1.0, -1.0])
    got, _ = both(th.sign, np.array([3 + 4j, 0j]))
    np.testing.assert_allclose(got, [0.6 + 0.8j, 0])


def test_float_mod_takes_the_divisors_sign_zeros_included():
    x = np.array([-3.0, 3.0, 5.0, -5.0, 1.0, -1.0])
    y = np.array([3.0, -3.0, -3.0, 3.0, np.inf, np.inf])
    assert_both(th.mod, [x, y], np.mod(x, y))
    assert np.signbit(both(th.mod, x, y)[0][1])  # 3 mod -3 is -0.0


def test_float_floor_divide_follows_numpy_at_infinities_and_overflow():
    big = np.finfo(np.float64).max
    x, y = np.array([1.0, -1.0, big, 1.0]), np.array([np.inf, np.inf, 0.5, 0.0])
    assert_both(th.floor_divide, [x, y], [0.0, -1.0, np.inf, np.inf])


def test_adding_zero_turns_negative_zero_positive():
    x = np.array([-0.0, 1.0])
    assert_both(lambda a: a + 0.0, [x], [0.0, 1.0])
    assert_both(lambda a: a - (-0.0), [x], [0.0, 1.0])
    assert_both(lambda a: a + (-0.0), [x], [-0.0, 1.0])
    assert_both(lambda a: a - 0.0, [x], [-0.0, 1.0])


def test_python_int_outside_the_dtype_compares_right_and_refuses_arithmetic():
    x = np.array([0, 200, 255], np.uint8)
    assert_both(lambda a: a > -1, [x], [True, True, True])
    assert_both(lambda a: a == 1000, [x], [False, False, False])
    assert_both(lambda a: -1 < a, [x], [True, True, True])
    assert_both(lambda a: a <= 2 ** 70, [x], [True, True, True])
    v = th.tensor("v", (3,), "int8")
    for build in (lambda: v + 1000, lambda: v * -200, lambda: th.maximum(v, 128), lambda: v + 2 ** 70):
        with pytest.raises(OverflowError, match="out of bounds"):
            build()
    assert (v + 127).dtype == "int8"  # in range: stays int8


@pytest.mark.parametrize("dtype", ["uint8", "int32", "float32", "complex64"])
def test_any_and_all_are_bool_for_every_dtype(dtype):
    x = np.array([[0, 2], [0, 0]], dtype)
    assert_both(lambda a: th.any(a, axis=1), [x], [True, False])
    assert_both(lambda a: th.all(a, axis=0), [x], [False, False])
    assert_both(th.any, [x], True)


def test_round_integers_to_tens_and_bools_through_float16():
    x = np.array([15, 25, -15, 125, 1234], np.int32)
    assert_both(lambda a: th.round(a, -1), [x], np.round(x, -1))
    assert_both(lambda a: th.round(a, -2), [x], np.round(x, -2))
    assert_both(th.round, [np.array([True, False])], np.round(np.array([True, False])))


def test_abs_floor_ceil_of_bool():
    b = np.array([True, False])
    for fn, ref in ((th.abs, np.abs), (th.floor, np.floor), (th.ceil, np.ceil)):
        assert_both(fn, [b], ref(b))


def test_integer_power_with_negative_exponent_raises():
    x = th.tensor("x", (3,), "int64")
    with pytest.raises(ValueError, match="negative integer powers"):
        x ** -1                                   # a constant exponent: when building
    with pytest.raises(ValueError, match="negative integer powers"):
        th.power(x, np.array([1, -2, 3]))
    y = th.tensor("y", (3,), "int64")
    f = th.function([x, y], x ** y)
    np.testing.assert_array_equal(f(np.array([2, 3, 4]), np.array([0, 1, 2])), [1, 3, 16])
    with pytest.raises(KernelError, match="ValueError: Integers to negative integer powers"):
        f(np.array([2, 3, 4]), np.array([0, -1, 2]))
    assert_both(lambda a: a ** -1, [np.array([2.0, -0.5])], [0.5, -2.0])  # floats are fine


def test_clip_without_bounds_is_the_input_and_int8_bounds_follow_numpy2():
    x = th.tensor("x", (5,), "int8")
    assert th.clip(x, None, None) is x
    a = np.array([-128, -1, 0, 5, 127], np.int8)
    assert_both(lambda v: th.clip(v, -1000, 1000), [a], a)
    assert_both(lambda v: th.clip(v, -1000, 3), [a], np.clip(a, -1000, 3))
    assert_both(lambda v: th.clip(v, 1.5, None), [a], np.clip(a, 1.5, None))
    for lo, hi in ((200, 300), (None, -1000)):
        with pytest.raises(OverflowError):
            th.clip(x, lo, hi)


def test_abs_of_complex_is_the_modulus():
    z = np.array([3 + 4j, -1j, 0j], np.complex64)
    assert_both(th.abs, [z], np.array([5.0, 1.0, 0.0], np.float32))


def test_complex_order_is_refused_when_building():
    z = th.tensor("z", (2,), "complex64")
    for build in (lambda: z < z, lambda: th.greater_equal(z, 1), lambda: th.maximum(z, z),
                  lambda: th.clip(z, 0, 1), lambda: th.max(z), lambda: th.argmax(z),
                  lambda: th.floor(z)):
        with pytest.raises(DTypeError):
            build()
    assert th.equal(z, z).dtype == "bool"   # equality is defined


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "bool"])
def test_one_operand_einsum_keeps_the_declared_dtype(dtype):
    x = np.array([[100, 100], [1, 2]], dtype) if dtype != "bool" else np.array([[1, 0], [0, 0]], bool)
    for spec in ("ij->i", "ii", "ij->"):
        assert_both(lambda a: th.einsum(spec, a), [x], np.einsum(spec, x))


def test_var_and_std_of_one_element_keep_nan_and_infinity():
    for fn, ref in ((th.var, np.var), (th.std, np.std)):
        with np.errstate(all="ignore"):
            assert_both(fn, [np.array(np.nan)], ref(np.array(np.nan)))
            assert_both(fn, [np.array(3.0)], 0.0)
            assert_both(lambda a: fn(a, axis=()), [np.array([1.0, np.inf, np.nan])], [0.0, np.nan, np.nan])
            assert_both(lambda a: fn(a, ddof=1), [np.array(2.0)], np.nan)


def test_index_and_axis_errors_are_index_errors_and_shape_errors_naming_the_line():
    x = th.tensor("x", (3, 4))
    cases = {"x[5]": lambda: x[5], "x[-4]": lambda: x[-4], "x[0, 0, 0]": lambda: x[0, 0, 0],
             "take": lambda: th.take(x, [12]), "sum axis": lambda: th.sum(x, axis=2),
             "0-d axis": lambda: th.sum(th.tensor("s", ()), axis=3), "argmax": lambda: th.argmax(x, axis=-3),
             "expand_dims": lambda: th.expand_dims(x, 4), "concatenate": lambda: th.concatenate([x, x], 2),
             "transpose": lambda: th.transpose(x, (0, 2)), "tensordot": lambda: th.tensordot(x, x, ((2,), (0,)))}
    for name, build in cases.items():
        with pytest.raises(IndexError) as info:
            build()
        assert isinstance(info.value, th.errors.ShapeError), name
        assert isinstance(info.value, (th.errors.AxisError, th.errors.TensorIndexError)), name
        assert "test_numpy_semantics.py" in str(info.value), f"{name}: {info.value}"
    assert isinstance(th.errors.AxisError("a"), ValueError)   # as NumPy's AxisError
    assert th.sum(th.tensor("s", ()), axis=0).ndim == 0        # NumPy accepts 0 and -1 on 0-d
