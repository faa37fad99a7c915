"""Model.compile / fit / evaluate / predict (theon.nn.trainer), callbacks and exact resume."""
import csv

import numpy as np
import pytest

import theon as th
from theon import nn
from theon.callbacks import (Callback, CSVLogger, EarlyStopping, LearningRateScheduler,
                             ModelCheckpoint)
from theon.io import CheckpointError
from theon.nn import load_model


@pytest.fixture(scope="module")
def digits():
    return th.data.digits()


def mlp(seed=0, dropout=0.0, batchnorm=False):
    layers = [nn.Flatten(), nn.Dense(32, activation="relu")]
    if batchnorm:
        layers.append(nn.BatchNorm())
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Dense(10))
    return nn.Sequential(layers, input_shape=(1, 8, 8), seed=seed)


def compiled_mlp(lr=0.1, **kw):
    model = mlp(**kw)
    model.compile(th.optim.SGD(lr, momentum=0.9), "cross_entropy", ["accuracy"], device="cpu")
    return model


class StepLosses(Callback):
    """Records every step's loss (reading it syncs, which a test can afford)."""

    def __init__(self):
        self.losses = []

    def on_batch_end(self, batch, logs=None):
        self.losses.append(logs["batch_loss"])


def test_mlp_on_digits_reaches_90_percent(digits):
    (xtr, ytr), (xte, yte) = digits
    model = compiled_mlp()
    history = model.fit(xtr, ytr, epochs=5, batch_size=32, validation_data=(xte, yte), verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 5 for v in history.history.values())
    assert history.epoch == [0, 1, 2, 3, 4]
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] >= 0.90
    assert model.evaluate(xte, yte)["accuracy"] == pytest.approx(history.history["val_accuracy"][-1])


def test_lenet_on_a_fashion_mnist_subset():
    if th.data.find_dataset("fashion-mnist", missing_ok=True) is None:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    (xtr, ytr), (xte, yte) = th.data.fashion_mnist(download=False)
    model = nn.Sequential([
        nn.Conv2D(6, 5, padding="same", activation="relu"), nn.MaxPool2D(2),
        nn.Conv2D(16, 5, activation="relu"), nn.MaxPool2D(2), nn.Flatten(),
        nn.Dense(120, activation="relu"), nn.Dense(84, activation="relu"), nn.Dense(10),
    ], input_shape=(1, 28, 28), seed=0)
    model.compile(th.optim.SGD(0.05, momentum=0.9), "cross_entropy", ["accuracy"], device="cpu")
    model.fit(xtr[:5000], ytr[:5000], epochs=2, batch_size=64, verbose=0)
    # measured 0.77-0.79 over seeds 0-2 (SGD and Adam alike); the margin covers the rest
    assert model.evaluate(xte[:2000], yte[:2000])["accuracy"] >= 0.72


def test_one_compile_per_batch_shape_and_outputs_stay_on_device(digits):
    (xtr, ytr), (xte, yte) = digits
    model = compiled_mlp()
    assert len(xtr) % 100 != 0  # a last, smaller batch each epoch
    model.fit(xtr, ytr, epochs=3, batch_size=100, validation_data=(xte, yte), verbose=0)
    assert model.train_function.compile_count == 2      # full batches + the last partial one
    assert model.test_function.compile_count == 2
    assert model.train_function.keep_on_device
    # the step is one function: weights, slots and the step counter update together
    assert int(model.optimizer.iterations.get_value()) == 3 * int(np.ceil(len(xtr) / 100))


def test_evaluate_and_predict_shapes(digits):
    (xtr, ytr), (xte, yte) = digits
    model = compiled_mlp()
    result = model.evaluate(xte, yte, batch_size=64)
    assert set(result) == {"loss", "accuracy"} and all(isinstance(v, float) for v in result.values())
    out = model.predict(xte[:70], batch_size=32)
    assert out.shape == (70, 10) and out.dtype == np.float32
    np.testing.assert_allclose(out[:5], model.predict(xte[:5]), rtol=1e-5, atol=1e-6)
    fresh = mlp(seed=1)  # predict needs no compile
    assert fresh.predict(xte[:3]).shape == (3, 10)
    with pytest.raises(RuntimeError, match="not compiled"):
        fresh.evaluate(xte, yte)


