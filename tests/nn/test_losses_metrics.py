"""Losses and metrics for Model.compile against NumPy: per-example values, dtypes, names."""
import numpy as np
import pytest

import theon as th
from theon.nn import losses, metrics
from theon.testing import verify_grad


def _eval(fn, y_pred, y_true):
    p = th.tensor("p", (None,) + y_pred.shape[1:], y_pred.dtype.name)
    t = th.tensor("t", (None,) + y_true.shape[1:], y_true.dtype.name)
    return th.function([p, t], fn(p, t))(y_pred, y_true)


def np_log_softmax(z, axis=1):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def np_bce(z, t):
    return np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))


RNG = np.random.default_rng(0)


# ---- losses ---------------------------------------------------------------------------

def test_cross_entropy_integer_labels_per_example():
    z = RNG.standard_normal((6, 4))
    y = RNG.integers(0, 4, 6)
    got = _eval(losses.get("cross_entropy"), z, y)
    np.testing.assert_allclose(got, -np_log_softmax(z)[np.arange(6), y], rtol=1e-12)
    assert got.shape == (6,)


def test_cross_entropy_probabilities_smoothing_and_spatial():
    z = RNG.standard_normal((5, 3))
    q = RNG.random((5, 3))
    q /= q.sum(1, keepdims=True)
    np.testing.assert_allclose(_eval(losses.cross_entropy, z, q), -(q * np_log_softmax(z)).sum(1), rtol=1e-12)
    y = RNG.integers(0, 3, 5)
    smooth = lambda p, t: losses.cross_entropy(p, t, label_smoothing=0.3)  # noqa: E731
    target = 0.7 * np.eye(3)[y] + 0.1
    np.testing.assert_allclose(_eval(smooth, z, y), -(target * np_log_softmax(z)).sum(1), rtol=1e-12)
    zs = RNG.standard_normal((2, 3, 4, 5))
    ys = RNG.integers(0, 3, (2, 4, 5))
    lp = np_log_softmax(zs)
    per_pixel = -np.take_along_axis(lp, ys[:, None], axis=1)[:, 0]
    np.testing.assert_allclose(_eval(losses.cross_entropy, zs, ys), per_pixel.mean(axis=(1, 2)), rtol=1e-12)


def test_binary_cross_entropy_on_logits():
    z = 3 * RNG.standard_normal((7, 1))
    y = RNG.integers(0, 2, 7)
    got = _eval(losses.get("binary_cross_entropy"), z, y)  # (N, 1) logits, (N,) int labels
    np.testing.assert_allclose(got, np_bce(z[:, 0], y), rtol=1e-12)
    z2, t2 = RNG.standard_normal((4, 3)), RNG.random((4, 3))
    np.testing.assert_allclose(_eval(losses.binary_cross_entropy, z2, t2), np_bce(z2, t2).mean(1), rtol=1e-12)
    big = np.array([[80.0], [-80.0]])
    np.testing.assert_allclose(_eval(losses.binary_cross_entropy, big, np.array([0, 1])), [80.0, 80.0])


def test_mse_and_mae():
    p, t = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 3))
    np.testing.assert_allclose(_eval(losses.get("mse"), p, t), ((p - t) ** 2).mean(1), rtol=1e-12)
    np.testing.assert_allclose(_eval(losses.get("mae"), p, t), np.abs(p - t).mean(1), rtol=1e-12)
    p1, t1 = RNG.standard_normal((5, 1)).astype("float32"), RNG.standard_normal(5).astype("float32")
    got = _eval(losses.mse, p1, t1)
    assert got.dtype == np.float32 and got.shape == (5,)
    np.testing.assert_allclose(got, (p1[:, 0] - t1) ** 2, rtol=1e-6)


