"""Models: Sequential LeNet from the issue, functional Model, names, freezing, BatchNorm
running statistics, weights and configs."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import theon as th
from theon import nn

RNG = np.random.default_rng(0)


def lenet(**kwargs):
    return nn.Sequential([
        nn.Conv2D(6, 5, padding="same", activation="relu"), nn.MaxPool2D(2),
        nn.Conv2D(16, 5, activation="relu"), nn.MaxPool2D(2), nn.Flatten(),
        nn.Dense(120, activation="relu"), nn.Dense(84, activation="relu"), nn.Dense(10),
    ], input_shape=(1, 28, 28), **kwargs)


def torch_lenet(w, x):
    x = F.max_pool2d(F.relu(F.conv2d(x, w["conv2d_1/kernel"], w["conv2d_1/bias"], padding=2)), 2)
    x = F.max_pool2d(F.relu(F.conv2d(x, w["conv2d_2/kernel"], w["conv2d_2/bias"])), 2)
    x = x.flatten(1)
    x = F.relu(x @ w["dense_1/kernel"] + w["dense_1/bias"])
    x = F.relu(x @ w["dense_2/kernel"] + w["dense_2/bias"])
    return x @ w["dense_3/kernel"] + w["dense_3/bias"]


def sgd_step(model, lr=0.1):
    """A manual SGD step over trainable_params (plus the layers' state updates)."""
    x = th.tensor("x", (None, *model.input_shape))
    y = th.tensor("y", (None,), "int64")
    loss = th.nn.cross_entropy(model(x, training=True), y).mean()
    params = model.trainable_params
    grads = th.grad(loss, params)
    updates = [(p, p - lr * g) for p, g in zip(params, grads)] + model.updates
    return th.function([x, y], loss, updates=updates)


# ---- Sequential LeNet ---------------------------------------------------------------------

def test_lenet_summary_from_the_issue(capsys):
    model = lenet()
    text = model.summary()
    assert capsys.readouterr().out.strip() == text.strip()
    rows = {line.split()[0]: line for line in text.splitlines() if "(" in line and "_" in line.split()[0]}
    for name, shape, params, memory in [
            ("conv2d_1", "(None, 6, 28, 28)", "156", "624"), ("max_pool2d_1", "(None, 6, 14, 14)", "0", "0"),
            ("conv2d_2", "(None, 16, 10, 10)", "2,416", "9,664"), ("flatten_1", "(None, 400)", "0", "0"),
            ("dense_1", "(None, 120)", "48,120", "192,480"), ("dense_3", "(None, 10)", "850", "3,400")]:
        assert shape in rows[name] and rows[name].split()[-2:] == [params, memory], rows[name]
    assert "Total params: 61,706 (246,824 bytes" in text
    assert "Non-trainable params: 0 (0 bytes)" in text
    assert model.count_params() == 61706
    assert model.output_shape() == (10,)
    assert model.output_shape((1, 32, 32)) == (10,)


def test_lenet_matches_torch_with_the_same_weights():
    model = lenet()
    x = th.tensor("x", (None, 1, 28, 28))
    xs = RNG.random((3, 1, 28, 28)).astype("float32")
    got = th.function([x], model(x))(xs)
    w = {k: torch.from_numpy(v) for k, v in model.get_weights().items()}
    np.testing.assert_allclose(got, torch_lenet(w, torch.from_numpy(xs)).numpy(), rtol=1e-4, atol=1e-5)


def test_sequential_builds_on_first_call_and_add():
    model = nn.Sequential([nn.Dense(4)])
    assert not model.built
    with pytest.raises(ValueError, match="not built"):
        model.summary()
    y = model(th.tensor("x", (None, 3), "float64"))
    assert y.type.shape == (None, 4) and y.dtype == "float64"
    model.add(nn.Dense(2))
    assert model.output_shape() == (2,) and [l.name for l in model.layers] == ["dense_1", "dense_2"]
    with pytest.raises(TypeError, match="several inputs"):
        model.add(nn.Add())


# ---- names, layers, params ----------------------------------------------------------------

def test_the_same_architecture_built_twice_has_the_same_names():
    a, b = lenet(), lenet()
    assert list(a.get_weights()) == list(b.get_weights())
    assert list(a.get_weights())[:2] == ["conv2d_1/kernel", "conv2d_1/bias"]
    b.set_weights(a.get_weights())
    for k, v in a.get_weights().items():
        np.testing.assert_array_equal(b.get_weights()[k], v)


def test_get_layer_and_params():
    model = lenet()
    conv = model.get_layer("conv2d_2")
    assert isinstance(conv, nn.Conv2D) and conv.kernel.type.shape == (16, 6, 5, 5)
    assert model.params[2] is conv.kernel and len(model.params) == 10
    with pytest.raises(KeyError, match="no layer 'conv9'"):
        model.get_layer("conv9")


def test_duplicate_user_names_are_rejected():
    with pytest.raises(ValueError, match="two layers of the model are named 'd'"):
        nn.Sequential([nn.Dense(2, name="d"), nn.Dense(2, name="d")])


def test_user_names_are_kept_and_auto_names_avoid_them():
    model = nn.Sequential([nn.Dense(2), nn.Dense(2, name="dense_1")], input_shape=(3,))
    assert [l.name for l in model.layers] == ["dense_2", "dense_1"]


# ---- functional Model ---------------------------------------------------------------------

def test_functional_model_with_branches():
    x = nn.Input((4,))
    h = nn.Dense(8, activation="relu")(x)
    a = nn.Dense(3)(nn.Dropout(0.5)(h))
    b = nn.Dense(3)(h)
    model = nn.Model(x, nn.Add()([a, b]))
    assert [l.name for l in model.layers] == ["dense_1", "dropout_1", "dense_2", "dense_3", "add_1"]
    assert model.count_params() == 40 + 27 + 27
    assert model.input_shape == (4,) and model.output_shape() == (3,)
    xv = th.tensor("xv", (None, 4))
    f = th.function([xv], [model(xv), model(xv, training=True), model.outputs[0]], givens={x: xv})
    xs = RNG.standard_normal((64, 4)).astype("float32")
    inference, training, original = f(xs)
    np.testing.assert_array_equal(inference, original)
    assert not np.allclose(inference, training)
    w = {k: torch.from_numpy(v) for k, v in model.get_weights().items()}
    hs = F.relu(torch.from_numpy(xs) @ w["dense_1/kernel"] + w["dense_1/bias"])
    want = hs @ w["dense_2/kernel"] + w["dense_2/bias"] + hs @ w["dense_3/kernel"] + w["dense_3/bias"]
    np.testing.assert_allclose(inference, want.numpy(), rtol=1e-5, atol=1e-6)


def test_functional_model_with_operators_between_layers_and_two_inputs():
    a, b = nn.Input((3,), name="a"), nn.Input((2,), name="b")
    h = nn.Concatenate()([nn.Dense(4)(a) * 2.0, th.tanh(b)])
    out = nn.Dense(1)(h)
    model = nn.Model([a, b], out)
    assert model.input_shape == [(3,), (2,)]
    av, bv = th.tensor("av", (None, 3)), th.tensor("bv", (None, 2))
    y = model([av, bv])
    xs, ys = RNG.standard_normal((5, 3)).astype("float32"), RNG.standard_normal((5, 2)).astype("float32")
    got = th.function([av, bv], y)(xs, ys)
    w = model.get_weights()
    hs = np.concatenate([(xs @ w["dense_1/kernel"] + w["dense_1/bias"]) * 2, np.tanh(ys)], 1)
    np.testing.assert_allclose(got, hs @ w["dense_2/kernel"] + w["dense_2/bias"], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="operators between layers"):
        model.get_config()


def test_functional_model_rejects_an_unknown_input():
    x, other = nn.Input((3,)), nn.Input((3,))
    with pytest.raises(ValueError, match="not one of its inputs"):
        nn.Model(x, nn.Add()([nn.Dense(3)(x), other]))


def test_shared_layer_is_listed_once():
    x = nn.Input((3,))
    d = nn.Dense(3)
    model = nn.Model(x, d(d(x)))
    assert model.layers == [d] and len(model.params) == 2


def test_functional_gradient_through_the_model():
    x = nn.Input((3,), dtype="float64")
    model = nn.Model(x, nn.Dense(2, activation="tanh", dtype="float64")(nn.Dense(4, dtype="float64")(x)))
    th.testing.verify_grad(lambda v: model(v), [RNG.standard_normal((2, 3))])


# ---- freezing and BatchNorm ---------------------------------------------------------------

def _bn_model():
    return nn.Sequential([nn.Dense(6), nn.BatchNorm(), nn.Activation("relu"), nn.Dense(3)],
                         input_shape=(4,))


def _batch(n=16):
    return RNG.standard_normal((n, 4)).astype("float32"), RNG.integers(0, 3, n)


def test_freezing_a_layer_keeps_its_weights_bit_identical():
    model = _bn_model()
    first = model.get_layer("dense_1")
    first.trainable = False
    assert not any(p in model.trainable_params for p in first.params)
    before = model.get_weights()
    step = sgd_step(model)
    for _ in range(3):
        step(*_batch())
    after = model.get_weights()
    for key in ("dense_1/kernel", "dense_1/bias"):
        assert before[key].tobytes() == after[key].tobytes()
    assert not np.array_equal(before["dense_2/kernel"], after["dense_2/kernel"])
    assert not np.array_equal(before["batch_norm_1/running_mean"], after["batch_norm_1/running_mean"])


def test_batch_norm_running_stats_follow_torch():
    model = _bn_model()
    xs, ys = _batch()
    step = sgd_step(model, lr=0.0)
    w = model.get_weights()
    h = torch.from_numpy(xs) @ torch.from_numpy(w["dense_1/kernel"]) + torch.from_numpy(w["dense_1/bias"])
    bn = torch.nn.BatchNorm1d(6)
    bn.train()
    bn(h)
    step(xs, ys)
    np.testing.assert_allclose(model.get_weights()["batch_norm_1/running_mean"], bn.running_mean.numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.get_weights()["batch_norm_1/running_var"], bn.running_var.numpy(),
                               rtol=1e-5, atol=1e-6)
    layer = model.get_layer("batch_norm_1")
    assert [u[0] for u in layer.updates] == [layer.running_mean, layer.running_var]


def test_frozen_batch_norm_runs_in_inference_mode_and_changes_nothing():
    model = _bn_model()
    bn = model.get_layer("batch_norm_1")
    bn.running_mean.set_value(RNG.standard_normal(6).astype("float32"))
    bn.running_var.set_value(RNG.uniform(0.5, 2, 6).astype("float32"))
    bn.trainable = False
    before = model.get_weights()
    x = th.tensor("x", (None, 4))
    y = model(x, training=True)
    assert bn.updates == [] and model.updates == []
    assert all(p not in model.trainable_params for p in bn.params)
    xs, ys = _batch()
    got = th.function([x], y)(xs)
    np.testing.assert_array_equal(got, th.function([x], model(x))(xs))
    sgd_step(model)(xs, ys)
    after = model.get_weights()
    for key in before:
        if key.startswith("batch_norm_1/"):
            assert before[key].tobytes() == after[key].tobytes()


def test_model_trainable_flag_freezes_every_layer():
    model = _bn_model()
    model.trainable = False
    assert model.trainable_params == [] and len(model.non_trainable_params) == len(model.params)
    model.trainable = True
    assert len(model.trainable_params) == 6


# ---- weights ------------------------------------------------------------------------------

def test_get_set_weights_round_trip():
    model = _bn_model()
    new = {k: RNG.standard_normal(v.shape).astype(v.dtype) for k, v in model.get_weights().items()}
    model.set_weights(new)
    got = model.get_weights()
    assert list(got) == list(new)
    for k in new:
        np.testing.assert_array_equal(got[k], new[k])
    got["dense_1/bias"][:] = 99  # a copy: the model is unchanged
    assert not (model.get_weights()["dense_1/bias"] == 99).any()


@pytest.mark.parametrize("change,message", [
    (lambda w: w.pop("dense_2/bias"), "missing: dense_2/bias"),
    (lambda w: w.update({"dense_9/kernel": np.zeros(3)}), "not parameters of model .*dense_9/kernel"),
    (lambda w: w.update({"dense_1/kernel": np.zeros((6, 4), "float32")}),
     r"dense_1/kernel: expected shape \(4, 6\), got \(6, 4\)"),
    (lambda w: w.update({"dense_1/bias": np.zeros(6, "complex64")}), "cannot store complex64"),
])
def test_set_weights_errors_change_nothing(change, message):
    model = _bn_model()
    before = model.get_weights()
    weights = {k: v + 1 for k, v in before.items()}
    change(weights)
    with pytest.raises(ValueError, match=message):
        model.set_weights(weights)
    after = model.get_weights()
    for k in before:
        assert before[k].tobytes() == after[k].tobytes()


def test_set_weights_not_strict_allows_a_subset():
    model = _bn_model()
    model.set_weights({"dense_2/bias": np.ones(3, "float64")}, strict=False)
    assert model.get_weights()["dense_2/bias"].dtype == np.float32
    np.testing.assert_array_equal(model.get_weights()["dense_2/bias"], np.ones(3))


# ---- seeds --------------------------------------------------------------------------------

def test_th_seed_makes_weights_reproducible():
    th.seed(3)
    a = lenet().get_weights()
    b = lenet().get_weights()
    th.seed(3)
    c = lenet().get_weights()
    for k in a:
        np.testing.assert_array_equal(a[k], c[k])
    assert not np.array_equal(a["dense_1/kernel"], b["dense_1/kernel"])
    th.seed(4)
    assert not np.array_equal(a["dense_1/kernel"], lenet().get_weights()["dense_1/kernel"])


def test_model_seed_ignores_the_global_stream():
    th.seed(1)
    a = lenet(seed=5).get_weights()
    th.seed(2)
    b = lenet(seed=5).get_weights()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["dense_1/kernel"], lenet(seed=6).get_weights()["dense_1/kernel"])


