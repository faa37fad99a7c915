"""A model as a layer of another (nn.Sequential([trunk, head])), Model.cut, and freezing a
nested model: what fine-tuning a pretrained trunk relies on."""
from __future__ import annotations

import numpy as np
import pytest

import theon as th
from theon import nn


def small_trunk(seed=0):
    x = nn.Input((1, 8, 8), name="image")
    h = nn.Conv2D(4, 3, padding=1, name="conv1", seed=seed)(x)
    h = nn.BatchNorm(name="bn1")(h)
    h = nn.Activation("relu", name="relu1")(h)
    h = nn.GlobalAvgPool2D(name="pool")(h)
    y = nn.Dense(5, name="logits", seed=seed + 1)(h)
    return nn.Model(x, y, name="pretrained")


def data(n=64, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    return x, (x.mean(axis=(1, 2, 3)) > 0).astype(np.int64) + (x[:, 0, 0, 0] > 1)


def values(params):
    return {p.name: p.get_value().copy() for p in params}


def test_cut_ends_at_the_named_layer_and_shares_its_weights():
    base = small_trunk()
    trunk = base.cut("pool")
    assert [layer.name for layer in trunk.layers] == ["conv1", "bn1", "relu1", "pool"]
    assert trunk.outputs[0].type.shape == (None, 4)
    assert trunk.get_layer("conv1") is base.get_layer("conv1")
    x, _ = data(4)
    features = th.function([base.inputs[0]], base.get_layer("pool").output)(x)
    np.testing.assert_allclose(trunk.predict(x), np.asarray(features), rtol=1e-6)
    with pytest.raises(KeyError, match="no layer 'nope'"):
        base.cut("nope")


def test_a_frozen_trunk_stays_bit_identical_and_the_head_learns():
    trunk = small_trunk().cut("pool")
    trunk.trainable = False
    model = nn.Sequential([trunk, nn.Dense(3, name="head", seed=3)])
    assert model.built and model.input_shape == (1, 8, 8)
    assert [p.name for p in model.trainable_params] == ["head/kernel", "head/bias"]
    frozen, head = values(trunk.params), values(model.get_layer("head").params)
    model.compile(th.optim.Adam(0.05), "cross_entropy")
    x, y = data()
    history = model.fit(x, y, epochs=5, batch_size=16, verbose=0)
    for name, before in frozen.items():  # BatchNorm's running statistics included
        assert np.array_equal(before, trunk.get_layer(name.split("/")[0]).param(name.split("/")[1]).get_value())
    assert any(not np.array_equal(v, p.get_value()) for v, p in zip(head.values(),
                                                                   model.get_layer("head").params))
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_unfreezing_the_trunk_trains_it_and_its_batchnorm_statistics():
    trunk = small_trunk().cut("pool")
    model = nn.Sequential([trunk, nn.Dense(3, name="head")])
    trunk.trainable = False
    model.trainable_params  # frozen first, then unfrozen through the wrapping layer
    model.get_layer(trunk.name).trainable = True
    assert trunk.trainable and len(model.trainable_params) == len(model.params) - 2  # running stats
    before = values(trunk.params)
    model.compile(th.optim.SGD(0.1), "cross_entropy")
    x, y = data()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    changed = {p.name for p in trunk.params if not np.array_equal(before[p.name], p.get_value())}
    assert {"conv1/kernel", "bn1/gamma", "bn1/running_mean", "bn1/running_var"} <= changed


def test_a_model_with_a_nested_model_saves_and_loads(tmp_path):
    trunk = small_trunk().cut("pool")
    trunk.trainable = False
    model = nn.Sequential([trunk, nn.Dense(3, name="head")])
    x, _ = data(8)
    path = model.save(tmp_path / "finetuned.safetensors")
    loaded = nn.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [p.name for p in loaded.trainable_params] == ["head/kernel", "head/bias"]


def test_layer_names_clashing_with_the_nested_model_are_an_error():
    trunk = small_trunk().cut("pool")
    with pytest.raises(ValueError, match="named 'conv1'"):
        nn.Sequential([trunk, nn.Dense(3, name="conv1")])
    model = nn.Sequential([trunk, nn.Dense(3)])
    assert model.layers[1].name not in {"conv1", "bn1", "relu1", "pool"}


def test_a_model_layer_checks_the_input_shape():
    trunk = small_trunk().cut("pool")
    with pytest.raises(ValueError, match=r"takes inputs of shape \(\?, 1, 8, 8\), got \(\?, 1, 9, 9\)"):
        nn.Sequential([trunk, nn.Dense(3)], input_shape=(1, 9, 9))
    with pytest.raises(ValueError, match="not built"):
        nn.ModelLayer(nn.Sequential([nn.Dense(2)]))
