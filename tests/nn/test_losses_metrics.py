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
    assert losses.get("cross_entropy") is losses.cross_entropy
    assert losses.get("bce") is losses.binary_cross_entropy
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
    # a sigmoid output is a probability: the threshold is 0.5 (its logit > 0)
    np.testing.assert_array_equal(_eval(lambda p, t: metrics.accuracy(th.sigmoid(p), t), b, yb), [1, 0, 0, 1])
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


# ---- Keras' names mean what they mean in Keras ------------------------------------------------

def _probabilities_of(fn, z, y, ydtype="int64"):
    """fn(softmax(z), y): a loss given a softmax output, as a Keras model's last layer makes."""
    zv = th.tensor("z", (None,) + z.shape[1:], z.dtype.name)
    yv = th.tensor("y", (None,) + y.shape[1:], ydtype)
    return th.function([zv, yv], fn(th.nn.softmax(zv, axis=-1), yv))(z, y.astype(ydtype))


def test_keras_crossentropies_take_probabilities_by_default():
    z = RNG.standard_normal((6, 4))
    y = RNG.integers(0, 4, 6)
    want = -np_log_softmax(z)[np.arange(6), y]
    np.testing.assert_allclose(_probabilities_of(losses.get("sparse_categorical_crossentropy"), z, y), want,
                               rtol=1e-12)
    onehot = np.eye(4)[y]
    np.testing.assert_allclose(_probabilities_of(losses.get("categorical_crossentropy"), z, onehot, "float64"),
                               want, rtol=1e-12)
    logits = losses.SparseCategoricalCrossentropy(from_logits=True)
    np.testing.assert_allclose(_eval(logits, z, y), want, rtol=1e-12)
    np.testing.assert_allclose(_eval(losses.CategoricalCrossentropy(from_logits=True), z, onehot), want,
                               rtol=1e-12)
    with pytest.raises(ValueError, match="one-hot targets.*sparse_categorical_crossentropy"):
        _probabilities_of(losses.get("categorical_crossentropy"), z, y)


def test_a_softmax_output_is_computed_from_its_logits_stably():
    z = np.array([[1000.0, 0.0, -1000.0], [0.0, 50.0, -50.0]])
    y = np.array([2, 0])
    got = _probabilities_of(losses.get("sparse_categorical_crossentropy"), z, y)
    np.testing.assert_allclose(got, -np_log_softmax(z)[[0, 1], y], rtol=1e-12)  # 2000 and 50, not clipped
    zb = np.array([[-200.0], [300.0]])
    zv, yv = th.tensor("z", (None, 1), "float64"), th.tensor("y", (None,), "int64")
    bce = th.function([zv, yv], losses.get("binary_crossentropy")(th.sigmoid(zv), yv))
    np.testing.assert_allclose(bce(zb, np.array([1, 0])), [200.0, 300.0], rtol=1e-12)


def test_other_probabilities_are_normalised_and_clipped_as_keras():
    p = np.array([[0.7, 0.3, 0.0], [0.2, 0.2, 0.4]])
    y = np.array([2, 1])
    q = np.clip(p / p.sum(1, keepdims=True), 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(_eval(losses.get("sparse_categorical_crossentropy"), p, y),
                               -np.log(q[[0, 1], y]), rtol=1e-12)
    np.testing.assert_allclose(_eval(losses.get("categorical_crossentropy"), p, np.eye(3)[y]),
                               -np.log(q[[0, 1], y]), rtol=1e-12)
    pb, tb = np.array([[0.9, 0.0], [0.25, 1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    c = np.clip(pb, 1e-7, 1 - 1e-7)
    np.testing.assert_allclose(_eval(losses.get("binary_crossentropy"), pb, tb),
                               -(tb * np.log(c) + (1 - tb) * np.log(1 - c)).mean(1), rtol=1e-9)


def test_a_loss_that_expects_logits_warns_on_a_softmax_output():
    z = th.tensor("z", (None, 4))
    y = th.tensor("y", (None,), "int64")
    for loss in (losses.get("cross_entropy"), losses.SparseCategoricalCrossentropy(from_logits=True)):
        with pytest.warns(UserWarning, match="softmax output"):
            loss(th.nn.softmax(z), y)
    with pytest.warns(UserWarning, match="sigmoid output"):
        losses.get("binary_cross_entropy")(th.sigmoid(th.tensor("b", (None, 1))), y)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        losses.get("cross_entropy")(z, y)
        losses.get("sparse_categorical_crossentropy")(th.nn.softmax(z), y)


def test_a_keras_port_with_a_softmax_layer_trains_as_the_logits_model():
    """The same weights and batches: Dense(softmax) + 'sparse_categorical_crossentropy' and
    Dense + 'cross_entropy' take the same steps (no double softmax)."""
    (x, y), _ = th.data.digits()
    histories = []
    for activation, loss in ((None, "cross_entropy"), ("softmax", "sparse_categorical_crossentropy")):
        model = th.nn.Sequential([th.nn.Flatten(), th.nn.Dense(10, activation=activation)],
                                 input_shape=(1, 8, 8), seed=0)
        model.compile(th.optim.SGD(0.1), loss, ["accuracy"], device="cpu")
        histories.append(model.fit(x[:256], y[:256], epochs=2, batch_size=64, verbose=0).history)
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(histories[1][key], histories[0][key], rtol=1e-5)


def test_sequence_logits_with_classes_last_train_without_transposes():
    """(batch, time, classes) against labels (batch, time), as Keras lays sequences out."""
    x = RNG.standard_normal((32, 5, 3)).astype("float32")
    y = (x.sum(-1) > 0).astype("int64")  # a class per time step
    model = th.nn.Sequential([th.nn.Dense(2)], input_shape=(5, 3), seed=0)
    model.compile(th.optim.SGD(0.5), "cross_entropy", ["accuracy"], device="cpu")
    out = model.predict(x)
    first = model.evaluate(x, y)
    logp = np_log_softmax(out.astype(np.float64), axis=-1)
    want = -np.take_along_axis(logp, y[..., None], -1)[..., 0].mean()
    assert first["loss"] == pytest.approx(want, rel=1e-5)
    assert first["accuracy"] == pytest.approx((out.argmax(-1) == y).mean())
    history = model.fit(x, y, epochs=20, batch_size=8, verbose=0)
    assert history.history["accuracy"][-1] > 0.9


def test_ignored_positions_do_not_count_in_an_example():
    z = RNG.standard_normal((2, 4, 3))
    y = np.array([[0, 2, 9, 9], [1, 1, 1, 9]])
    got = _eval(lambda p, t: losses.cross_entropy(p, t, axis=-1, ignore_index=9), z, y)
    nll = -np.take_along_axis(np_log_softmax(z, axis=-1), np.where(y == 9, 0, y)[..., None], -1)[..., 0]
    np.testing.assert_allclose(got, [nll[0, :2].mean(), nll[1, :3].mean()], rtol=1e-12)
    keras = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=9)
    np.testing.assert_allclose(_eval(keras, z, y), got, rtol=1e-12)
    assert losses.get(losses.serialize(keras)).get_config() == keras.get_config()
    assert losses.serialize(losses.get("binary_crossentropy")) == "binary_crossentropy"