def test_evaluate_and_predict_take_keras_verbose(digits, capsys):
    # Keras code passes verbose to evaluate and predict; quiet unless asked, a summary line
    # when asked, a clear error for a value Keras does not take
    (xtr, ytr), (xte, yte) = digits
    model = compiled_mlp()
    quiet = model.evaluate(xte[:100], yte[:100], batch_size=32)
    assert capsys.readouterr().out == ""
    assert model.evaluate(xte[:100], yte[:100], batch_size=32, verbose=2) == quiet
    line = capsys.readouterr().out
    assert line.startswith("4/4 - ") and f"loss: {quiet['loss']:.4f}" in line
    np.testing.assert_array_equal(model.predict(xte[:10], verbose=1), model.predict(xte[:10], verbose=0))
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("1/1 - ")
    with pytest.raises(ValueError, match="verbose must be 'auto', 0, 1 or 2, got 3"):
        model.predict(xte[:10], verbose=3)


def test_batchnorm_running_stats_update_during_fit(digits):
    (xtr, ytr), _ = digits
    model = compiled_mlp(batchnorm=True)
    bn = next(layer for layer in model.layers if isinstance(layer, nn.BatchNorm))
    before = {p.name: p.get_value() for p in bn.non_trainable_params}
    model.fit(xtr[:256], ytr[:256], epochs=1, batch_size=64, verbose=0)
    assert before and all(not np.array_equal(before[p.name], p.get_value()) for p in bn.non_trainable_params)


def test_early_stopping_stops_and_restores_best_weights(digits):
    (xtr, ytr), _ = digits
    model = compiled_mlp()
    seen = {}

    class Snapshot(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen[epoch] = self.model.get_weights()

    # no later epoch can improve on the first by 10: stop after `patience` more
    stop = EarlyStopping(monitor="loss", patience=1, min_delta=10.0, restore_best_weights=True)
    history = model.fit(xtr, ytr, epochs=10, batch_size=64, callbacks=[Snapshot(), stop], verbose=0)
    assert len(history.history["loss"]) == 3 and stop.stopped_epoch == 2 and stop.best_epoch == 0
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(value, seen[0][name])


def test_csv_logger_writes_one_row_per_epoch(digits, tmp_path):
    (xtr, ytr), (xte, yte) = digits
    model = compiled_mlp()
    path = tmp_path / "log.csv"
    history = model.fit(xtr[:300], ytr[:300], epochs=2, batch_size=64, validation_data=(xte[:100], yte[:100]),
                        callbacks=[CSVLogger(path)], verbose=0)
    rows = list(csv.reader(open(path)))
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert [r[0] for r in rows[1:]] == ["1", "2"]
    for i, row in enumerate(rows[1:]):
        assert [float(v) for v in row[1:]] == [history.history[k][i] for k in rows[0][1:]]


def test_learning_rate_scheduler_sets_the_shared_rate_without_recompiling(digits):
    (xtr, ytr), _ = digits
    model = compiled_mlp()
    history = model.fit(xtr[:256], ytr[:256], epochs=3, batch_size=64, verbose=0,
                        callbacks=[LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch)])
    assert history.history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    assert float(model.optimizer.lr.get_value()) == pytest.approx(0.025)
    assert model.train_function.compile_count == 1


