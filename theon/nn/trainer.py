"""The one training loop: `Trainer`, which `Model` and `RBM` inherit (and through Model, the
DBN's classifier).

A subclass describes one step symbolically, as in Keras 3; the Trainer compiles it into ONE
`th.function` and runs the loop around it:

- `train_step(x, y) -> (logs, updates)`: `logs` maps names to scalar variables, the batch's
  mean values ('loss' first for a supervised model); `updates` are the (shared, new value)
  pairs applied after the step: the optimiser's rules, BatchNorm's running statistics, an
  RBM's persistent chains. The default is the model in training mode, the compiled loss
  and metrics, `th.grad` over the trainable parameters and the optimiser's updates.
- `test_step(x, y) -> logs` (inference mode) and `predict_step(x) -> output`.

x and y are symbolic batches (`batch_inputs` makes them from the data); y is None for data
without targets (an RBM's). The step function compiles once per batch shape: a last,
smaller batch of an epoch costs one more compile (cached after it), so a whole run compiles
at most twice.

Outputs stay on the device (keep_on_device=True): a step returns the vector of its logs'
batch means, the epoch's example-weighted sums are accumulated on the device, and values
are read back only where something is shown (the progress display, each epoch's end), so a
GPU step never waits on the host. `model.save_checkpoint(directory)` writes a resumable
checkpoint of the fit in progress (`theon.nn.saving`).
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from .. import optim
from ..autodiff import grad
from ..backend.device import default_device, resolve_device
from ..compile import function
from ..data.loader import DataLoader
from ..distributed.training import DataParallel, is_writer
from ..graph import canonical_dtype
from ..ops.base import tensor
from ..ops.elementwise import cast
from ..ops.shape import stack
from . import callbacks as callbacks_mod
from . import losses as losses_mod
from . import metrics as metrics_mod
from .saving import TrainingRun

__all__ = ["Trainer", "BatchLogs"]


class BatchLogs(Mapping):
    """The logs handed to `on_batch_end`: each logged name as the running mean of the epoch
    so far, 'batch_loss' (this batch's loss, when a 'loss' is logged) and 'size' (examples in
    this batch). Values live on the device until read: reading one synchronises, so
    callbacks that do not read them cost the step nothing; 'size' is known on the host."""

    def __init__(self, names, batch_values, sums, seen, size):
        self._names, self._batch, self._sums, self._seen, self._size = names, batch_values, sums, seen, size
        self._keys = [*names, *(["batch_loss"] if "loss" in names else []), "size"]
        self._cache = None

    def _values(self) -> dict:
        if self._cache is None:
            values = dict(zip(self._names, (self._sums / self._seen).tolist()))
            if "loss" in self._names:
                values["batch_loss"] = float(self._batch[self._names.index("loss")])
            self._cache = values
        return self._cache

    def __getitem__(self, key):
        if key == "size":
            return self._size
        if key in self._keys:
            return self._values()[key]
        raise KeyError(key)

    def __iter__(self):
        return iter(self._keys)

    def __len__(self):
        return len(self._keys)


def _dispatch(cbs, hook, *args):
    for cb in cbs:
        getattr(cb, hook)(*args)


def _check_pair(x, y, what):
    if x.ndim == 0:
        raise ValueError(f"{what}: x must be an array of examples (N, ...), got a scalar")
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{what}: x holds {x.dtype} values; the model takes numbers (a numeric array)")
    if y is not None:
        if y.ndim == 0:
            raise ValueError(f"{what}: y must hold one target per example, got a scalar")
        if y.dtype.kind in "USO":
            raise ValueError(f"{what}: the labels y are {'strings' if y.dtype.kind in 'US' else 'objects'} "
                             f"(dtype {y.dtype}); give integer class indices, e.g. "
                             f"classes, y = np.unique(y, return_inverse=True)")
        if y.dtype.kind not in "biuf":
            raise ValueError(f"{what}: the targets y hold {y.dtype} values; give integer labels or floats")
        if len(x) != len(y):
            raise ValueError(f"{what}: x has {len(x)} examples but y has {len(y)}")
    if len(x) == 0:
        raise ValueError(f"{what}: no examples")


def _count(value, name: str, what: str, minimum: int = 1) -> int:
    """`value` as an int >= minimum, or a clear error (2.5 epochs is not 2)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{what}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class Trainer:
    """compile / fit / evaluate / predict around overridable symbolic steps.

    A subclass provides `params`, `trainable_params` and `updates` (the state updates
    recorded by its last training-mode call), `__call__(x, training)`, `get_weights` /
    `set_weights` and `get_config`; or overrides the steps that would use them.
    """

    optimizer = None
    loss = None
    metrics: list = []
    train_function = test_function = predict_function = None
    _cuda_graph = None  # compile's cuda_graph (predict runs without a compile)
    stop_training = False
    history = None
    _device = None
    _compiled = False
    _logged = None          # {function kind: the names of its logs}
    _target_spec = None     # (dtype, shape without the batch dim) of the targets trained on
    _run = None             # the TrainingRun of the fit in progress (or the last one)
    _parallel = None        # DataParallel settings when compiled with distributed=...

    # ---- configuration ------------------------------------------------------------------

    def compile(self, optimizer="sgd", loss="cross_entropy", metrics=None, device=None,
                distributed=False, cuda_graph=None):
        """Record the optimiser (instance, name or config), loss (name, loss object or
        fn(y_pred, y_true) -> per-example losses) and metrics (names or fns) for
        `fit`/`evaluate`. device: where the steps run ('cpu', 'cuda', 'cuda:N'; default
        THEON_DEVICE, else CUDA when present). distributed: True or a
        theon.distributed.DataParallel to train data-parallel over the processes that
        `theon.distributed.init()` joined (theon.distributed.training says what changes).
        cuda_graph: whether the steps on CUDA are recorded in CUDA graphs and replayed
        (th.function's cuda_graph; default THEON_CUDA_GRAPH).
        Compiling again discards the functions an earlier compile built."""
        parallel = DataParallel.of(distributed)
        self.optimizer = optim.get(optimizer)
        self.loss = None if loss is None else losses_mod.get(loss)
        self.metrics = [metrics_mod.get(m) for m in (metrics or [])]
        names = [metrics_mod.name_of(m) for m in self.metrics]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"compile: metric names must be unique and not 'loss', got {names}")
        self._device = resolve_device(device or default_device())
        self._cuda_graph = None if cuda_graph is None else bool(cuda_graph)
        self._parallel = parallel
        self._compiled = True
        self._reset_functions()
        return self

    def _reset_functions(self):
        self.train_function = self.test_function = self.predict_function = None
        self._logged, self._target_spec = {}, None
        self.stop_training = False

    @property
    def _distributed(self) -> bool:
        """Whether steps run data-parallel over several processes."""
        return self._parallel is not None and self._parallel.active

    def _require_compiled(self):
        if not self._compiled:
            raise RuntimeError(f"{type(self).__name__} {getattr(self, 'name', '')!r} is not compiled: call "
                               f"compile(optimizer=..., loss=..., metrics=...) first")

    def get_compile_config(self) -> dict:
        """What `compile` was given, JSON-able: {"optimizer", "loss", "metrics"}."""
        self._require_compiled()
        return {"optimizer": self.optimizer.get_config(),
                "loss": None if self.loss is None else losses_mod.serialize(self.loss),
                "metrics": [metrics_mod.name_of(m) for m in self.metrics]}

    @property
    def metrics_names(self) -> list:
        """The names the training step logs (known once the step is built)."""
        return list((self._logged or {}).get("train", []))

    # ---- the steps (override these) -------------------------------------------------------

    def compute_loss(self, y_pred, y):
        """The batch's mean loss (a scalar variable)."""
        if self.loss is None:
            raise ValueError(f"{type(self).__name__}: compile(loss=...) names no loss to train on")
        return self.loss(y_pred, y).mean()

    def compute_logs(self, y_pred, y) -> dict:
        """{'loss': the batch's mean loss, each metric: its batch mean}."""
        logs = {"loss": self.compute_loss(y_pred, y)}
        for m in self.metrics:
            logs[metrics_mod.name_of(m)] = m(y_pred, y).mean()
        return logs

    def train_step(self, x, y):
        """(logs, updates) of one training step on the symbolic batch (x, y)."""
        y_pred = self(x, training=True)
        state_updates = list(self.updates)
        logs = self.compute_logs(y_pred, y)
        params = list(self.trainable_params)
        grads = grad(logs["loss"], params) if params else []
        if self._distributed:
            grads = self._parallel.average_gradients(grads)
        updates = self.optimizer.updates(params, grads) if params else []
        taken = {id(s) for s, _ in updates}
        updates += [(s, v) for s, v in state_updates if id(s) not in taken]
        return logs, updates

    def test_step(self, x, y):
        """The logs of one evaluation step (inference mode)."""
        return self.compute_logs(self(x, training=False), y)

    def predict_step(self, x):
        """The output for a symbolic batch x (inference mode)."""
        return self(x, training=False)

    # ---- data --------------------------------------------------------------------------

    def input_array(self, x) -> np.ndarray:
        """x as the array the step takes (subclasses cast it to their input dtype)."""
        return np.asarray(x)

    def batch_inputs(self, x, y):
        """Fresh symbolic batches (x, y or None) for data like `x` and `y`."""
        xv = tensor("x", (None, *np.shape(x)[1:]), canonical_dtype(x.dtype))
        return xv, None if y is None else self._target_var(y)

    def _target_var(self, y):
        spec = (canonical_dtype(y.dtype), tuple(y.shape[1:]))
        if self._target_spec is None:
            self._target_spec = spec
        elif spec != self._target_spec:
            raise ValueError(f"targets of dtype {spec[0]} and shape (N, {spec[1]}) differ from the "
                             f"{self._target_spec[0]} (N, {self._target_spec[1]}) this model was "
                             f"trained with")
        return tensor("y", (None, *spec[1]), spec[0])

    def _prepare(self, x, y, what):
        y = None if y is None else np.asarray(y)
        x = np.asarray(x)
        _check_pair(x, y, what)  # before any cast: strings fail here, with their names
        return self.input_array(x), y

    # ---- the compiled steps --------------------------------------------------------------

    def _step_function(self, kind, logs, updates, inputs, name):
        if not isinstance(logs, dict) or not logs:
            raise TypeError(f"{type(self).__name__}.{kind}_step must return a non-empty dict of "
                            f"scalar variables as its logs, got {logs!r}")
        values = [v if v.dtype == "float64" else cast(v, "float64") for v in logs.values()]
        self._logged[kind] = list(logs)
        values = stack(values)
        if kind == "train" and self._distributed:
            values = self._parallel.average_logs(values)
        return function(inputs, values, updates=updates, device=self._device,
                        keep_on_device=True, name=name, cuda_graph=self._cuda_graph)

    def make_train_function(self, x, y=None):
        """The compiled training step for data like (x, y), built on the first call:
        f(xb, yb) -> the float64 vector of the step's logs (`metrics_names`)."""
        self._require_compiled()
        xv, yv = self.batch_inputs(x, y)
        if self.train_function is None:
            logs, updates = self.train_step(xv, yv)
            inputs = [xv] if yv is None else [xv, yv]
            self.train_function = self._step_function("train", logs, updates, inputs, "train_step")
        return self.train_function

    def make_test_function(self, x, y=None):
        self._require_compiled()
        xv, yv = self.batch_inputs(x, y)
        if self.test_function is None:
            inputs = [xv] if yv is None else [xv, yv]
            self.test_function = self._step_function("test", self.test_step(xv, yv), [], inputs, "test_step")
        return self.test_function

    def make_predict_function(self, x):
        if self.predict_function is None:
            xv, _ = self.batch_inputs(x, None)
            self.predict_function = function([xv], self.predict_step(xv), device=self._device,
                                             keep_on_device=True, name="predict_step",
                                             cuda_graph=self._cuda_graph)
        return self.predict_function

    # ---- the loop ----------------------------------------------------------------------

    def fit(self, x, y=None, epochs=1, batch_size=32, validation_data=None, callbacks=None, shuffle=True,
            seed=0, verbose="auto", initial_epoch=0, resume_from=None, validation_batch_size=256):
        """Train for epochs `initial_epoch` .. `epochs - 1` and return the History callback
        (`history.history`: lists of each logged value per epoch, and 'val_*' with
        validation_data).

        Batches come from a DataLoader shuffled with `seed` (epoch e in the order of (seed, e)).
        verbose: 'auto' or 1 (progress within each epoch: a bar on a terminal, else a line
        every few seconds; then a line per epoch), 2 (a line per epoch), 0 (nothing); see
        callbacks.ProgressDisplay. Callbacks check their settings (paths) when fit starts,
        before anything trains or a resumed state is restored. resume_from: a directory written by callbacks.ModelCheckpoint; the run
        continues after the epoch saved there, with every piece of state restored, and
        `epochs` is the total count, as with initial_epoch.
        """
        self._require_compiled()
        epochs = _count(epochs, "epochs", "fit")
        initial_epoch = _count(initial_epoch, "initial_epoch", "fit", 0)
        if resume_from is None and initial_epoch >= epochs:
            raise ValueError(f"fit: initial_epoch={initial_epoch} leaves nothing to train: epochs={epochs} is "
                             f"the total count, so it must be larger")
        batch_size = _count(batch_size, "batch_size", "fit")
        validation_batch_size = _count(validation_batch_size, "validation_batch_size", "fit")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"fit: seed must be an integer, got {seed!r}")
        x, y = self._prepare(x, y, "fit")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (1, 2):
                raise ValueError("fit: validation_data must be a pair (x, y) (or (x,) for data without "
                                 "targets)")
            vx, vy = (validation_data[0], None) if len(validation_data) == 1 else validation_data
            if (vy is None) != (y is None):
                raise ValueError(f"fit: validation_data {'has no' if vy is None else 'has'} targets, but the "
                                 f"training data {'has' if vy is None else 'has none'}")
            vx, vy = self._prepare(vx, vy, "fit validation_data")
        train = self.make_train_function(x, y)
        names = self._logged["train"]
        if self._distributed:
            loader = self._parallel.loader(x, y, batch_size, shuffle, seed)
        else:
            loader = DataLoader(x, y, batch_size, shuffle=shuffle, seed=seed, prefetch=2)
        history = callbacks_mod.History()
        cbs = self._callback_list(callbacks, verbose, history)
        if self._distributed:
            cbs = self._parallel.callbacks(cbs)
        fit_args = {"batch_size": int(batch_size), "shuffle": bool(shuffle), "seed": int(seed)}
        run = TrainingRun(self, loader, history, cbs, fit_args)
        saved = run.read(resume_from) if resume_from is not None else None
        if saved is not None:
            initial_epoch = int(saved[1]["epoch"])
            if initial_epoch >= epochs:
                raise ValueError(f"fit: {resume_from} has trained {initial_epoch} epoch(s) already; epochs="
                                 f"{epochs} is the total count, so pass more to train on")
        params = {"epochs": int(epochs), "steps": len(loader), "initial_epoch": int(initial_epoch),
                  "batch_size": int(batch_size), "samples": len(x), "names": names,
                  "validation": validation_data is not None}
        for cb in cbs:
            cb.set_model(self)
            cb.set_params(params)
        self._run, self.history, self.stop_training = run, history, False
        _dispatch(cbs, "on_train_begin", None)  # callbacks check their paths: nothing has changed yet
        if saved is not None:
            run.apply(*saved)
        else:
            loader.epoch, loader.position = int(initial_epoch), 0
            run.epoch = int(initial_epoch)
        if self._distributed:
            self._parallel.broadcast_state(self)
        try:
            for epoch in range(int(initial_epoch), int(epochs)):
                if loader.epoch != epoch:
                    loader.epoch, loader.position = epoch, 0
                _dispatch(cbs, "on_epoch_begin", epoch, None)
                sums = torch.zeros(len(names), dtype=torch.float64, device=self._device)
                seen = 0
                for step, (xb, yb) in enumerate(loader, start=loader.position):
                    values = train(xb) if yb is None else train(xb, yb)
                    n = self._parallel.global_count(len(xb)) if self._distributed else len(xb)
                    sums = torch.add(sums, values, alpha=n)  # new: earlier batch logs keep theirs
                    seen += n
                    _dispatch(cbs, "on_batch_end", step, BatchLogs(names, values, sums, seen, n))
                    if self.stop_training:
                        break
                logs = dict(zip(names, (sums / max(seen, 1)).tolist()))
                if validation_data is not None:
                    val = self.evaluate(vx, vy, batch_size=validation_batch_size)
                    logs.update({f"val_{k}": v for k, v in val.items()})
                run.epoch, run.current = epoch + 1, (epoch, logs)
                _dispatch(cbs, "on_epoch_end", epoch, logs)
                run.current = None
                if self.stop_training:
                    break
        finally:
            loader.close()
        _dispatch(cbs, "on_train_end", None)
        return history

    def _callback_list(self, user, verbose, history):
        verbose = callbacks_mod.verbosity(verbose, "fit")
        if user is not None and not isinstance(user, (list, tuple)):
            raise TypeError(f"fit: callbacks must be a list of theon.callbacks.Callback, got "
                            f"{type(user).__name__}")
        user = list(user or [])
        for i, cb in enumerate(user):
            if not isinstance(cb, callbacks_mod.Callback):
                raise TypeError(f"fit: callbacks[{i}] is {cb!r}, not a theon.callbacks.Callback (subclass "
                                f"it and override the hooks you need)")
        given = any(isinstance(cb, callbacks_mod.ProgressDisplay) for cb in user)  # placed by the caller
        progress = [callbacks_mod.ProgressDisplay(verbose)] if verbose and not given else []
        # History last, so it records what the others added to the logs (LearningRateScheduler's
        # 'lr'); a checkpoint saved before it ran takes the epoch's logs from the run
        return [*user, *progress, history]

    def save_checkpoint(self, directory, meta: dict | None = None):
        """Write a resumable checkpoint of the fit in progress (or the last one) to
        `directory`: what callbacks.ModelCheckpoint calls after an epoch. In a data-parallel
        fit only rank 0 writes (the others return None)."""
        if self._run is None:
            raise RuntimeError(f"{type(self).__name__}.save_checkpoint: no fit has run; a training "
                               f"checkpoint records a run (use save() for the model alone)")
        if self._distributed and not is_writer():
            return None   # data-parallel: the ranks hold the same state; rank 0 writes it
        return self._run.save(directory, meta)

    def evaluate(self, x, y=None, batch_size=256, verbose=0) -> dict:
        """{'loss': mean loss, metric name: mean value} over (x, y), in batches, in inference
        mode. The sums stay on the device until the end. verbose: as Keras's (0 quiet, the
        default; 1 or 'auto' a bar on a terminal and a line at the end; 2 the line)."""
        self._require_compiled()
        batch_size = _count(batch_size, "batch_size", "evaluate")
        x, y = self._prepare(x, y, "evaluate")
        progress = callbacks_mod.PassProgress(verbose, -(-len(x) // int(batch_size)), "evaluate")
        fn = self.make_test_function(x, y)
        names = self._logged["test"]
        sums = torch.zeros(len(names), dtype=torch.float64, device=self._device)
        for i in range(0, len(x), int(batch_size)):
            xb = x[i:i + batch_size]
            values = fn(xb) if y is None else fn(xb, y[i:i + batch_size])
            sums.add_(values, alpha=len(xb))
            progress.step()
        logs = dict(zip(names, (sums / len(x)).tolist()))
        progress.end(logs)
        return logs

    def predict(self, x, batch_size=256, verbose=0) -> np.ndarray:
        """The model's outputs for x (inference mode), batch by batch, as one NumPy array.

        A model of several inputs takes a dict by input name (or a list in input order) and is
        run in one call; a model of several outputs returns a list of arrays. verbose: as
        evaluate's (quiet by default: predict is often called per sample)."""
        if isinstance(x, Mapping) or len(getattr(self, "inputs", ())) > 1 or len(getattr(self, "outputs", ())) > 1:
            progress = callbacks_mod.PassProgress(verbose, 1, "predict")
            out = self._predict_named(x)
            progress.end()
            return out
        batch_size = _count(batch_size, "batch_size", "predict")
        x = np.asarray(x)
        _check_pair(x, None, "predict")
        x = self.input_array(x)
        progress = callbacks_mod.PassProgress(verbose, -(-len(x) // int(batch_size)), "predict")
        fn = self.make_predict_function(x)
        outs = []
        for i in range(0, len(x), int(batch_size)):
            outs.append(fn(x[i:i + batch_size]))
            progress.step()
        progress.end()
        return torch.cat(outs).cpu().numpy()

    def _predict_named(self, x):
        """predict for several inputs (by name or position) and/or outputs: one call."""
        names = [v.name for v in self.inputs]
        if isinstance(x, Mapping):
            missing = [n for n in names if n not in x]
            unknown = [k for k in x if k not in names]
            if missing or unknown:
                raise ValueError(f"predict: the model's inputs are {names}; "
                                 + (f"missing {missing}" if missing else "")
                                 + ("; " if missing and unknown else "")
                                 + (f"unknown {unknown}" if unknown else ""))
            values = [x[n] for n in names]
        else:
            values = list(x) if isinstance(x, (list, tuple)) else [x]
            if len(values) != len(names):
                raise ValueError(f"predict: the model takes {len(names)} inputs ({names}), got {len(values)}")
        args = []
        for v, value in zip(self.inputs, values):
            arr = np.asarray(value)
            args.append(arr if arr.dtype == np.dtype(v.dtype) else arr.astype(v.dtype))
        fn = getattr(self, "_predict_named_function", None)
        if fn is None:
            fn = function(list(self.inputs), list(self.outputs), name="predict_step")
            self._predict_named_function = fn
        outs = fn(*args)
        return list(outs) if len(self.outputs) > 1 else outs[0] if isinstance(outs, (list, tuple)) else outs
