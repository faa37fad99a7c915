"""Python operators and NumPy-style methods on variables behave as on NumPy arrays."""
import numpy as np

import theon as th


def _run(fn, *arrays):
    xs = [th.tensor(f"x{i}", a.shape, a.dtype.name) for i, a in enumerate(arrays)]
    return th.function(xs, fn(*xs))(*arrays)


A = np.arange(1.0, 13.0).reshape(3, 4)
B = np.linspace(0.5, 2.0, 4)
I = np.array([[1, 2], [3, 4]])


def test_arithmetic_operators_and_reflected_forms():
    for fn in (lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / b,
               lambda a, b: a // b, lambda a, b: a % b, lambda a, b: a ** b,
               lambda a, b: 2 - a, lambda a, b: 3 / a, lambda a, b: 2 ** b, lambda a, b: -a,
               lambda a, b: abs(-a), lambda a, b: +a):
        np.testing.assert_allclose(_run(fn, A, B), fn(A, B))


def test_matmul_operator():
    m = np.arange(8.0).reshape(4, 2)
    np.testing.assert_allclose(_run(lambda a, b: a @ b, A, m), A @ m)


def test_comparison_and_logical_operators():
    for fn in (lambda a, b: a < b * 4, lambda a, b: a <= 5, lambda a, b: a > 5, lambda a, b: a >= 5,
               lambda a, b: (a > 3) & (a < 9), lambda a, b: (a < 3) | (a > 9), lambda a, b: ~(a > 3)):
        np.testing.assert_array_equal(_run(fn, A, B), fn(A, B))
    np.testing.assert_array_equal(_run(lambda i: (i & 6) | 1, I), (I & 6) | 1)
    np.testing.assert_array_equal(_run(lambda i: ~i, I), ~I)


def test_indexing_basic_and_advanced():
    idx = np.array([2, 0])
    np.testing.assert_allclose(_run(lambda a: a[1:, None, idx], A), A[1:, None, idx])
    np.testing.assert_allclose(_run(lambda a: a[..., ::-2], A), A[..., ::-2])
    np.testing.assert_allclose(_run(lambda a: a[-1], A), A[-1])


def test_attributes_and_methods():
    x = th.tensor("x", (None, 4), "float64")
    assert x.ndim == 2 and x.dtype == "float64"
    assert x.shape[1] == 4 and isinstance(x.shape[0], th.Variable)
    np.testing.assert_allclose(_run(lambda a: a.T, A), A.T)
    np.testing.assert_allclose(_run(lambda a: a.reshape(4, 3), A), A.reshape(4, 3))
    np.testing.assert_allclose(_run(lambda a: a.reshape((2, -1)), A), A.reshape(2, -1))
    assert _run(lambda a: a.astype("int32"), A).dtype == np.int32
    for name in ("sum", "mean", "max", "min"):
        np.testing.assert_allclose(_run(lambda a: getattr(a, name)(), A), getattr(A, name)())
        np.testing.assert_allclose(_run(lambda a: getattr(a, name)(axis=1), A), getattr(A, name)(axis=1))
    n = _run(lambda a: th.zeros((a.shape[0], 2)), A)
    assert n.shape == (3, 2)
