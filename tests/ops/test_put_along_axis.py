"""th.put_along_axis against numpy.put_along_axis (which writes in place: theon returns the
written copy), its broadcasting, its errors and its gradients."""
import numpy as np
import pytest

import theon as th
from theon.errors import ShapeError

RNG = np.random.default_rng(0)


def _numpy(arr, indices, values, axis):
    out = arr.copy()
    np.put_along_axis(out, indices, values, axis)
    return out


@pytest.mark.parametrize("shape, idx_shape, axis, values_shape", [
    ((3, 4), (3, 2), 1, (3, 2)),
    ((3, 4), (1, 4), 0, ()),           # indices broadcast on axis 1, a scalar value
    ((2, 3, 4), (2, 1, 4), 1, (1, 1, 4)),
    ((2, 3, 4), (2, 3, 2), -1, (2, 3, 2)),
    ((5,), (3,), 0, (3,)),
])
def test_matches_numpy(shape, idx_shape, axis, values_shape):
    arr = RNG.standard_normal(shape)
    n = shape[axis]
    # distinct indices per line along the axis (negative ones included), so the written
    # value is defined
    perm = np.argsort(RNG.random(idx_shape[:axis % len(shape)] + (n,) + idx_shape[axis % len(shape) + 1:]),
                      axis=axis)
    indices = np.take(perm, range(idx_shape[axis]), axis=axis) - n * (RNG.random(idx_shape) < 0.3)
    values = RNG.standard_normal(values_shape)
    x = th.tensor("x", shape, "float64")
    i = th.tensor("i", indices.shape, "int64")
    v = th.tensor("v", values_shape, "float64")
    f = th.function([x, i, v], [th.put_along_axis(x, i, v, axis)])
    np.testing.assert_array_equal(f(arr, indices, values)[0], _numpy(arr, indices, values, axis))


def test_axis_none_flat_positions_and_values_cast_to_the_array_dtype():
    arr = np.arange(12, dtype=np.int32).reshape(3, 4)
    x = th.tensor("x", (None, 4), "int32")
    f = th.function([x], [th.put_along_axis(x, np.array([0, 5, -1]), np.array([7.9, -2.2, 3.0]), None)])
    got = f(arr)[0]
    want = _numpy(arr, np.array([0, 5, -1]), np.array([7.9, -2.2, 3.0]), None)
    assert got.dtype == want.dtype == np.int32
    np.testing.assert_array_equal(got, want)


def test_errors_name_the_shapes():
    x = th.tensor("x", (3, 4))
    with pytest.raises(ShapeError, match="rank 2"):
        th.put_along_axis(x, np.zeros(3, np.int64), 1.0, 1)
    with pytest.raises(ShapeError, match=r"do not broadcast.*axis 0"):
        th.put_along_axis(x, np.zeros((2, 1), np.int64), 1.0, 1)
    with pytest.raises(IndexError, match="axis 2"):
        th.put_along_axis(x, np.zeros((3, 1), np.int64), 1.0, 2)
    with pytest.raises(th.errors.DTypeError, match="integers"):
        th.put_along_axis(x, np.zeros((3, 1)), 1.0, 1)


def test_gradients_by_finite_differences():
    indices = np.array([[2, 0], [1, 3], [3, 2]])
    th.testing.verify_grad(lambda a, v: th.put_along_axis(a, indices, v, 1),
                           [RNG.standard_normal((3, 4)), RNG.standard_normal((3, 2))])
    # a broadcast value gets the sum of the gradients where it was written
    th.testing.verify_grad(lambda a, v: th.put_along_axis(a, indices, v, 1),
                           [RNG.standard_normal((3, 4)), RNG.standard_normal((3, 1))])