def test_loss_gradients():
    y = RNG.integers(0, 4, 5)
    verify_grad(lambda z: losses.cross_entropy(z, th.constant(y)), [RNG.standard_normal((5, 4))])
    t = RNG.random((5, 2))
    verify_grad(lambda z: losses.binary_cross_entropy(z, th.constant(t)), [RNG.standard_normal((5, 2))])
    verify_grad(lambda p, q: losses.mse(p, q), [RNG.standard_normal((5, 2)), RNG.standard_normal((5, 2))])


def test_loss_get_names_aliases_and_errors():
    assert losses.get("sparse_categorical_crossentropy") is losses.cross_entropy
    assert losses.get("binary_crossentropy") is losses.binary_cross_entropy
    assert losses.get("mean_squared_error") is losses.mse
    own = lambda p, t: (p - t) ** 2  # noqa: E731
    assert losses.get(own) is own
    assert losses.name_of(losses.get("mse")) == "mse"
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        losses.get("hinge")


# ---- metrics --------------------------------------------------------------------------

def test_accuracy_sparse_one_hot_binary_and_spatial():
    z = RNG.standard_normal((8, 5)).astype("float32")
    y = RNG.integers(0, 5, 8)
    y[:3] = z[:3].argmax(1)  # make some hits
    want = (z.argmax(1) == y).astype("float32")
    got = _eval(metrics.get("accuracy"), z, y)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(_eval(metrics.accuracy, z, np.eye(5, dtype="float32")[y]), want)
    np.testing.assert_array_equal(_eval(metrics.accuracy, z, y.astype("int32")), want)
    b = np.array([[1.5], [-0.2], [0.3], [-2.0]], "float32")
    yb = np.array([1, 1, 0, 0])
    np.testing.assert_array_equal(_eval(metrics.accuracy, b, yb), [1, 0, 0, 1])
    np.testing.assert_array_equal(_eval(metrics.accuracy, b[:, 0], yb.astype("float32")), [1, 0, 0, 1])
    np.testing.assert_array_equal(_eval(metrics.accuracy, b, yb[:, None].astype("float32")), [1, 0, 0, 1])
    zs = RNG.standard_normal((2, 3, 4)).astype("float32")
    ys = RNG.integers(0, 3, (2, 4))
    np.testing.assert_allclose(_eval(metrics.accuracy, zs, ys), (zs.argmax(1) == ys).mean(1))


def np_top_k(z, y, k):
    order = np.argsort(-z, axis=1)[:, :k]
    return (order == y[:, None]).any(1).astype("float32")


@pytest.mark.parametrize("k", [1, 2, 3, 5, 7])
def test_top_k_accuracy_matches_numpy(k):
    z = RNG.standard_normal((30, 7)).astype("float32")
    y = RNG.integers(0, 7, 30)
    got = _eval(metrics.top_k_accuracy(k), z, y)
    assert got.dtype == np.float32 and got.shape == (30,)
    np.testing.assert_array_equal(got, np_top_k(z, y, k))
    if k == 1:
        np.testing.assert_array_equal(got, _eval(metrics.accuracy, z, y))
    np.testing.assert_array_equal(_eval(metrics.top_k_accuracy(k), z, np.eye(7, dtype="float32")[y]), got)


def test_top_k_ties_count_for_the_label_and_names():
    z = np.array([[1.0, 1.0, 1.0, 0.0]], "float32")
    np.testing.assert_array_equal(_eval(metrics.top_k_accuracy(1), z, np.array([2])), [1.0])
    np.testing.assert_array_equal(_eval(metrics.top_k_accuracy(3), z, np.array([3])), [0.0])
    default = metrics.get("top_k_accuracy")
    assert default.k == 5 and metrics.name_of(default) == "top_k_accuracy"
    three = metrics.get("top_3_accuracy")
    assert three.k == 3 and three.__name__ == "top_3_accuracy"
    assert metrics.get("accuracy") is metrics.accuracy
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        metrics.get("f1")
    with pytest.raises(ValueError, match="k must be >= 1"):
        metrics.top_k_accuracy(0)
