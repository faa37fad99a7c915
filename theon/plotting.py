"""Pictures of training, drawn with matplotlib (the `plot` extra: pip install 'theon[plot]').

    from theon import plotting
    model.fit(..., callbacks=[plotting.TrainingCurves("run/history.csv", "run/curves.png")])
    plotting.save_history_plot(history.history, "curves.png", title="lenet on fashion-mnist")
    plotting.save_filters(rbm.W.get_value(), "filters.png", tile_shape=(28, 28))

Curves: one panel for the loss and one per metric, each with the training values and,
where logged, the validation values ('val_*'), per epoch (integer ticks). Legends use the
words of the printed lines: "training loss", and "validation accuracy" (or, with
validation_label="test", "test accuracy", as `theon train` prints it).

`import theon` does not import this module, so it pays for matplotlib only when drawing.
Without matplotlib nothing is drawn: the first attempt says so once (a warning on the
`theon.plotting` logger), and the functions return None; TrainingCurves then writes its
CSV alone.
"""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import numpy as np

from .nn.callbacks import CSVLogger, writable_file

try:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter
except ImportError:  # the plot extra is optional: without it pictures are skipped, with a note
    Figure = None

__all__ = ["TrainingCurves", "history_figure", "save_history_plot", "tile_images", "save_filters",
           "have_matplotlib"]

TRAIN_COLOR, VALIDATION_COLOR = "#1f77b4", "#ff7f0e"
log = logging.getLogger(__name__)
_warned = False


def have_matplotlib() -> bool:
    return Figure is not None


def _missing(what) -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning(f"matplotlib is not installed, so {what} is not drawn, nor any later picture: "
                    f"pip install 'theon[plot]'")


def _save(fig, path) -> Path:
    """Write the figure next to `path`, then rename: a reader never sees half a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    FigureCanvasAgg(fig)
    fig.savefig(tmp, dpi=100, format="png")
    os.replace(tmp, path)
    return path


def _panels(history: dict) -> list:
    """[name]: the loss first, then each metric (not lr, not the val_* twins)."""
    names = [k for k in history if k not in ("lr", "loss") and not k.startswith("val_")]
    return (["loss"] if "loss" in history else []) + names


def history_figure(history: dict, title: str | None = None, validation_label: str = "validation",
                   epochs=None):
    """A matplotlib Figure of `history` (name -> one value per epoch, as History.history):
    a panel per quantity with titles, axis labels and legends. epochs: the epochs' numbers
    (counting from 1; default 1, 2, ...)."""
    if Figure is None:
        raise RuntimeError("history_figure needs matplotlib: pip install 'theon[plot]'")
    names = _panels(history)
    if not names:
        raise ValueError("history_figure: the history holds no loss or metric values")
    fig = Figure(figsize=(5.2 * len(names), 4.0), layout="constrained")
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        words = name.replace("_", " ")
        series = [(f"training {words}", history[name], TRAIN_COLOR)]
        if f"val_{name}" in history:
            series.append((f"{validation_label} {words}", history[f"val_{name}"], VALIDATION_COLOR))
        xs = list(epochs) if epochs is not None else list(range(1, len(history[name]) + 1))
        for label, values, color in series:
            ax.plot(xs, [float(v) for v in values], "o-", color=color, label=label, markersize=4)
        ax.set_title(words.capitalize())
        ax.set_xlabel("epoch")
        ax.set_ylabel(words)
        if len(xs) <= 12:
            ax.set_xticks(xs)  # every epoch (a locator would put fractions around a lone one)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if "acc" in name:
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def save_history_plot(history: dict, path, title: str | None = None, validation_label: str = "validation",
                      epochs=None) -> Path | None:
    """Draw `history_figure(...)` to the PNG `path` (replaced atomically); its Path, or None
    (after one logged warning) without matplotlib."""
    if Figure is None:
        _missing(path)
        return None
    return _save(history_figure(history, title, validation_label, epochs), path)


class TrainingCurves(CSVLogger):
    """A callback that, after each epoch, writes a row of `csv_path` (as CSVLogger, appending
    on a resumed run) and redraws `png_path` with every epoch so far. Without matplotlib it
    writes the CSV alone and says so once. Both paths are checked when fit starts."""

    def __init__(self, csv_path, png_path, title: str | None = None, validation_label: str = "validation",
                 append: bool = False):
        super().__init__(csv_path, append=append)
        self.png_path = Path(png_path)
        self.title, self.validation_label = title, validation_label
        if self.png_path.is_dir():
            raise ValueError(f"TrainingCurves: {self.png_path} is a directory; give the path of the PNG to write")

    def on_train_begin(self, logs=None):
        writable_file(self.png_path, "TrainingCurves")
        super().on_train_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if Figure is None:
            _missing(f"{self.png_path} (the values are in {self.path})")
            return
        past = self.model.history  # the run's History (a resumed run's too), without this epoch yet
        history = {k: list(v) for k, v in past.history.items()}
        epochs = [e + 1 for e in past.epoch]
        if not epochs or epochs[-1] != epoch + 1:
            epochs.append(epoch + 1)
            for k, v in (logs or {}).items():
                history.setdefault(k, []).append(v)
        full = {k: v for k, v in history.items() if len(v) == len(epochs)}
        save_history_plot(full, self.png_path, self.title, self.validation_label, epochs)


def tile_images(images, tile_shape, n: int | None = None, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """The columns of `images` (pixels, count) as a grid of `tile_shape` tiles, each scaled to
    [0, 1] on its own, with `pad` pixels of border: a float array (rows, cols). For an RBM's
    or a Dense layer's W (n_visible, n_hidden): one tile per hidden unit."""
    w = np.asarray(images, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != int(np.prod(tile_shape)):
        raise ValueError(f"tile_images: images must be (pixels, count) with pixels = "
                         f"{' x '.join(map(str, tile_shape))}, got shape {w.shape}")
    n = w.shape[1] if n is None else min(int(n), w.shape[1])
    cols = cols or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    th_, tw = tile_shape
    out = np.zeros((rows * (th_ + pad) + pad, cols * (tw + pad) + pad))
    for i in range(n):
        tile = w[:, i].reshape(tile_shape)
        lo, hi = tile.min(), tile.max()
        tile = (tile - lo) / (hi - lo) if hi > lo else np.zeros_like(tile)
        r, c = divmod(i, cols)
        top, left = pad + r * (th_ + pad), pad + c * (tw + pad)
        out[top:top + th_, left:left + tw] = tile
    return out


def save_filters(weights, path, tile_shape, n: int | None = None, title: str | None = None) -> Path | None:
    """Draw the first `n` columns of `weights` (pixels, units) as grey tiles (white: the
    unit's largest weight) under a title, to the PNG `path`; its Path, or None (after one
    logged warning) without matplotlib."""
    if Figure is None:
        _missing(path)
        return None
    count = np.shape(weights)[1]
    grid = tile_images(weights, tile_shape, n)
    shown = count if n is None else min(int(n), count)
    side = max(4.0, grid.shape[1] / 40)
    fig = Figure(figsize=(side, side * grid.shape[0] / grid.shape[1] + 0.6), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title or f"{shown} of {count} filters, each scaled to its own range")
    return _save(fig, path)
