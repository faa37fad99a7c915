"""model.save / th.nn.load_model for a whole model, files that ask for absurd sizes, and
fit/evaluate arguments refused before anything runs."""
import json

import numpy as np
import pytest

import theon as th
from theon import nn
from theon.io import CheckpointError


@pytest.fixture(scope="module")
def digits():
    return th.data.digits()


def cnn(seed=0):
    return nn.Sequential([nn.Conv2D(4, 3, padding="same", activation="relu"), nn.BatchNorm(), nn.Flatten(),
                          nn.Dense(10, activation="softmax")], input_shape=(1, 8, 8), seed=seed)


def test_save_and_load_a_whole_model(digits, tmp_path):
    (x, y), (xt, yt) = digits
    model = cnn()
    loss = nn.losses.SparseCategoricalCrossentropy(ignore_class=7)
    model.compile(th.optim.Adam(0.01), loss, ["accuracy"], device="cpu")
    model.fit(x[:256], y[:256], epochs=1, batch_size=64, verbose=0)
    path = model.save(tmp_path / "cnn.safetensors")
    assert th.io.read_metadata(path)["format"] == "theon-model"
    assert set(th.io.load_file(path)) == set(model.get_weights())  # a plain safetensors file
    loaded = nn.load_model(path, device="cpu")
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(xt[:32]), model.predict(xt[:32]))
    assert loaded.evaluate(xt, yt) == pytest.approx(model.evaluate(xt, yt))
    assert loaded.loss.get_config() == loss.get_config() and isinstance(loaded.optimizer, th.optim.Adam)
    assert not nn.load_model(path, compile=False)._compiled
    fresh = cnn(seed=1)  # uncompiled: saved without a compile config
    fresh.save(tmp_path / "fresh")
    assert not nn.load_model(tmp_path / "fresh")._compiled
    with pytest.raises(ValueError, match="is a directory"):
        model.save(tmp_path)


def test_load_model_refuses_files_that_are_not_models(tmp_path):
    with pytest.raises(CheckpointError, match="no model at"):
        nn.load_model(tmp_path / "missing.safetensors")
    th.io.save_file({"w": np.zeros(3, "float32")}, tmp_path / "plain.safetensors")
    with pytest.raises(CheckpointError, match="not a theon model"):
        nn.load_model(tmp_path / "plain.safetensors")
    (tmp_path / "pickle.pt").write_bytes(b"\x80\x04\x95 not safetensors")
    with pytest.raises(CheckpointError):
        nn.load_model(tmp_path / "pickle.pt")


def _tampered(tmp_path, edit):
    """A saved Dense model whose config `edit` changed, written back with its weights."""
    model = nn.Sequential([nn.Flatten(), nn.Dense(10)], input_shape=(1, 8, 8), seed=0)
    path = model.save(tmp_path / "m.safetensors")
    meta = th.io.read_metadata(path)
    config = json.loads(meta["config"])
    edit(config)
    th.io.save_file(th.io.load_file(path), path, {**meta, "config": json.dumps(config)})
    return path


def test_a_config_asking_for_absurd_sizes_is_refused_before_allocating(tmp_path, monkeypatch):
    def huge(config):
        config["layers"][1]["config"]["units"] = 10 ** 12

    path = _tampered(tmp_path, huge)
    allocated = []
    real = np.ascontiguousarray
    monkeypatch.setattr(np, "ascontiguousarray", lambda a, *k, **kw: allocated.append(np.shape(a)) or real(a, *k, **kw))
    with pytest.raises(CheckpointError, match=r"m.safetensors: .*'dense_1' \(Dense, field units=1000000000000\)"
                                              r".*\(64, 1000000000000\) \(232\.8 TiB\).*has shape \(64, 10\)"):
        nn.load_model(path)
    assert not any(np.prod(s) > 10 ** 6 for s in allocated)

    def renamed(config):
        config["layers"][1]["config"]["name"] = "other"

    with pytest.raises(CheckpointError, match="holds no tensor 'other/kernel'"):
        nn.load_model(_tampered(tmp_path, renamed))

    def broken(config):
        config["layers"][1]["config"]["units"] = "ten"

    with pytest.raises(CheckpointError, match="m.safetensors: the model config cannot be built"):
        nn.load_model(_tampered(tmp_path, broken))


