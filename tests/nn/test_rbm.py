"""RBM and DBN: CD-k gradients against a NumPy reference fed the same uniform noise, free
energy, monitors, persistent chains, training, and greedy pretraining of a DBN."""
import numpy as np
import pytest

import theon as th
from theon import nn
from theon.nn.dbn import DBN
from theon.nn.rbm import RBM
from theon.optim import SGD

NV, NH, N = 7, 5, 6


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _rbm(seed=0, **kw):
    """A float64 RBM with random (not tiny) weights and biases, and those weights."""
    rng = np.random.default_rng(seed)
    rbm = RBM(NH, n_visible=NV, dtype="float64", seed=seed, **kw)
    w = {"W": rng.normal(0, 0.7, (NV, NH)), "vbias": rng.normal(0, 0.4, NV), "hbias": rng.normal(0, 0.4, NH)}
    rbm.set_weights(w)
    return rbm, w


def _np_free_energy(v, w):
    return -(v @ w["vbias"]) - np.logaddexp(0.0, v @ w["W"] + w["hbias"]).sum(1)


def _np_chain(h, w, uv, uh):
    """k steps h -> v -> h with samples (u < p), as the RBM does."""
    for t in range(len(uv)):
        vp = _sig(h @ w["W"].T + w["vbias"])
        vs = (uv[t] < vp).astype(float)
        hp = _sig(vs @ w["W"] + w["hbias"])
        h = (uh[t] < hp).astype(float)
    return vp, vs, hp, h


def _np_cd(v0, w, u0, uv, uh):
    """Reference CD-k: the gradient of mean F(v0) - mean F(vk) (vk constant), i.e. minus
    (positive - negative) statistics, with p(h|v) as the hidden statistics."""
    h0p = _sig(v0 @ w["W"] + w["hbias"])
    h0 = (u0 < h0p).astype(float)
    vp, vk, hkp, hk = _np_chain(h0, w, uv, uh)
    hk_stat = _sig(vk @ w["W"] + w["hbias"])
    n = len(v0)
    grads = [-(v0.T @ h0p - vk.T @ hk_stat) / n, -(v0 - vk).mean(0), -(h0p - hk_stat).mean(0)]
    return grads, (vp, vk, hkp, hk)


def _noise(rng, k, n=N):
    return rng.random((n, NH)), rng.random((k, n, NV)), rng.random((k, n, NH))


def _vars(k):
    v = th.tensor("v", (None, NV), "float64")
    u0 = th.tensor("u0", (None, NH), "float64")
    uv = th.tensor("uv", (k, None, NV), "float64")
    uh = th.tensor("uh", (k, None, NH), "float64")
    return v, u0, uv, uh


# ---- exactness against NumPy ------------------------------------------------------------

def test_free_energy_matches_the_numpy_formula():
    rbm, w = _rbm()
    v = th.tensor("v", (None, NV), "float64")
    x = (np.random.default_rng(1).random((N, NV)) < 0.5).astype(float)
    np.testing.assert_allclose(th.function([v], rbm.free_energy(v))(x), _np_free_energy(x, w),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("k", [1, 3])
def test_cd_k_gradient_equals_the_numpy_reference_given_the_same_noise(k):
    rbm, w = _rbm(k)
    v, u0, uv, uh = _vars(k)
    grads, end, updates = rbm.cd_grads(v, k, noise_h0=u0, noise=(uv, uh))
    assert updates == []
    f = th.function([v, u0, uv, uh], [*grads, *end])
    rng = np.random.default_rng(10 + k)
    x = (rng.random((N, NV)) < 0.5).astype(float)
    a0, av, ah = _noise(rng, k)
    out = f(x, a0, av, ah)
    ref_grads, ref_end = _np_cd(x, w, a0, av, ah)
    for got, ref in zip(out, [*ref_grads, *ref_end]):
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)
    assert np.abs(ref_grads[0]).max() > 1e-3  # the comparison is not of zeros


def test_cd1_sgd_step_moves_weights_by_positive_minus_negative_statistics():
    rbm, w = _rbm(3)
    v, u0, uv, uh = _vars(1)
    grads, _, _ = rbm.cd_grads(v, 1, noise_h0=u0, noise=(uv, uh))
    step = th.function([v, u0, uv, uh], [], updates=SGD(lr=0.5).updates([rbm.W, rbm.vbias, rbm.hbias], grads))
    rng = np.random.default_rng(4)
    x = (rng.random((N, NV)) < 0.5).astype(float)
    noise = _noise(rng, 1)
    ref_grads, _ = _np_cd(x, w, *noise)
    step(x, *noise)
    new = rbm.get_weights()
    for key, g in zip(("W", "vbias", "hbias"), ref_grads):
        np.testing.assert_allclose(new[key], w[key] - 0.5 * g, rtol=0, atol=1e-10)


