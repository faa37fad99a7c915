"""Symbolic indexing as Theano tutorials write it: minibatches `x[i*bs:(i+1)*bs]` with a
symbolic i, `log(p)[arange(n), y]`, set_subtensor / inc_subtensor / x.at[...], and the
errors a length known only from the values gives. Values against NumPy; the op table
checks the gradients by finite differences."""
import numpy as np
import pytest

import theon as th
from theon.errors import InputError, ShapeError, TheonError


def test_minibatch_sgd_with_a_symbolic_index_matches_numpy():
    rng = np.random.default_rng(0)
    data, labels = rng.standard_normal((12, 3)), (rng.random(12) > 0.5).astype("float64")
    bs = 4
    x, y = th.shared(data), th.shared(labels)
    w, b = th.shared(np.zeros(3)), th.shared(np.zeros(()))
    i = th.tensor("i", (), "int64")
    xb, yb = x[i * bs:(i + 1) * bs], y[i * bs:(i + 1) * bs]
    assert xb.type.shape == (bs, 3)      # stop - start is the constant bs
    p = 1 / (1 + th.exp(-(xb @ w + b)))
    cost = th.mean(-yb * th.log(p) - (1 - yb) * th.log(1 - p))
    gw, gb = th.grad(cost, [w, b])
    train = th.function([i], cost, updates=[(w, w - 0.5 * gw), (b, b - 0.5 * gb)])

    wn, bn = np.zeros(3), 0.0
    for epoch in range(3):
        for k in range(len(data) // bs):
            xs, ys = data[k * bs:(k + 1) * bs], labels[k * bs:(k + 1) * bs]
            pn = 1 / (1 + np.exp(-(xs @ wn + bn)))
            want = np.mean(-ys * np.log(pn) - (1 - ys) * np.log(1 - pn))
            np.testing.assert_allclose(train(k), want, rtol=1e-10)
            wn, bn = wn - 0.5 * xs.T @ (pn - ys) / bs, bn - 0.5 * np.mean(pn - ys)
    np.testing.assert_allclose(w.get_value(), wn, rtol=1e-10)
    np.testing.assert_allclose(b.get_value(), bn, rtol=1e-10)


def test_log_probabilities_at_the_labels_with_arange_of_a_symbolic_dim():
    x, y = th.tensor("x", (None, 4), "float64"), th.tensor("y", (None,), "int64")
    p = th.exp(x) / th.sum(th.exp(x), axis=1, keepdims=True)
    nll = -th.mean(th.log(p)[th.arange(y.shape[0]), y])
    f = th.function([x, y], [nll, th.grad(nll, x)])
    rng = np.random.default_rng(1)
    for n in (5, 2):   # one function, two batch sizes
        xs, ys = rng.standard_normal((n, 4)), rng.integers(0, 4, n)
        pn = np.exp(xs) / np.exp(xs).sum(1, keepdims=True)
        got, grad = f(xs, ys)
        np.testing.assert_allclose(got, -np.log(pn[np.arange(n), ys]).mean(), rtol=1e-12)
        want = pn.copy()
        want[np.arange(n), ys] -= 1
        np.testing.assert_allclose(grad, want / n, rtol=1e-10, atol=1e-14)


def test_arange_of_a_shape_is_static_once_specialised():
    x = th.tensor("x", (None, 3), "float64")
    f = th.function([x], th.arange(x.shape[0]) * 2)
    np.testing.assert_array_equal(f(np.zeros((4, 3))), [0, 2, 4, 6])
    assert "arange_symbolic" not in f.source   # folded to a constant for the call's shape
    assert th.arange(th.tensor("n", (), "int64")).type.shape == (None,)


def test_a_slice_shorter_than_its_constant_length_is_an_error_naming_the_line():
    x, i = th.tensor("x", (None, 2), "float64"), th.tensor("i", (), "int64")
    f = th.function([x, i], x[i * 2:(i + 1) * 2])
    np.testing.assert_array_equal(f(np.arange(10.0).reshape(5, 2), 1), [[4, 5], [6, 7]])
    with pytest.raises(ShapeError, match="selects 1 elements, but its length was taken as 2") as info:
        f(np.arange(10.0).reshape(5, 2), 2)
    assert "test_symbolic_index.py" in str(info.value)
    # a bounded stop allows the short last batch, NumPy's result
    n = x.shape[0]
    g = th.function([x, i], x[i * 2:th.minimum((i + 1) * 2, n)])
    np.testing.assert_array_equal(g(np.arange(10.0).reshape(5, 2), 2), [[8, 9]])


def test_a_symbolic_arange_step_of_zero_is_an_error_naming_the_line():
    n = th.tensor("n", (), "int64")
    f = th.function([n], th.arange(0, 4, n))
    np.testing.assert_array_equal(f(2), [0, 2])
    with pytest.raises(TheonError, match="step must not be zero") as info:
        f(0)
    assert "test_symbolic_index.py" in str(info.value)


def test_set_subtensor_updates_the_indexed_base():
    x = th.tensor("x", (4, 3), "float64")
    a = np.arange(12.0).reshape(4, 3)
    y = x[1:3]
    v = th.tensor("v", (3,), "float64")
    f = th.function([x, v], [th.set_subtensor(x[1:3, 0], 7.0), th.set_subtensor(y[0], v),
                              th.inc_subtensor(x[[0, 0, 3]], v), x.at[-1].set(v), x.at[..., 1].add(1)])
    got = f(a, np.array([1.0, 2.0, 3.0]))
    want = [a.copy() for _ in range(5)]
    want[0][1:3, 0] = 7
    want[1] = a[1:3].copy()
    want[1][0] = [1, 2, 3]
    np.add.at(want[2], [0, 0, 3], [1, 2, 3])
    want[3][-1] = [1, 2, 3]
    want[4][..., 1] += 1
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(a, np.arange(12.0).reshape(4, 3))   # the input is untouched


def test_set_subtensor_with_a_symbolic_minibatch_index():
    x, v, i = th.tensor("x", (None, 3), "float64"), th.tensor("v", (2, 3), "float64"), th.tensor("i", (), "int64")
    f = th.function([x, v, i], [th.set_subtensor(x[i * 2:(i + 1) * 2], v),
                                th.inc_subtensor(x[i * 2:(i + 1) * 2, 1], 1.0)])
    a, b = np.arange(18.0).reshape(6, 3), -np.ones((2, 3))
    got = f(a, b, 1)
    want_set, want_inc = a.copy(), a.copy()
    want_set[2:4] = b
    want_inc[2:4, 1] += 1
    np.testing.assert_array_equal(got[0], want_set)
    np.testing.assert_array_equal(got[1], want_inc)


def test_update_of_something_not_indexed_says_what_is_expected():
    x = th.tensor("x", (3,), "float64")
    with pytest.raises(InputError, match="indexing expression such as x\\[idx\\]") as info:
        th.set_subtensor(x * 2, 1.0)
    assert "test_symbolic_index.py" in str(info.value)
    with pytest.raises(ShapeError, match="cannot write a value of shape \\(2,\\)"):
        x.at[0].set(np.zeros(2))
