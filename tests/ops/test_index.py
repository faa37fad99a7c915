"""Indexing behaviour the op table cannot express: random keys against NumPy (values and
scatter-add gradients), canonical nodes, symbolic indices, run-time range errors."""
import numpy as np
import pytest
import torch

import theon as th
from theon.errors import DTypeError, ShapeError
from theon.ops.index import AdvancedSubtensor, Subtensor


def _random_key(rng, shape):
    key, axis, n_items = [], 0, int(rng.integers(1, len(shape) + 2))
    for _ in range(n_items):
        c = int(rng.integers(0, 7))
        if c == 0:
            key.append(None)
            continue
        if c == 1 and not any(k is Ellipsis for k in key):
            key.append(Ellipsis)
            axis = len(shape) - max(0, n_items - len(key))
            continue
        if axis >= len(shape):
            break
        d = shape[axis]
        if c == 2:
            key.append(int(rng.integers(-d, d)))
        elif c in (3, 4):
            bound = lambda: None if rng.random() < 0.4 else int(rng.integers(-d - 1, d + 2))
            key.append(slice(bound(), bound(), [None, 1, 2, -1, -2, 3][int(rng.integers(0, 6))]))
        elif c == 5:
            size = tuple(int(s) for s in rng.integers(1, 3, size=int(rng.integers(0, 3))))
            key.append(rng.integers(-d, d, size=size))
        else:
            key.append(rng.random(d) > 0.5)
        axis += 1
    return tuple(key)


def _keys(n, seed=0):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < n:
        shape = tuple(int(s) for s in rng.integers(1, 4, size=int(rng.integers(1, 4))))
        key = _random_key(rng, shape)
        try:
            np.zeros(shape)[key]
        except IndexError:
            continue
        cases.append((shape, key))
    return cases


@pytest.mark.parametrize("case", list(enumerate(_keys(60))), ids=lambda c: f"key{c[0]}")
def test_random_keys_match_numpy(case):
    seed, (shape, key) = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    want = x[key]
    v = th.tensor("x", shape, "float64")
    out = v[key]
    assert out.type.shape == want.shape
    unknown = th.tensor("x", (None,) * len(shape), "float64")[key]
    assert unknown.ndim == want.ndim
    assert all(d is None or d == w for d, w in zip(unknown.type.shape, want.shape))
    r = rng.standard_normal(want.shape)
    outs = [out]
    if want.size:
        outs.append(th.grad(th.sum(out * th.constant(r)), v))
    got = th.function([v], outs)(x)
    np.testing.assert_array_equal(got[0], want)
    if want.size:
        scattered = np.zeros(shape)
        np.add.at(scattered, key, r)
        np.testing.assert_allclose(got[1], scattered, rtol=1e-12)


def test_equal_keys_are_one_node():
    x = th.tensor("x", (3, 4))
    assert x[0] is x[0, ...] is x[0, :] is x[np.int64(0), slice(None, None, None)]
    assert x[:] is x and x[...] is x
    assert isinstance(x[1:].owner.op, Subtensor) and Subtensor.view


def test_symbolic_scalar_index():
    x, i = th.tensor("x", (3, 4), "float64"), th.tensor("i", (), "int64")
    y = x[i, 1:]
    assert y.type.shape == (3,)
    a = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(th.function([x, i], y)(a, np.int64(-1)), a[-1, 1:])


@pytest.mark.parametrize("dtype", ["uint8", "int32", "int16"])
def test_small_integer_index_arrays_are_indices_not_masks(dtype):
    x, i = th.tensor("x", (5,), "float64"), th.tensor("i", (3,), dtype)
    a, idx = np.arange(5.0), np.array([4, 0, 4], dtype)
    np.testing.assert_array_equal(th.function([x, i], x[i])(a, idx), a[idx])


def test_torch_tensor_and_list_keys():
    x = th.tensor("x", (3, 4), "float64")
    a = np.arange(12.0).reshape(3, 4)
    f = th.function([x], [x[torch.tensor([2, 0])], x[[[0], [1]], [1, 2]]])
    got = f(a)
    np.testing.assert_array_equal(got[0], a[[2, 0]])
    np.testing.assert_array_equal(got[1], a[[[0], [1]], [1, 2]])


def test_index_out_of_range_at_run_time_names_the_line():
    x = th.tensor("x", (None, 4), "float64")
    i = th.tensor("i", (2,), "int64")
    f = th.function([x, i], x[i])
    with pytest.raises(Exception, match="out of bounds|out of range") as info:
        f(np.zeros((3, 4)), np.array([0, 3]))
    assert "test_index.py" in str(info.value)
    g = th.function([x], x[5])     # static index, dim known only at the call
    with pytest.raises(ShapeError, match="index 5 is out of bounds for axis 0 with size 3"):
        g(np.zeros((3, 4)))


def test_refused_keys_say_what_to_do():
    x = th.tensor("x", (3, 4))
    with pytest.raises(DTypeError, match="th.where"):
        x[x > 0]
    with pytest.raises(TypeError, match="step must be a Python int"):
        x[::th.tensor("i", (), "int64")]
    with pytest.raises(TypeError, match="boolean scalar index together with index arrays"):
        x[True, [0, 1]]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., 0, ...]
    with pytest.raises(ValueError, match="step cannot be zero"):
        x[::0]


def test_constant_mask_gives_a_static_shape():
    x = th.tensor("x", (None, 4))
    mask = np.array([[True, False, True, False]] * 2)
    y = x[1:3][mask]
    assert y.type.shape == (4,) and isinstance(y.owner.op, AdvancedSubtensor)


def test_integer_tensors_take_no_gradient():
    x, i = th.tensor("x", (3, 4), "int64"), th.tensor("i", (2,), "int64")
    y = x[i]
    assert y.owner.op.grad(y.owner.inputs, [y], [y]) == [None, None]


def test_one_hot_and_take_errors():
    with pytest.raises(ValueError, match="positive Python int"):
        th.one_hot(th.tensor("i", (3,), "int64"), th.tensor("n", (), "int64"))
    with pytest.raises(DTypeError, match="must be integers"):
        th.take(th.tensor("x", (3,)), np.array([True, False, True]))


def test_take_along_axis_with_argsort_sorts():
    x, i = th.tensor("x", (None, 5), "float64"), th.tensor("i", (None, 5), "int64")
    a = np.random.default_rng(5).standard_normal((3, 5))
    y = th.take_along_axis(x, i, 1)
    np.testing.assert_array_equal(th.function([x, i], y)(a, np.argsort(a, axis=1)), np.sort(a, axis=1))