def test_the_cd_gradient_does_not_flow_into_the_chain():
    rbm, _ = _rbm()
    v = th.tensor("v", (None, NV), "float64")
    end = rbm.gibbs_chain(rbm.sample_h_given_v(v)[1], 2)
    vm = th.stop_gradient(end[1])
    g = th.grad(rbm.free_energy(vm).sum(), [rbm.vbias, v], disconnected="none")
    assert g[1] is None  # v reaches the cost only through the stopped chain
    x = np.ones((2, NV))
    gv, vmod = th.function([v], [g[0], vm])(x)
    np.testing.assert_allclose(gv, -vmod.sum(0), atol=1e-12)


def test_pseudo_likelihood_and_reconstruction_monitors_match_numpy():
    rbm, w = _rbm(5)
    v = th.tensor("v", (None, NV), "float64")
    idx = th.tensor("i", (None,), "int64")
    rng = np.random.default_rng(6)
    x = (rng.random((N, NV)) < 0.5).astype(float)
    bits = rng.integers(0, NV, N)
    pl, xent, err = th.function([v, idx], [rbm.pseudo_likelihood(v, idx), rbm.reconstruction_cross_entropy(v),
                                           rbm.reconstruction_error(v)])(x, bits)
    flipped = x.copy()
    flipped[np.arange(N), bits] = 1 - flipped[np.arange(N), bits]
    ref_pl = NV * np.log(_sig(_np_free_energy(flipped, w) - _np_free_energy(x, w))).mean()
    rec = _sig(_sig(x @ w["W"] + w["hbias"]) @ w["W"].T + w["vbias"])
    ref_xent = -(x * np.log(rec) + (1 - x) * np.log(1 - rec)).sum(1).mean()
    np.testing.assert_allclose([pl, xent, err], [ref_pl, ref_xent, ((x - rec) ** 2).mean()], rtol=1e-10)
    # the stochastic version flips a random bit per example: a valid (negative) estimate
    f = th.function([v], rbm.pseudo_likelihood(v))
    draws = [float(f(x)) for _ in range(5)]
    assert all(d < 0 for d in draws) and len(set(draws)) > 1


# ---- persistent chains, random draws ----------------------------------------------------------

def test_pcd_chain_state_persists_across_calls():
    rbm, w = _rbm(7)
    state = rbm.make_persistent(N)
    assert state.name == f"{rbm.name}/persistent" and state.get_value().shape == (N, NH)
    k = 2
    v, _, uv, uh = _vars(k)
    grads, end, updates = rbm.cd_grads(v, k, persistent=True, noise=(uv, uh))
    assert updates[0][0] is state
    f = th.function([v, uv, uh], [*grads, end[3]], updates=updates)
    rng = np.random.default_rng(8)
    h = np.zeros((N, NH))
    for call in range(3):
        x = (rng.random((N, NV)) < 0.5).astype(float)
        _, av, ah = _noise(rng, k)
        out = f(x, av, ah)
        _, _, _, h = _np_chain(h, w, av, ah)  # the reference chain continues from the last end
        np.testing.assert_array_equal(out[3], h)
        np.testing.assert_array_equal(state.get_value(), h)
    assert h.any()


def test_compiled_pcd_step_updates_params_and_chain_in_one_call():
    rbm = RBM(16, n_visible=20, seed=1)
    rbm.compile(SGD(lr=0.1), k=2, persistent=True, n_chains=8, device="cpu")
    x = (np.random.default_rng(0).random((10, 20)) < 0.3).astype("float32")
    step = rbm.make_train_function(x)
    assert rbm.persistent.get_value().shape == (8, 16)
    assert rbm.metrics_names == ["recon_error", "recon_xent", "pseudo_likelihood"]
    w0 = rbm.W.get_value().copy()
    states = []
    for _ in range(3):
        mon = step(x)
        states.append(rbm.persistent.get_value().copy())
    assert tuple(mon.shape) == (3,)  # the step's monitors, left on the device
    assert not np.array_equal(rbm.W.get_value(), w0)
    assert not np.array_equal(states[0], states[1]) and not np.array_equal(states[1], states[2])


def test_gibbs_draws_differ_between_calls_and_follow_the_seed():
    def chain_samples(seed):
        rbm, _ = _rbm(seed=seed)
        v = th.tensor("v", (None, NV), "float64")
        f = th.function([v], rbm.sample(v, k=3)[1])
        x = np.zeros((50, NV))
        return f(x), f(x)

    a1, a2 = chain_samples(2)
    b1, _ = chain_samples(2)
    assert not np.array_equal(a1, a2)
    np.testing.assert_array_equal(a1, b1)
    assert set(np.unique(a1)) <= {0.0, 1.0}


