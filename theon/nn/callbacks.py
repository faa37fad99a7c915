"""Callbacks for `fit`: checkpoints, early stopping, CSV logs, learning-rate schedules, the
history and the progress display. Also reachable as `th.callbacks`.

The interface (all a callback may rely on; the loop's own objects are not part of it):

- `set_model(model)`, then `set_params(params)`, before training begins. `self.model` is the
  model (or RBM) being trained: its public methods (`get_weights`, `set_weights`,
  `optimizer`, `stop_training = True`, `save_checkpoint(directory, meta)`). `self.params`:
  epochs, steps (batches per epoch), initial_epoch, batch_size, samples, names (the logged
  quantities of a training step, e.g. ['loss', 'accuracy']), validation (bool).
- `on_train_begin(logs)`: when fit starts, before the first step and before a resumed
  run's state is restored. Check settings here, so a wrong path fails before anything
  trains or changes. `self.model.history` is the run's History (a resumed run's history
  restored into it before the first epoch ends); it records an epoch after every other
  callback has seen it.
- `on_epoch_begin(epoch, logs)`, `on_epoch_end(epoch, logs)`: epoch counts from 0; epoch
  logs are a dict of floats (the epoch's means, 'val_*' with validation data), which a
  callback may extend (LearningRateScheduler adds 'lr').
- `on_batch_end(batch, logs)`: batch is the step's index in its epoch; logs is a mapping of
  the running means of the epoch so far, 'batch_loss' (this step's loss) and 'size' (its
  examples). The means stay on the device until read: reading one waits for the device,
  so a callback that reads them every step slows every step; 'size' costs nothing.
- `on_train_end(logs)`: after the last epoch.
- `get_state()` / `set_state(state)`: what a resumed run needs to decide as the
  uninterrupted one would (EarlyStopping's patience count, the best value so far). The
  state is a dict of JSON values and NumPy arrays (arrays are stored as tensors in the
  checkpoint); None for none.
"""
from __future__ import annotations

import csv
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

try:
    from tqdm import tqdm
except ImportError:  # a runtime dependency, but a missing one should not stop training
    tqdm = None

__all__ = ["Callback", "History", "ModelCheckpoint", "EarlyStopping", "CSVLogger",
           "LearningRateScheduler", "ProgressDisplay", "format_logs"]


class Callback:
    """Base class: override the hooks you need."""

    model = None
    params: dict = {}
    # in a data-parallel fit only rank 0 runs it (it prints or writes files)
    rank_zero_only = False

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...

    def on_train_end(self, logs=None): ...

    def on_epoch_begin(self, epoch: int, logs=None): ...

    def on_epoch_end(self, epoch: int, logs=None): ...

    def on_batch_end(self, batch: int, logs=None): ...

    # ---- state that a checkpoint carries --------------------------------------------
    def get_state(self):
        """A dict of JSON values and NumPy arrays that a resumed run needs, or None."""
        return None

    def set_state(self, state) -> None:
        """Restore what get_state returned."""


class History(Callback):
    """Records each epoch's logs: `history[name]` is a list with one value per epoch,
    `epoch` the epochs' numbers. `fit` returns it (and keeps it as `model.history`)."""

    def __init__(self):
        self.history: dict = {}
        self.epoch: list = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


def _not_a_file(directory: Path, owner: str) -> None:
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{owner}: {directory} is a file, but a checkpoint is a directory (checkpoint.json "
                         f"and a weights file); give a directory path")


def _writable_directory(directory: Path, owner: str) -> None:
    """Make `directory` (and its parents) now, so that a path that cannot hold the output
    fails when fit starts, not after an epoch of training."""
    _not_a_file(directory, owner)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"{owner}: cannot create the directory {directory}: {e.strerror or e}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"{owner}: the directory {directory} is not writable")


def writable_file(path: Path, owner: str) -> None:
    if path.is_dir():
        raise ValueError(f"{owner}: {path} is a directory; give the path of the file to write")
    _writable_directory(path.parent, owner)
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{owner}: {path} is not writable")


