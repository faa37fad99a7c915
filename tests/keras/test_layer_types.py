"""Small Keras models covering every imported layer type, with random weights, saved as
.keras and as HDF5 and loaded by th.keras.load: each layer's output against Keras'."""
from __future__ import annotations

import numpy as np
import pytest

from .kerasmodels import (as_keras_layout, channels_first, cnn_model, embedding_model, keras_layer_outputs,
                          randomise, relative_error, save_both, sequence_model, th, theon_layer_outputs)

TOLERANCE = 1e-4
MODELS = {"cnn": cnn_model, "sequences": sequence_model, "tokens": embedding_model}


def _inputs(name: str, rng):
    if name == "cnn":
        return rng.normal(size=(3, 10, 12, 3)).astype(np.float32)
    if name == "sequences":
        return rng.normal(size=(3, 9, 5)).astype(np.float32)
    return rng.integers(0, 20, size=(3, 8)).astype(np.int32)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keras_models")
    out = {}
    for seed, (name, make) in enumerate(MODELS.items()):
        model = make()
        randomise(model, seed)
        out[name] = (model, save_both(model, folder))
    return out


@pytest.mark.parametrize("fmt", ["keras", "h5"])
@pytest.mark.parametrize("name", list(MODELS))
def test_every_layer_matches_keras(saved, name, fmt):
    model, paths = saved[name]
    ours = th.keras.load(paths[fmt])
    x = _inputs(name, np.random.default_rng(1))
    expected = keras_layer_outputs(model, x)
    got = theon_layer_outputs(ours, list(expected), channels_first(x))
    for layer, theirs in expected.items():
        err = relative_error(as_keras_layout(got[layer], theirs), theirs)
        assert err <= TOLERANCE, f"{name} ({fmt}) layer {layer!r}: relative error {err:.2e}"
    # theon's LSTM and SimpleRNN keep torch's second bias vector (zeros here); Keras has one
    extra = sum(layer.param("bias_hh").type.shape[0] for layer in ours.layers
                if isinstance(layer, (th.nn.LSTM, th.nn.SimpleRNN)))
    assert ours.count_params() == model.count_params() + extra


def test_images_are_channels_first_and_sequences_keep_keras_shape(saved):
    cnn = th.keras.load(saved["cnn"][1]["keras"])
    assert cnn.inputs[0].type.shape == (None, 3, 10, 12)
    assert cnn.get_layer("conv").output.type.shape == (None, 6, 10, 12)
    # the flatten reads Keras' channels-last order: one permute, named after the producer
    assert cnn.get_layer("dropout").output.type.shape == (None, 5, 2, 7)
    assert cnn.get_layer("dropout.channels_last").output.type.shape == (None, 2, 7, 5)
    seq = th.keras.load(saved["sequences"][1]["h5"])
    assert seq.inputs[0].type.shape == (None, 9, 5)
    assert seq.get_layer("avgpool1d").output.type.shape == (None, 6, 4)
    assert seq.get_layer("lstm").output.type.shape == (None, 4, 5)


def test_imported_models_train_and_reload(saved, tmp_path):
    """An imported model is an ordinary theon model: it saves, reloads, and trains."""
    model = th.keras.load(saved["cnn"][1]["keras"])
    x = np.random.default_rng(2).normal(size=(8, 3, 10, 12)).astype(np.float32)
    model.save(tmp_path / "cnn.safetensors")
    again = th.nn.load_model(tmp_path / "cnn.safetensors")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    before = model.get_layer("logits").param("kernel").get_value().copy()
    model.compile(th.optim.SGD(0.1), "sparse_categorical_crossentropy")  # it ends in a softmax
    model.fit(x, np.arange(8) % 4, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(model.get_layer("logits").param("kernel").get_value(), before)
