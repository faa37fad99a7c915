"""Every common spelling of sigmoid, softplus, log-sigmoid, softmax and the cross-entropies
built from them gives finite costs and gradients for logits up to +-1,000, equal to the
stable formulas; and the Theano tutorial's logistic regression trains in float32."""
import numpy as np
import pytest

import theon as th

Z = np.array([-1000.0, -100.0, -30.0, -5.0, -0.5, 0.0, 0.5, 5.0, 30.0, 100.0, 1000.0])


def _sigmoid(z):
    return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))


def _log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


SIGMOIDS = {
    "1/(1+exp(-z))": lambda z: 1 / (1 + th.exp(-z)),
    "1/(exp(-z)+1)": lambda z: 1 / (th.exp(-z) + 1),
    "exp(z)/(1+exp(z))": lambda z: th.exp(z) / (1 + th.exp(z)),
    "reciprocal(1+exp(-z))": lambda z: th.reciprocal(1 + th.exp(-z)),
    "(1+exp(-z))**-1": lambda z: (1 + th.exp(-z)) ** -1,
    "sigmoid(z)": th.sigmoid,
}
# cost of p = sigmoid(z), its value and derivative in z, as stable NumPy
COSTS = {
    "log(p)": (lambda p: th.log(p), _log_sigmoid, lambda z: _sigmoid(-z)),
    "log(1-p)": (lambda p: th.log(1 - p), lambda z: _log_sigmoid(-z), lambda z: -_sigmoid(z)),
    "log1p(-p)": (lambda p: th.log1p(-p), lambda z: _log_sigmoid(-z), lambda z: -_sigmoid(z)),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cost", sorted(COSTS))
@pytest.mark.parametrize("spelling", sorted(SIGMOIDS))
def test_log_of_every_sigmoid_spelling_is_finite_with_finite_gradients(spelling, cost, dtype):
    z = th.tensor("z", (len(Z),), dtype)
    build, value, slope = COSTS[cost]
    c = build(SIGMOIDS[spelling](z))
    g = th.grad(c.sum(), z)
    got_c, got_g = th.function([z], [c, g])(Z.astype(dtype))
    assert np.isfinite(got_c).all() and np.isfinite(got_g).all()
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got_c, value(Z), rtol=tol, atol=tol)
    np.testing.assert_allclose(got_g, slope(Z), rtol=tol, atol=tol)


@pytest.mark.parametrize("spelling", sorted(SIGMOIDS))
def test_binary_cross_entropy_written_out_is_stable(spelling):
    z = th.tensor("z", (len(Z),), "float32")
    y = th.tensor("y", (len(Z),), "float32")
    p = SIGMOIDS[spelling](z)
    xent = -y * th.log(p) - (1 - y) * th.log(1 - p)
    g = th.grad(xent.sum(), z)
    labels = (np.arange(len(Z)) % 2).astype("float32")
    got, grad = th.function([z, y], [xent, g])(Z.astype("float32"), labels)
    want = -(labels * _log_sigmoid(Z) + (1 - labels) * _log_sigmoid(-Z))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad, _sigmoid(Z) - labels, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("spelling", ["log(1+exp(z))", "log(exp(z)+1)", "log1p(exp(z))"])
def test_softplus_spellings(spelling):
    z = th.tensor("z", (len(Z),), "float32")
    sp = {"log(1+exp(z))": lambda: th.log(1 + th.exp(z)), "log(exp(z)+1)": lambda: th.log(th.exp(z) + 1),
          "log1p(exp(z))": lambda: th.log1p(th.exp(z))}[spelling]()
    got, g = th.function([z], [sp, th.grad(sp.sum(), z)])(Z.astype("float32"))
    np.testing.assert_allclose(got, np.logaddexp(0, Z), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g, _sigmoid(Z), rtol=1e-5, atol=1e-6)


SOFTMAXES = {
    "exp/sum(exp)": lambda z: th.exp(z) / th.sum(th.exp(z), axis=1, keepdims=True),
    "nn.softmax": lambda z: th.nn.softmax(z, axis=1),
}


@pytest.mark.parametrize("spelling", sorted(SOFTMAXES))
@pytest.mark.parametrize("form", ["picked", "one_hot", "log"])
def test_categorical_cross_entropy_spellings(spelling, form):
    logits = np.array([[1000.0, 0.0, -1000.0], [-500.0, 300.0, 2.0], [0.5, -0.5, 0.0]], "float32")
    labels = np.array([2, 0, 1])
    z = th.tensor("z", (3, 3), "float32")
    y = th.tensor("y", (3,), "int64")
    p = SOFTMAXES[spelling](z)
    if form == "picked":
        cost = -th.log(p)[th.arange(3), y]
    elif form == "one_hot":
        cost = -(th.one_hot(y, 3, dtype="float32") * th.log(p)).sum(axis=1)
    else:
        cost = -th.log(p).sum(axis=1)
    g = th.grad(cost.sum(), z)
    got, grad = th.function([z, y], [cost, g])(logits, labels)
    z64 = logits.astype("float64")
    logp = z64 - z64.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    target = np.eye(3)[labels] if form != "log" else np.ones((3, 3))
    want = -(target * logp).sum(1)
    want_g = np.exp(logp) * target.sum(1, keepdims=True) - target
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(grad, want_g, rtol=1e-5, atol=1e-6)


def test_rewrites_never_bypass_a_variable_being_differentiated():
    z = th.tensor("z", (3,), "float64")
    p = 1 / (1 + th.exp(-z))          # the user differentiates with respect to p itself
    gp = th.grad(th.log(p).sum(), p)
    zs = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(th.function([z], gp)(zs), 1 + np.exp(-zs))  # d log(p)/dp = 1/p


def test_theano_tutorial_logistic_regression_trains_in_float32():
    # deeplearning.net's "A real example: logistic regression", line for line
    rng = np.random.default_rng(0)
    N, feats = 400, 784
    D = (rng.standard_normal((N, feats)).astype("float32"), rng.integers(0, 2, N).astype("float32"))
    x, y = th.tensor("x", (None, feats)), th.tensor("y", (None,))
    w = th.shared(rng.standard_normal(feats).astype("float32"), name="w")
    b = th.shared(np.float32(0.0), name="b")
    p_1 = 1 / (1 + th.exp(-th.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * th.log(p_1) - (1 - y) * th.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = th.grad(cost, [w, b])
    train = th.function([x, y], [prediction, xent], updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
    for _ in range(500):
        pred, err = train(*D)
        assert np.isfinite(err).all()
    assert np.isfinite(w.get_value()).all()
    assert (th.function([x], prediction)(D[0]) == D[1]).mean() == 1.0