def _mode(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    return "max" if any(k in monitor for k in ("acc", "auc", "precision", "recall")) else "min"


class _Monitor:
    """Tracks the best value of one logged quantity."""

    def __init__(self, monitor, mode, min_delta=0.0):
        self.monitor, self.mode, self.min_delta = monitor, _mode(monitor, mode), abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf
        self._warned = False

    def value(self, logs, owner):
        v = (logs or {}).get(self.monitor)
        if v is None and not self._warned:
            warnings.warn(f"{owner}: '{self.monitor}' is not in the logs (have: {', '.join(logs or {})}); "
                          "pass validation_data for val_* quantities", stacklevel=3)
            self._warned = True
        return v

    def improved(self, v) -> bool:
        if self.mode == "min":
            return v < self.best - self.min_delta
        return v > self.best + self.min_delta


class ModelCheckpoint(Callback):
    """Save a resumable checkpoint of the run to `directory` after each epoch (or only when
    `monitor` improved, with save_best_only). The directory always holds one checkpoint,
    replaced atomically; `fit(..., resume_from=directory)` continues from it, and
    `th.nn.load_model(directory)` loads the model alone. meta: extra JSON-able data stored
    with it (the `theon` command records its arguments there)."""

    rank_zero_only = True

    def __init__(self, directory, save_best_only: bool = False, monitor: str = "val_loss",
                 mode: str = "auto", meta: dict | None = None, verbose: int = 0):
        self.directory = Path(directory)
        self.save_best_only = bool(save_best_only)
        self.tracker = _Monitor(monitor, mode)
        self.meta = dict(meta or {})
        self.verbose = verbose
        self.last_saved_epoch = None
        _not_a_file(self.directory, "ModelCheckpoint")

    def on_train_begin(self, logs=None):
        _writable_directory(self.directory, "ModelCheckpoint")

    def on_epoch_end(self, epoch, logs=None):
        if self.save_best_only:
            v = self.tracker.value(logs, "ModelCheckpoint")
            if v is None or not self.tracker.improved(v):
                return
            self.tracker.best = v
        self.model.save_checkpoint(self.directory, self.meta)
        self.last_saved_epoch = epoch
        if self.verbose:
            print(f"saved checkpoint of epoch {epoch + 1} to {self.directory}", flush=True)

    def get_state(self):
        return {"best": self.tracker.best}

    def set_state(self, state):
        if state:
            self.tracker.best = state["best"]


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.
    restore_best_weights: when stopping, set the weights of the best epoch back."""

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = False):
        self.tracker = _Monitor(monitor, mode, min_delta)
        self.patience = int(patience)
        self.restore_best_weights = bool(restore_best_weights)
        self.wait = 0
        self.best_epoch = None
        self.stopped_epoch = None
        self.best_weights = None

    @property
    def monitor(self) -> str:
        return self.tracker.monitor

    def on_epoch_end(self, epoch, logs=None):
        v = self.tracker.value(logs, "EarlyStopping")
        if v is None:
            return
        if self.tracker.improved(v):
            self.tracker.best, self.best_epoch, self.wait = v, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    def get_state(self):
        return {"best": self.tracker.best, "wait": self.wait, "best_epoch": self.best_epoch,
                "best_weights": dict(self.best_weights) if self.best_weights else None}

    def set_state(self, state):
        if state:
            self.tracker.best, self.wait, self.best_epoch = state["best"], state["wait"], state["best_epoch"]
            self.best_weights = dict(state["best_weights"]) if state.get("best_weights") else None


class CSVLogger(Callback):
    """Write one row per epoch to `path`: 'epoch' (counting from 1) and every logged value.
    A resumed run (or append=True) adds rows to an existing file instead of replacing it."""

    rank_zero_only = True

    def __init__(self, path, separator: str = ",", append: bool = False):
        self.path = Path(path)
        self.separator = separator
        self.append = bool(append)
        self._file = self._writer = self._keys = None
        if self.path.is_dir():
            raise ValueError(f"{type(self).__name__}: {self.path} is a directory; give the path of the file to write")

    def on_train_begin(self, logs=None):
        writable_file(self.path, type(self).__name__)
        resuming = self.params.get("initial_epoch", 0) > 0
        existing = self.path.is_file() and self.path.stat().st_size > 0
        if (self.append or resuming) and existing:
            with open(self.path, newline="") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self._keys = header[1:] if header else None
            self._file = open(self.path, "a", newline="")
        else:
            self._file = open(self.path, "w", newline="")
            self._keys = None
        self._writer = csv.writer(self._file, delimiter=self.separator)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._keys is None:
            self._keys = list(logs)
            self._writer.writerow(["epoch", *self._keys])
        self._writer.writerow([epoch + 1, *(_csv_value(logs.get(k, "")) for k in self._keys)])
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None


def _csv_value(v):
    return repr(float(v)) if isinstance(v, (float, np.floating)) else v


class LearningRateScheduler(Callback):
    """Set the optimiser's base learning rate (`opt.lr`) at the start of each epoch to
    `schedule(epoch, lr)` (epoch counting from 0, lr the current rate). The rate is a
    shared variable, so changing it never recompiles. Adds 'lr' to the epoch logs."""

    def __init__(self, schedule, verbose: int = 0):
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        lr = float(opt.lr.get_value())
        new = float(self.schedule(epoch, lr))
        if not math.isfinite(new) or new < 0:
            raise ValueError(f"LearningRateScheduler: schedule({epoch}, {lr}) returned {new}")
        opt.lr.set_value(np.float32(new))
        if self.verbose:
            print(f"epoch {epoch + 1}: learning rate {new:.6g}", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = float(self.model.optimizer.lr.get_value())


def format_logs(logs: dict) -> str:
    return " - ".join(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}" for k, v in logs.items())


def verbosity(verbose, owner: str) -> int:
    """Keras's verbose as 0, 1 or 2 ('auto' is 1); anything else is an error naming `owner`."""
    verbose = int(verbose) if isinstance(verbose, bool) else verbose
    if verbose not in ("auto", 0, 1, 2):
        raise ValueError(f"{owner}: verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return 1 if verbose == "auto" else verbose


def is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class PassProgress:
    """What evaluate and predict show, Keras's verbose: 0 nothing; 1 a bar over the batches
    on a terminal (with tqdm; a pass of one batch has none) and then a line; 2 the line
    only: batches, time, time per batch and the results given to `end`."""

    def __init__(self, verbose, steps: int, owner: str, stream=None):
        self.verbose = verbosity(verbose, owner)
        self.steps, self.stream = int(steps), stream
        self._bar = None
        if not self.verbose:
            return               # predict is often called per sample: nothing more to do
        self._start = time.perf_counter()
        out = stream or sys.stdout
        if self.verbose == 1 and tqdm is not None and self.steps > 1 and is_terminal(out):
            self._bar = tqdm(total=self.steps, unit="batch", leave=False, file=out, dynamic_ncols=True)

    def step(self) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def end(self, logs: dict | None = None) -> None:
        if self._bar is not None:
            self._bar.close()
        if self.verbose:
            elapsed = time.perf_counter() - self._start
            per = 1e3 * elapsed / max(self.steps, 1)
            tail = f" - {format_logs(logs)}" if logs else ""
            print(f"{self.steps}/{self.steps} - {elapsed:.1f}s {per:.0f}ms/batch{tail}",
                  file=self.stream or sys.stdout, flush=True)


class ProgressDisplay(Callback):
    """What fit shows. verbose=1: on a terminal, a tqdm bar per epoch (running loss and
    metrics refreshed at most every `refresh_s`); when the output is not a terminal (a log
    file, a pipe) or tqdm is missing, a line at most every `interval_s` seconds of an epoch:
    step, share of the epoch, examples/s since the last line, and the running means. Those
    refreshes are the only reads of device values during an epoch. verbose=2: no progress
    within an epoch. Each epoch ends with a line: epoch, time, logs."""

    rank_zero_only = True

    def __init__(self, verbose: int = 1, stream=None, refresh_s: float = 0.5, interval_s: float = 5.0):
        if verbose not in (1, 2):
            raise ValueError(f"ProgressDisplay: verbose must be 1 (progress within epochs) or 2 (a line "
                             f"per epoch), got {verbose!r}")
        self.verbose = verbose
        self.stream = stream
        self.refresh_s = float(refresh_s)
        self.interval_s = float(interval_s)
        self._bar = None

    def _out(self):
        return self.stream or sys.stdout

    def _terminal(self) -> bool:
        return is_terminal(self._out())

    def _names(self):
        return self.params.get("names", ["loss"])

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._last = time.perf_counter()
        self._epoch, self._since_last = epoch, 0
        if self.verbose == 1 and tqdm is not None and self._terminal():
            self._bar = tqdm(total=self.params.get("steps"), desc=f"epoch {epoch + 1}/{self.params.get('epochs')}",
                             unit="step", leave=False, file=self._out(), dynamic_ncols=True)

    def on_batch_end(self, batch, logs=None):
        if self.verbose != 1 or logs is None:
            return
        self._since_last += logs["size"]  # known on the host: no wait for the device
        now = time.perf_counter()
        if self._bar is not None:
            self._bar.n = batch + 1  # a resumed epoch starts at its saved step
            self._bar.update(0)
            if now - self._last >= self.refresh_s:
                self._last = now
                self._bar.set_postfix_str(" ".join(f"{k} {logs[k]:.4f}" for k in self._names()), refresh=False)
        elif now - self._last >= self.interval_s:
            rate = self._since_last / max(now - self._last, 1e-9)
            steps = self.params.get("steps") or 0
            share = f" ({100 * (batch + 1) / steps:.0f}%)" if steps else ""
            running = " - ".join(f"{k}: {logs[k]:.4f}" for k in self._names())
            print(f"epoch {self._epoch_label()} - step {batch + 1}/{steps}{share} - {rate:,.0f} examples/s - "
                  f"{running}", file=self._out(), flush=True)
            self._last, self._since_last = now, 0

    def _epoch_label(self):
        return f"{self._epoch + 1}/{self.params.get('epochs')}"

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elapsed = time.perf_counter() - self._start
        print(f"epoch {epoch + 1}/{self.params.get('epochs')} - {elapsed:.1f}s - {format_logs(dict(logs or {}))}",
              file=self._out(), flush=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