# ---- configs ------------------------------------------------------------------------------

def test_sequential_config_round_trip():
    model = nn.Sequential([
        nn.Conv2D(4, 3, padding="same", activation="relu", kernel_initializer="he_normal"),
        nn.BatchNorm(momentum=0.2), nn.MaxPool2D(2, padding="same"), nn.Dropout(0.25),
        nn.Conv2DTranspose(2, 3, strides=2, padding="same"), nn.DepthwiseConv2D(3, depth_multiplier=2),
        nn.AvgPool2D(2), nn.LayerNorm(axis=(1, 2, 3)), nn.GlobalAvgPool2D(), nn.Reshape((2, 2)), nn.Flatten(),
        nn.Dense(5, activation="softmax", kernel_initializer=nn.initializers.Orthogonal(2.0)),
    ], input_shape=(1, 9, 9), name="net")
    config = json.loads(json.dumps(model.get_config()))
    clone = nn.Model.from_config(config)
    assert isinstance(clone, nn.Sequential) and clone.name == "net"
    assert [type(l) for l in clone.layers] == [type(l) for l in model.layers]
    assert clone.get_config() == config
    clone.set_weights(model.get_weights())
    x = th.tensor("x", (None, 1, 9, 9))
    xs = RNG.standard_normal((2, 1, 9, 9)).astype("float32")
    np.testing.assert_array_equal(th.function([x], model(x))(xs), th.function([x], clone(x))(xs))