def test_model_checkpoint_writes_a_loadable_checkpoint(digits, tmp_path):
    (xtr, ytr), (xte, yte) = digits
    model = compiled_mlp()
    best = ModelCheckpoint(tmp_path / "best", save_best_only=True, monitor="val_accuracy")
    every = ModelCheckpoint(tmp_path / "last", meta={"note": "hello"})
    model.fit(xtr[:400], ytr[:400], epochs=2, batch_size=64, validation_data=(xte, yte),
              callbacks=[best, every], verbose=0)
    tensors, meta = th.io.load_checkpoint(tmp_path / "last")
    assert meta["epoch"] == 2 and meta["user"] == {"note": "hello"} and meta["loss"] == "cross_entropy"
    assert "model/dense_1/kernel" in tensors and "optimizer/iterations" in tensors
    loaded = load_model(tmp_path / "last", device="cpu")
    np.testing.assert_array_equal(loaded.predict(xte[:16]), model.predict(xte[:16]))
    assert loaded.evaluate(xte, yte) == pytest.approx(model.evaluate(xte, yte))
    assert best.last_saved_epoch is not None and (tmp_path / "best" / "checkpoint.json").is_file()


def _run(tmp_path, epochs, resume=False, save=None):
    """A model with BatchNorm (running state) and Dropout (default RNG), built as a fresh
    process would: th.seed(0) first, so its RNG streams are numbered the same."""
    (xtr, ytr), _ = th.data.digits()
    th.seed(0)
    model = compiled_mlp(dropout=0.3, batchnorm=True)
    model.compile(th.optim.Adam(0.01), "cross_entropy", ["accuracy"], device="cpu")
    steps = StepLosses()
    cbs = [steps] + ([ModelCheckpoint(save)] if save else [])
    history = model.fit(xtr, ytr, epochs=epochs, batch_size=128, callbacks=cbs, seed=3, verbose=0,
                        resume_from=tmp_path if resume else None)
    return model, steps.losses, history


def test_resumed_run_repeats_the_uninterrupted_loss_curve_bit_for_bit(tmp_path):
    straight, straight_losses, straight_hist = _run(tmp_path, epochs=2)
    _, first_losses, _ = _run(tmp_path, epochs=1, save=tmp_path)
    resumed, rest_losses, resumed_hist = _run(tmp_path, epochs=2, resume=True)
    assert len(first_losses) == len(rest_losses) == len(straight_losses) // 2
    assert first_losses + rest_losses == straight_losses  # exact float equality
    assert resumed_hist.history == straight_hist.history
    for name, value in straight.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[name], value)
    assert int(th.ops.random.default_rng().counter.get_value()) > 0


def test_resume_rejects_another_optimizer(digits, tmp_path):
    (xtr, ytr), _ = digits
    model = compiled_mlp()
    model.fit(xtr[:128], ytr[:128], epochs=1, batch_size=64, verbose=0, callbacks=[ModelCheckpoint(tmp_path)])
    other = mlp()
    other.compile(th.optim.Adam(), "cross_entropy", ["accuracy"], device="cpu")
    with pytest.raises(CheckpointError, match="optimizer is SGD"):
        other.fit(xtr[:128], ytr[:128], epochs=2, batch_size=64, verbose=0, resume_from=tmp_path)


def test_epoch_lines_when_not_a_terminal(digits, capsys):
    (xtr, ytr), (xte, yte) = digits
    model = compiled_mlp()
    model.fit(xtr[:200], ytr[:200], epochs=2, batch_size=64, validation_data=(xte[:50], yte[:50]), verbose="auto")
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1/2 - ") and "loss: " in lines[0] and "val_accuracy: " in lines[0]


def test_batch_logs_are_running_means_read_on_demand(digits):
    (xtr, ytr), _ = digits
    model = compiled_mlp()
    got = []

    class Reader(Callback):
        def on_batch_end(self, batch, logs=None):
            got.append((batch, dict(logs)))

    history = model.fit(xtr[:192], ytr[:192], epochs=1, batch_size=64, callbacks=[Reader()], verbose=0)
    assert [b for b, _ in got] == [0, 1, 2]
    assert set(got[0][1]) == {"loss", "accuracy", "batch_loss", "size"}
    assert got[0][1]["loss"] == pytest.approx(got[0][1]["batch_loss"])
    assert got[-1][1]["loss"] == pytest.approx(history.history["loss"][0])
    assert np.mean([logs["batch_loss"] for _, logs in got]) == pytest.approx(history.history["loss"][0])
