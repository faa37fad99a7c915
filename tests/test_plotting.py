"""Training curves and filter images (theon.plotting): what the picture says, and the
CSV-only fallback without matplotlib."""
import csv
import logging

import numpy as np
import pytest
from matplotlib import image as plt_image

import theon as th
from theon import nn, plotting

HISTORY = {"loss": [1.0, 0.6, 0.5], "accuracy": [0.6, 0.8, 0.85], "val_loss": [0.8, 0.7, 0.65],
           "val_accuracy": [0.7, 0.75, 0.8], "lr": [0.1, 0.1, 0.1]}


def _texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_curves_have_titled_labelled_panels_with_the_printed_words_and_integer_epochs():
    fig = plotting.history_figure(HISTORY, title="lenet on digits", validation_label="test")
    loss, acc = fig.axes
    assert fig._suptitle.get_text() == "lenet on digits"
    assert (loss.get_title(), acc.get_title()) == ("Loss", "Accuracy")
    assert loss.get_xlabel() == acc.get_xlabel() == "epoch"
    assert (loss.get_ylabel(), acc.get_ylabel()) == ("loss", "accuracy")
    assert _texts(loss) == ["training loss", "test loss"]
    assert _texts(acc) == ["training accuracy", "test accuracy"]  # as `theon train` prints it
    lo, hi = loss.get_xlim()
    ticks = [t for t in loss.get_xticks() if lo <= t <= hi]
    assert ticks and all(float(t).is_integer() for t in ticks)
    np.testing.assert_array_equal(loss.lines[1].get_ydata(), HISTORY["val_loss"])
    np.testing.assert_array_equal(loss.lines[0].get_xdata(), [1, 2, 3])
    one = plotting.history_figure({k: v[:1] for k, v in HISTORY.items()}).axes[0]
    lo, hi = one.get_xlim()
    assert [t for t in one.get_xticks() if lo <= t <= hi] == [1]
    many = plotting.history_figure({"loss": list(np.linspace(1, 0.1, 40))}).axes[0]
    lo, hi = many.get_xlim()
    ticks = [t for t in many.get_xticks() if lo <= t <= hi]
    assert 3 <= len(ticks) <= 12 and all(float(t).is_integer() for t in ticks)


def test_history_plot_png_shows_both_curves(tmp_path):
    path = plotting.save_history_plot(HISTORY, tmp_path / "c.png")
    img = plt_image.imread(path)
    assert img.shape[:2] == (400, 1040)  # two 5.2 x 4 inch panels at 100 dpi
    rgb = (img[..., :3] * 255).round().astype(int).reshape(-1, 3)
    colors = {tuple(c) for c in rgb}
    assert (31, 119, 180) in colors and (255, 127, 14) in colors  # training and validation lines
    assert not list(tmp_path.glob(".*.tmp"))


def test_filters_are_tiled_and_drawn(tmp_path):
    w = np.random.default_rng(0).normal(size=(16, 6))
    grid = plotting.tile_images(w, (4, 4))
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1) and grid.min() == 0 and grid.max() == 1
    np.testing.assert_allclose(grid[1:5, 1:5], (w[:, 0].reshape(4, 4) - w[:, 0].min()) / np.ptp(w[:, 0]))
    with pytest.raises(ValueError, match="pixels = 5 x 5"):
        plotting.tile_images(w, (5, 5))
    img = plt_image.imread(plotting.save_filters(w, tmp_path / "f.png", (4, 4), title="six filters"))
    assert img.ndim == 3 and img.shape[0] > 100


@pytest.fixture
def no_matplotlib(monkeypatch):
    monkeypatch.setattr(plotting, "Figure", None)
    monkeypatch.setattr(plotting, "_warned", False)


def test_without_matplotlib_nothing_is_drawn_and_it_is_said_once(no_matplotlib, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="theon.plotting"):
        assert plotting.save_history_plot(HISTORY, tmp_path / "a.png") is None
        assert plotting.save_filters(np.ones((4, 2)), tmp_path / "b.png", (2, 2)) is None
    assert [r.getMessage() for r in caplog.records] == [
        f"matplotlib is not installed, so {tmp_path / 'a.png'} is not drawn, nor any later picture: "
        "pip install 'theon[plot]'"]
    assert not list(tmp_path.iterdir())


def _mlp():
    model = nn.Sequential([nn.Flatten(), nn.Dense(16, activation="relu"), nn.Dense(10)], input_shape=(1, 8, 8),
                          seed=0)
    model.compile(th.optim.SGD(0.1), "cross_entropy", ["accuracy"], device="cpu")
    return model


def test_training_curves_write_the_csv_alone_without_matplotlib(no_matplotlib, tmp_path, caplog):
    (x, y), (xt, yt) = th.data.digits()
    curves = plotting.TrainingCurves(tmp_path / "history.csv", tmp_path / "curves.png")
    with caplog.at_level(logging.WARNING, logger="theon.plotting"):
        _mlp().fit(x[:128], y[:128], epochs=2, batch_size=64, validation_data=(xt[:64], yt[:64]),
                   callbacks=[curves], verbose=0)
    rows = list(csv.reader(open(tmp_path / "history.csv")))
    assert [r[0] for r in rows] == ["epoch", "1", "2"]
    assert not (tmp_path / "curves.png").exists()
    assert len(caplog.records) == 1 and "values are in" in caplog.records[0].getMessage()


def test_training_curves_redraw_every_epoch_of_a_resumed_run(tmp_path, monkeypatch):
    (x, y), _ = th.data.digits()
    drawn = []
    real = plotting.save_history_plot

    def record(history, path, title, label, epochs):
        drawn.append((dict(history), list(epochs)))
        return real(history, path, title, label, epochs)

    monkeypatch.setattr(plotting, "save_history_plot", record)
    cbs = lambda: [th.callbacks.ModelCheckpoint(tmp_path),  # noqa: E731
                   plotting.TrainingCurves(tmp_path / "h.csv", tmp_path / "c.png", validation_label="test")]
    _mlp().fit(x[:128], y[:128], epochs=1, batch_size=64, callbacks=cbs(), verbose=0)
    _mlp().fit(x[:128], y[:128], epochs=3, batch_size=64, callbacks=cbs(), verbose=0, resume_from=tmp_path)
    assert [epochs for _, epochs in drawn] == [[1], [1, 2], [1, 2, 3]]
    history, _ = drawn[-1]
    assert set(history) == {"loss", "accuracy"} and len(history["loss"]) == 3
    assert drawn[1][0]["loss"][0] == drawn[0][0]["loss"][0]  # the first epoch's value, from the checkpoint
    assert plt_image.imread(tmp_path / "c.png").shape[1] == 1040


def test_training_curves_refuse_a_directory_for_the_png(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        plotting.TrainingCurves(tmp_path / "h.csv", tmp_path)