def test_functional_config_round_trip():
    a, b = nn.Input((3,), name="a"), nn.Input((3,), name="b")
    shared = nn.Dense(4, activation="tanh")
    out = nn.Dense(2)(nn.Concatenate()([shared(a), shared(b)]))
    model = nn.Model([a, b], out)
    config = json.loads(json.dumps(model.get_config()))
    clone = nn.model_from_config(config)
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    clone.set_weights(model.get_weights())
    xs = [RNG.standard_normal((2, 3)).astype("float32") for _ in range(2)]
    va, vb = th.tensor("va", (None, 3)), th.tensor("vb", (None, 3))
    np.testing.assert_array_equal(th.function([va, vb], model([va, vb]))(*xs),
                                  th.function([va, vb], clone([va, vb]))(*xs))


def test_custom_objects_in_configs():
    def double(x):
        return x * 2.0

    model = nn.Sequential([nn.Dense(2, activation=double)], input_shape=(3,))
    config = model.get_config()
    assert config["layers"][0]["config"]["activation"].endswith("double")
    with pytest.raises(ValueError, match="unknown activation"):
        nn.Sequential.from_config(config)
    clone = nn.Sequential.from_config(config, custom_objects={config["layers"][0]["config"]["activation"]: double})
    assert clone.layers[0].activation is double


