"""Callbacks: progress that shows in logs and on terminals, and settings checked when fit
starts, before anything trains."""
import io
import re

import numpy as np
import pytest

import theon as th
from theon import nn
from theon.callbacks import Callback, CSVLogger, ModelCheckpoint, ProgressDisplay


@pytest.fixture(scope="module")
def digits():
    return th.data.digits()


def compiled_mlp():
    model = nn.Sequential([nn.Flatten(), nn.Dense(16, activation="relu"), nn.Dense(10)], input_shape=(1, 8, 8),
                          seed=0)
    model.compile(th.optim.SGD(0.1), "cross_entropy", ["accuracy"], device="cpu")
    return model


class Steps(Callback):
    def __init__(self):
        self.count = 0

    def on_batch_end(self, batch, logs=None):
        self.count += 1


LINE = re.compile(r"epoch 1/2 - step (\d+)/4 \((\d+)%\) - [\d,]+ examples/s - loss: \d+\.\d{4} - "
                  r"accuracy: \d\.\d{4}$")


def test_a_log_gets_progress_lines_within_an_epoch(digits):
    (x, y), _ = digits
    out = io.StringIO()  # not a terminal
    compiled_mlp().fit(x[:256], y[:256], epochs=2, batch_size=64, verbose=0,
                       callbacks=[ProgressDisplay(1, stream=out, interval_s=0.0)])
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 * 4 + 2 and "\r" not in out.getvalue()
    steps = [LINE.match(line) for line in lines[:4]]
    assert all(steps), lines[:4]
    assert [(m.group(1), m.group(2)) for m in steps] == [("1", "25"), ("2", "50"), ("3", "75"), ("4", "100")]
    assert lines[4].startswith("epoch 1/2 - ") and "s - loss: " in lines[4]


def test_progress_lines_come_at_most_every_interval(digits):
    (x, y), _ = digits
    out = io.StringIO()
    compiled_mlp().fit(x[:256], y[:256], epochs=2, batch_size=64, verbose=0,
                       callbacks=[ProgressDisplay(1, stream=out, interval_s=3600)])
    assert [line.split(" - ")[0] for line in out.getvalue().splitlines()] == ["epoch 1/2", "epoch 2/2"]
    out = io.StringIO()
    compiled_mlp().fit(x[:256], y[:256], epochs=1, batch_size=64, verbose=0,
                       callbacks=[ProgressDisplay(2, stream=out, interval_s=0.0)])
    assert len(out.getvalue().splitlines()) == 1  # verbose=2: a line per epoch only


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_keeps_its_bar(digits):
    (x, y), _ = digits
    out = Terminal()
    compiled_mlp().fit(x[:256], y[:256], epochs=1, batch_size=64, verbose=0,
                       callbacks=[ProgressDisplay(1, stream=out, interval_s=0.0)])
    text = out.getvalue()
    assert "\r" in text and re.search(r"epoch 1/1: +\d+%\|.*\| \d/4 \[", text) and "examples/s" not in text
    assert text.rstrip().splitlines()[-1].startswith("epoch 1/1 - ")


def test_a_checkpoint_path_that_is_a_file_fails_before_training(digits, tmp_path):
    (x, y), _ = digits
    taken = tmp_path / "taken"
    taken.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="is a file, but a checkpoint is a directory"):
        ModelCheckpoint(taken)
    later = tmp_path / "later"
    checkpoint = ModelCheckpoint(later)
    later.write_text("made after the callback")  # the path turns into a file before fit starts
    model, steps = compiled_mlp(), Steps()
    before = model.get_weights()
    with pytest.raises(ValueError, match=f"{later} is a file"):
        model.fit(x[:128], y[:128], epochs=1, batch_size=64, callbacks=[steps, checkpoint], verbose=0)
    assert steps.count == 0 and int(model.optimizer.iterations.get_value()) == 0
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(value, before[name])
    assert later.read_text() == "made after the callback"


def test_output_paths_that_cannot_be_made_fail_before_training(digits, tmp_path):
    (x, y), _ = digits
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a directory"):
        CSVLogger(tmp_path)
    for cb in (CSVLogger(tmp_path / "file" / "log.csv"), ModelCheckpoint(tmp_path / "file" / "ckpt")):
        model, steps = compiled_mlp(), Steps()
        with pytest.raises(ValueError, match="cannot create the directory|is a file"):
            model.fit(x[:128], y[:128], epochs=1, batch_size=64, callbacks=[steps, cb], verbose=0)
        assert steps.count == 0


def test_callbacks_must_be_callbacks(digits):
    (x, y), _ = digits
    model = compiled_mlp()
    with pytest.raises(TypeError, match=r"callbacks\[1\] is .*not a theon.callbacks.Callback"):
        model.fit(x[:64], y[:64], callbacks=[Steps(), lambda epoch: None], verbose=0)
    with pytest.raises(TypeError, match="must be a list"):
        model.fit(x[:64], y[:64], callbacks=Steps(), verbose=0)
    with pytest.raises(ValueError, match="verbose must be"):
        model.fit(x[:64], y[:64], verbose=3)
    assert model.train_function is None or int(model.optimizer.iterations.get_value()) == 0


def test_a_failing_callback_leaves_a_resumed_model_unrestored(digits, tmp_path):
    (x, y), _ = digits
    compiled_mlp().fit(x[:128], y[:128], epochs=1, batch_size=64, callbacks=[ModelCheckpoint(tmp_path / "run")],
                       verbose=0)
    model = compiled_mlp()
    model.set_weights({k: v + 1 for k, v in model.get_weights().items()})
    before = model.get_weights()
    (tmp_path / "log").mkdir()
    bad = CSVLogger(tmp_path / "log.csv")
    (tmp_path / "log.csv").mkdir()  # the CSV path turned into a directory
    with pytest.raises(ValueError, match="is a directory"):
        model.fit(x[:128], y[:128], epochs=2, batch_size=64, callbacks=[bad], verbose=0,
                  resume_from=tmp_path / "run")
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(value, before[name])
