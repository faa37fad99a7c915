"""Bad Keras files: one clear KerasError naming the file (and the layer where there is
one), nothing executed from the file, and nothing else raised on corrupted bytes."""
from __future__ import annotations

import json
import shutil
import zipfile

import h5py
import numpy as np
import pytest

from .kerasmodels import L, keras, th

KerasError = th.keras.KerasError


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keras_bad")
    i = keras.Input((6, 6, 2), name="image")
    x = L.Conv2D(3, 3, name="conv")(i)
    x = L.Flatten(name="flatten")(x)
    model = keras.Model(i, L.Dense(2, name="head")(x), name="small")
    model.save(folder / "small.keras")
    model.save(folder / "small.h5")
    model.save_weights(folder / "small.weights.h5")
    return folder


def _copy(small, tmp_path, name):
    target = tmp_path / name
    shutil.copy(small / name, target)
    return target


def _edit_h5_config(path, edit):
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        edit(config)
        f.attrs["model_config"] = json.dumps(config)


def test_not_a_model_file(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("hello")
    with pytest.raises(th.keras.KerasFormatError, match="notes.h5: not a Keras model file"):
        th.keras.load(path)
    with pytest.raises(KerasError, match="no such file"):
        th.keras.load(tmp_path / "missing.keras")


def test_weights_only_file_asks_for_a_full_model(small):
    with pytest.raises(KerasError, match=r"small.weights.h5: no model config: this is a weights-only file"):
        th.keras.load(small / "small.weights.h5")


def test_lambda_layers_are_refused_and_never_run(small, tmp_path):
    path = _copy(small, tmp_path, "small.h5")
    marker = tmp_path / "ran"

    def add_lambda(config):
        layers = config["config"]["layers"]
        code = f"open({str(marker)!r}, 'w').write('x')"
        layers.append({"class_name": "Lambda", "name": "evil", "config": {"name": "evil", "function": code},
                       "inbound_nodes": layers[-1]["inbound_nodes"]})
    _edit_h5_config(path, add_lambda)
    with pytest.raises(th.keras.UnsupportedLayersError, match=r"Lambda \(it holds Python code.*\): evil"):
        th.keras.load(path)
    assert not marker.exists()


def test_every_unsupported_layer_is_listed_at_once(small, tmp_path):
    path = _copy(small, tmp_path, "small.h5")

    def rename(config):
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Conv2D":
                layer["class_name"] = "Conv3D"
            if layer["class_name"] == "Dense":
                layer["config"]["activation"] = "hard_sigmoid"
    _edit_h5_config(path, rename)
    with pytest.raises(th.keras.UnsupportedLayersError) as info:
        th.keras.load(path)
    assert info.value.unsupported == {"Conv3D": ["conv"], "Dense (activation 'hard_sigmoid')": ["head"]}


def test_weights_that_do_not_fit_are_all_reported(small, tmp_path):
    path = _copy(small, tmp_path, "small.h5")

    def widen(config):
        for layer in config["config"]["layers"]:
            if layer["name"] in ("conv", "head"):
                layer["config"]["filters" if layer["name"] == "conv" else "units"] = 4
    _edit_h5_config(path, widen)
    with pytest.raises(KerasError) as info:
        th.keras.load(path)
    text = str(info.value)
    assert "small.h5: the weights do not fit the model config" in text
    assert "layer 'conv' (Conv2D): weight 0 is (3, 3, 2, 3), expected (3, 3, 2, 4)" in text
    assert "layer 'head' (Dense)" in text


def test_huge_declared_sizes_fail_before_allocating(small, tmp_path):
    path = _copy(small, tmp_path, "small.h5")

    def huge(config):
        for layer in config["config"]["layers"]:
            if layer["name"] == "head":
                layer["config"]["units"] = 10**12
    _edit_h5_config(path, huge)
    with pytest.raises(KerasError, match=r"layer 'head' \(Dense\): its config asks for .* bytes of weights"):
        th.keras.load(path)


def test_config_that_is_not_json(small, tmp_path):
    path = _copy(small, tmp_path, "small.keras")
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, b"{not json" if item.filename == "config.json" else data)
    with pytest.raises(th.keras.KerasFormatError, match="broken.keras: the model config .* is not valid JSON"):
        th.keras.load(broken)


@pytest.mark.parametrize("name", ["small.keras", "small.h5"])
def test_fuzzed_files_fail_cleanly(small, tmp_path, name):
    """Truncations and flipped bytes: a KerasError (or a model, when the damage misses
    everything read), never another exception."""
    data = (small / name).read_bytes()
    rng = np.random.default_rng(0)
    outcomes = set()
    for trial in range(40):
        damaged = bytearray(data)
        if trial % 2:
            damaged = damaged[:int(rng.integers(1, len(data)))]
        else:
            for at in rng.integers(0, len(data), size=8):
                damaged[at] ^= int(rng.integers(1, 256))
        path = tmp_path / f"fuzz{trial}{name[name.index('.'):]}"
        path.write_bytes(bytes(damaged))
        try:
            th.keras.load(path)
            outcomes.add("loaded")
        except KerasError as e:
            assert str(path) in str(e)
            outcomes.add("error")
    assert "error" in outcomes


def test_a_file_that_crashes_the_hdf5_library_fails_cleanly(small, monkeypatch):
    """The HDF5 data is read first in a child process; a crash there (a segmentation
    fault on a hostile file, simulated here) is a KerasFormatError in theon's process."""
    monkeypatch.setattr(th.keras.probe, "_CHILD", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    with pytest.raises(th.keras.KerasFormatError, match=r"small.h5: the HDF5 library crashed reading it"):
        th.keras.load(small / "small.h5")