def test_a_training_checkpoint_with_an_absurd_config_is_refused(digits, tmp_path):
    (x, y), _ = digits
    model = nn.Sequential([nn.Flatten(), nn.Dense(10)], input_shape=(1, 8, 8), seed=0)
    model.compile(th.optim.SGD(0.1), "cross_entropy", device="cpu")
    model.fit(x[:64], y[:64], epochs=1, batch_size=64, verbose=0,
              callbacks=[th.callbacks.ModelCheckpoint(tmp_path / "run")])
    tensors, meta = th.io.load_checkpoint(tmp_path / "run")
    meta["model_config"]["layers"][1]["config"]["units"] = 10 ** 12
    th.io.save_checkpoint(tmp_path / "run", tensors, meta)
    with pytest.raises(CheckpointError, match=r"run: .*field units=1000000000000"):
        nn.load_model(tmp_path / "run")


def compiled_mlp():
    model = nn.Sequential([nn.Flatten(), nn.Dense(10)], input_shape=(1, 8, 8), seed=0)
    model.compile(th.optim.SGD(0.1), "cross_entropy", device="cpu")
    return model


@pytest.mark.parametrize("kwargs,match", [
    ({"epochs": -1}, "epochs must be an integer >= 1, got -1"),
    ({"epochs": 2.5}, "epochs must be an integer >= 1, got 2.5"),
    ({"epochs": 0}, "epochs must be an integer >= 1"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
    ({"batch_size": 16.0}, "batch_size must be an integer"),
    ({"epochs": 2, "initial_epoch": 2}, "initial_epoch=2 leaves nothing to train"),
    ({"validation_batch_size": 0}, "validation_batch_size must be"),
    ({"validation_data": (np.zeros((3, 1, 8, 8)),)}, "validation_data has no targets"),
    ({"validation_data": (np.zeros((3, 1, 8, 8)), np.zeros(2))}, "validation_data: x has 3 examples but y has 2"),
    ({"seed": "zero"}, "seed must be an integer"),
])
def test_fit_arguments_are_checked_before_anything_runs(digits, kwargs, match):
    (x, y), _ = digits
    model = compiled_mlp()
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.fit(x[:64], y[:64], verbose=0, **kwargs)
    assert model.train_function is None
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(value, before[name])


def test_string_labels_and_zero_batches_are_clear_errors(digits, tmp_path):
    (x, y), _ = digits
    model = compiled_mlp()
    names = np.array(["cat", "dog"])[y[:64] % 2]
    for call in (lambda: model.fit(x[:64], names, verbose=0), lambda: model.evaluate(x[:64], names)):
        with pytest.raises(ValueError, match=r"labels y are strings \(dtype <U3\).*integer class indices"):
            call()
    with pytest.raises(ValueError, match=r"evaluate: batch_size must be an integer >= 1, got 0"):
        model.evaluate(x[:64], y[:64], batch_size=0)
    with pytest.raises(ValueError, match=r"predict: batch_size must be an integer >= 1, got 0"):
        model.predict(x[:64], batch_size=0)
    with pytest.raises(ValueError, match="x holds <U"):
        model.predict(np.array(["a", "b"]))
    model.fit(x[:64], y[:64], epochs=1, batch_size=64, verbose=0, callbacks=[th.callbacks.ModelCheckpoint(tmp_path)])
    with pytest.raises(ValueError, match="has trained 1 epoch.*epochs=1 is the total count"):
        model.fit(x[:64], y[:64], epochs=1, batch_size=64, verbose=0, resume_from=tmp_path)