def test_a_user_class_named_like_a_built_in_layer_never_replaces_it():
    class Dense(nn.Layer):  # a user's own layer that happens to share a built-in's name
        def call(self, x, training=False):
            return x * 3.0

    builtin = nn.Sequential([nn.Dense(2)], input_shape=(3,))
    clone = nn.Sequential.from_config(json.loads(json.dumps(builtin.get_config())))
    assert type(clone.layers[0]) is nn.Dense
    mine = nn.Sequential([Dense()], input_shape=(3,))
    spec = mine.get_config()["layers"][0]
    assert spec["class_name"] == f"{__name__}.{Dense.__qualname__}"
    again = nn.Sequential.from_config(json.loads(json.dumps(mine.get_config())))
    assert type(again.layers[0]) is Dense


def test_cutting_a_model_at_a_named_layer_for_fine_tuning():
    base = nn.Sequential([nn.Flatten(), nn.Dense(16, activation="relu", name="features"),
                          nn.Dense(10, name="head")], input_shape=(1, 4, 4), seed=0)
    trunk = nn.Model(base.inputs, base.get_layer("features").output)   # cut in one line
    assert [l.name for l in trunk.layers] == [l.name for l in base.layers[:2]]
    trunk.trainable = False
    x = nn.Input((1, 4, 4))
    clf = nn.Model(x, nn.Dense(3, name="new_head")(trunk(x)))
    assert [p.name for p in clf.trainable_params] == ["new_head/kernel", "new_head/bias"]
    before = {k: v.copy() for k, v in base.get_weights().items()}
    clf.compile(th.optim.SGD(0.5), "cross_entropy")
    data = np.random.default_rng(0).random((32, 1, 4, 4)).astype("float32")
    clf.fit(data, np.arange(32) % 3, epochs=2, batch_size=8, verbose=0)
    after = base.get_weights()
    assert all(np.array_equal(before[k], after[k]) for k in before)  # frozen: not a byte moved
    np.testing.assert_allclose(clf.predict(data[:2]).shape, (2, 3))