# ---- the layer interface ------------------------------------------------------------------

def test_rbm_as_a_layer_weights_and_config():
    rbm = RBM(4, name="r")
    x = th.tensor("x", (None, 6))
    h = rbm(x)
    assert rbm.built and h.type.shape == (None, 4) and [p.name for p in rbm.params] == ["r/W", "r/vbias", "r/hbias"]
    w = rbm.get_weights()
    assert w["W"].shape == (6, 4) and abs(w["W"].std() - 0.01) < 0.01 and not w["hbias"].any()
    w["W"] = w["W"] + 1.0
    rbm.set_weights({"r/W": w["W"]})
    np.testing.assert_array_equal(rbm.get_weights()["W"], w["W"])
    with pytest.raises(th.errors.ShapeError, match="shape"):
        rbm.set_weights({"W": np.zeros((3, 3))})
    with pytest.raises(th.errors.ShapeError, match="flatten"):
        RBM(3)(th.tensor("img", (None, 2, 2)))
    clone = RBM.from_config(rbm.get_config())
    assert clone.n_hidden == 4 and clone.n_visible == 6
    assert nn.RBM is RBM and nn.DBN is DBN


# ---- training on data -------------------------------------------------------------------------

@pytest.fixture
def one_thread():
    """Small matmuls gain nothing from intra-op threads, and on a busy 2-core machine two
    torch threads per process make them ~20x slower; these data tests run on one."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _digits():
    try:
        (x, y), (xt, yt) = th.data.digits()
    except th.data.DatasetNotFoundError as exc:
        pytest.skip(str(exc))
    binar = lambda a: (a.reshape(len(a), -1) > 0.5).astype("float32")  # noqa: E731
    return (binar(x), y), (binar(xt), yt)


def test_reconstruction_error_falls_on_binarised_fashion_mnist(one_thread):
    try:
        (x, _), _ = th.data.fashion_mnist(download=False)
    except Exception as exc:  # noqa: BLE001 - the data set is optional
        pytest.skip(f"Fashion-MNIST not available: {exc}")
    x = (x[:1000].reshape(1000, -1) > 0.5).astype("float32")
    rbm = RBM(64, seed=0)
    hist = rbm.fit(x, epochs=3, batch_size=25, optimizer=SGD(lr=0.1, momentum=0.5), pseudo_likelihood=False,
                   verbose=0).history
    err = hist["recon_error"]
    assert err[0] > err[1] > err[2] and err[2] < 0.8 * err[0]
    assert hist["recon_xent"][2] < hist["recon_xent"][0]


def test_dbn_pretrains_greedily_and_beats_the_same_mlp_from_scratch(one_thread):
    """Digits (8x8) binarised: a 64-100-100 DBN pretrained on the 1,437 training images,
    then fine-tuned on 100 labels, against the same MLP (Glorot init) trained identically
    for 30 epochs (both fit their 100 labels). Over seeds 0-4 the DBN won by 10-17 points
    (0.83-0.88 against 0.67-0.76); the test asserts half the smallest margin."""
    (x, y), (xt, yt) = _digits()
    dbn = DBN(64, [100, 100], seed=0)
    hists = dbn.pretrain(x, epochs=20, batch_size=20, optimizer=lambda: SGD(lr=0.1, momentum=0.5))
    for h in hists:
        assert h.history["recon_error"][-1] < h.history["recon_error"][0]
    clf = dbn.to_classifier(10, input_shape=(1, 8, 8))
    dense = [layer for layer in clf.layers if isinstance(layer, nn.Dense)]
    assert len(dense) == 3 and isinstance(clf.layers[0], nn.Flatten)
    np.testing.assert_array_equal(dense[1].kernel.get_value(), dbn.rbms[1].W.get_value())
    np.testing.assert_array_equal(dense[0].bias.get_value(), dbn.rbms[0].hbias.get_value())
    np.testing.assert_array_equal(dbn.transform(x[:5]), dbn.rbms[1].transform(dbn.rbms[0].transform(x[:5])))
    mlp = dbn.to_classifier(10, input_shape=(1, 8, 8), pretrained=False)
    labelled = np.random.default_rng(0).permutation(len(x))[:100]
    acc = {}
    for name, model in (("dbn", clf), ("mlp", mlp)):  # fine-tuned by Model.fit, the one training loop
        model.compile(SGD(lr=0.05, momentum=0.9), "cross_entropy", ["accuracy"], device="cpu")
        model.fit(x[labelled].reshape(-1, 1, 8, 8), y[labelled], epochs=30, batch_size=10, seed=0, verbose=0)
        acc[name] = model.evaluate(xt.reshape(-1, 1, 8, 8), yt)["accuracy"]
    assert acc["dbn"] > 0.8 and acc["dbn"] > acc["mlp"] + 0.05, acc
