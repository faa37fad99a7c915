"""Model.compile / fit / evaluate / predict, and whole-run training checkpoints.

`compile` only records the optimiser, loss and metrics. The first `fit` builds ONE
training-step `th.function` of (xb, yb): the model in training mode, the mean loss, its
gradients, the optimiser's update rules plus the layers' state updates (BatchNorm running
statistics), returning the batch's mean loss and a vector of sums [loss, metric...]. That
function compiles once per batch shape: a last, smaller batch of an epoch costs one more
compile (cached after it), so a whole run compiles at most twice. Evaluation and
prediction use separate functions built with training=False.

Outputs stay on the device (keep_on_device=True): the epoch's sums are accumulated there
and read back only where something is shown (the progress bar, at most every half second,
and each epoch's end), so a GPU step never waits on the host.

A checkpoint (`FitRun.save`, written by callbacks.ModelCheckpoint) holds everything a
resumed run needs to continue exactly as the uninterrupted one: weights, optimiser state
(slots, step counter, lr), every other shared variable the step reads (RNG seeds and
counters), the epoch, the DataLoader cursor, the history and the callbacks' own state.
`fit(..., resume_from=dir)` restores it; on the CPU the loss curve is then bit-for-bit that
of a run never interrupted.
"""
from __future__ import annotations

import sys
from collections.abc import Mapping

import numpy as np
import torch

from .. import optim
from ..backend.device import default_device, resolve_device
from ..compile import function
from ..data.loader import DataLoader
from ..graph import canonical_dtype
from ..io import CheckpointError, load_checkpoint, save_checkpoint
from ..ops.base import tensor
from ..ops.elementwise import cast
from ..ops.shape import stack
from . import losses as losses_mod
from . import metrics as metrics_mod

__all__ = ["compile", "fit", "evaluate", "predict", "load_model", "FitRun", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "theon-training"


def _input_var(model, x):
    """A fresh symbolic batch input matching the model's input (or, for a Sequential not
    built yet, the data's example shape)."""
    if len(getattr(model, "inputs", [])) > 1 or not getattr(model, "_single_output", True):
        raise ValueError("fit/evaluate/predict take models with one input and one output")
    if getattr(model, "inputs", None):
        v = model.inputs[0]
        return tensor("x", (None, *v.type.shape[1:]), v.dtype)
    return tensor("x", (None, *np.shape(x)[1:]), getattr(model, "dtype", "float32"))


class _Compiled:
    """What `compile` recorded, and the functions built from it (lazily, once)."""

    def __init__(self, model, optimizer, loss, metrics, device):
        self.model = model
        self.optimizer = optim.get(optimizer)
        self.loss_fn = losses_mod.get(loss)
        self.loss_name = losses_mod.name_of(self.loss_fn)
        self.metric_fns = [metrics_mod.get(m) for m in (metrics or [])]
        self.metric_names = [metrics_mod.name_of(m) for m in self.metric_fns]
        if len(set(self.metric_names)) != len(self.metric_names) or "loss" in self.metric_names:
            raise ValueError(f"compile: metric names must be unique and not 'loss', got {self.metric_names}")
        self.device = resolve_device(device or default_device())
        self.train_fn = self.eval_fn = self.predict_fn = None
        self._y_spec = None

    @property
    def names(self) -> list:
        return ["loss", *self.metric_names]

    def _sums(self, out, y):
        per_example = self.loss_fn(out, y)
        values = [per_example.sum()] + [m(out, y).sum() for m in self.metric_fns]
        return per_example.mean(), stack([cast(v, "float64") for v in values])

    def _check_y(self, y):
        spec = (canonical_dtype(y.dtype), tuple(y.shape[1:]))
        if self._y_spec is None:
            self._y_spec = spec
        elif spec != self._y_spec:
            raise ValueError(f"targets of dtype {spec[0]} and shape (N, {spec[1]}) differ from the "
                             f"{self._y_spec[0]} (N, {self._y_spec[1]}) this model was trained with")
        return tensor("y", (None, *spec[1]), spec[0])

    def train_function(self, x, y):
        """The one training-step function (built on the first call)."""
        yv = self._check_y(y)
        if self.train_fn is None:
            xv = _input_var(self.model, x)
            out = self.model(xv, training=True)
            state_updates = list(getattr(self.model, "updates", []))
            loss, sums = self._sums(out, yv)
            params = list(self.model.trainable_params)
            updates = []
            if params:
                from ..autodiff import grad
                updates = self.optimizer.updates(params, grad(loss, params))
            taken = {id(s) for s, _ in updates}
            updates += [(s, v) for s, v in state_updates if id(s) not in taken]
            self.train_fn = function([xv, yv], [loss, sums], updates=updates, device=self.device,
                                     keep_on_device=True, name="train_step")
            self.model.train_function = self.train_fn
        return self.train_fn

    def eval_function(self, x, y):
        yv = self._check_y(y)
        if self.eval_fn is None:
            xv = _input_var(self.model, x)
            _, sums = self._sums(self.model(xv, training=False), yv)
            self.eval_fn = function([xv, yv], sums, device=self.device, keep_on_device=True,
                                    name="test_step")
            self.model.test_function = self.eval_fn
        return self.eval_fn


def _predict_function(model, x, device=None):
    fn = getattr(model, "predict_function", None)
    if fn is None:
        compiled = getattr(model, "_compiled", None)
        device = device or (compiled.device if compiled else None)
        xv = _input_var(model, x)
        fn = function([xv], model(xv, training=False), device=device, keep_on_device=True,
                      name="predict_step")
        model.predict_function = fn
    return fn


def _predict_named(model, x):
    """predict for several inputs (by name or position) and/or outputs: one call."""
    names = [v.name for v in model.inputs]
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
    for v, value in zip(model.inputs, values):
        arr = np.asarray(value)
        args.append(arr if arr.dtype == np.dtype(v.dtype) else arr.astype(v.dtype))
    fn = getattr(model, "_predict_named_function", None)
    if fn is None:
        fn = function(list(model.inputs), list(model.outputs), name="predict_step")
        model._predict_named_function = fn
    outs = fn(*args)
    return list(outs) if len(model.outputs) > 1 else outs[0] if isinstance(outs, (list, tuple)) else outs


def compile(model, optimizer="sgd", loss="cross_entropy", metrics=None, device=None):
    """Record the optimiser (instance, name or config), loss (name or fn(y_pred, y_true) ->
    per-example losses) and metrics (names or fns) for `fit`/`evaluate`. device: where the
    step runs ('cpu', 'cuda', 'cuda:N'; default THEON_DEVICE, else CUDA when present).
    Compiling again discards the functions built by an earlier compile."""
    compiled = _Compiled(model, optimizer, loss, metrics, device)
    model._compiled = compiled
    model.optimizer = compiled.optimizer
    model.train_function = model.test_function = model.predict_function = None
    model.stop_training = False
    return model


def _require_compiled(model) -> _Compiled:
    compiled = getattr(model, "_compiled", None)
    if compiled is None:
        raise RuntimeError(f"model {getattr(model, 'name', model)!r} is not compiled: call "
                           f"model.compile(optimizer=..., loss=..., metrics=...) first")
    return compiled


def _as_input(model, x):
    dtype = model.inputs[0].dtype if getattr(model, "inputs", None) else getattr(model, "dtype", "float32")
    x = np.asarray(x)
    return x if x.dtype == np.dtype(dtype) else x.astype(dtype)


def _check_pair(x, y, what):
    if len(x) != len(y):
        raise ValueError(f"{what}: x has {len(x)} examples but y has {len(y)}")
    if len(x) == 0:
        raise ValueError(f"{what}: no examples")


class BatchLogs(Mapping):
    """The logs handed to `on_batch_end`: 'loss' and each metric as the running mean of the
    epoch so far, 'batch_loss' (this batch's mean loss), 'size' (examples in this batch).
    Values live on the device until read: reading one synchronises, so callbacks that do
    not read them cost the step nothing."""

    def __init__(self, names, batch_loss, sums, seen, size):
        self._names, self._batch_loss, self._seen, self._size = names, batch_loss, seen, size
        self._sums = sums
        self._cache = None

    def _values(self) -> dict:
        if self._cache is None:
            means = (self._sums / self._seen).tolist()
            self._cache = {**dict(zip(self._names, means)), "batch_loss": float(self._batch_loss),
                           "size": self._size}
        return self._cache

    def __getitem__(self, key):
        if key in ("loss", "batch_loss", "size") or key in self._names:
            return self._values()[key]
        raise KeyError(key)

    def __iter__(self):
        return iter([*self._names, "batch_loss", "size"])

    def __len__(self):
        return len(self._names) + 2


class FitRun:
    """One `fit` call's state, given to callbacks as `callback.run`: the loader (its cursor),
    the history, the callbacks, and `save(directory)` for a resumable checkpoint."""

    def __init__(self, model, compiled, loader, history, callbacks, fit_args):
        self.model, self.compiled, self.loader = model, compiled, loader
        self.history, self.callbacks, self.fit_args = history, callbacks, fit_args
        self.epoch = 0  # epochs completed
        self.current = None  # (epoch, logs) while on_epoch_end is dispatched

    def _history(self):
        """The history including the epoch being finished (History may not have run yet)."""
        hist = {k: list(v) for k, v in self.history.history.items()}
        epochs = list(self.history.epoch)
        if self.current is not None and (not epochs or epochs[-1] != self.current[0]):
            epochs.append(self.current[0])
            for k, v in self.current[1].items():
                hist.setdefault(k, []).append(v)
        return hist, epochs

    def _extra_shared(self):
        """Shared variables the step reads besides weights and optimiser state: RNG seeds
        and counters (and any other state a layer keeps), in the step's stable order."""
        known = {id(p) for p in self.model.params} | {id(s) for s in self.compiled.optimizer.state().values()}
        return [s for s in self.compiled.train_fn.shared if id(s) not in known]

    def _callback_keys(self):
        counts, out = {}, []
        for cb in self.callbacks:
            name = type(cb).__name__
            counts[name] = counts.get(name, 0) + 1
            out.append((f"{name}_{counts[name]}", cb))
        return out

    def save(self, directory, meta: dict | None = None):
        """Write a resumable checkpoint of the run after `self.epoch` epochs."""
        tensors = {f"model/{p.name}": p.get_value() for p in self.model.params}
        tensors.update({f"optimizer/{k}": s.get_value() for k, s in self.compiled.optimizer.state().items()})
        extra = self._extra_shared()
        tensors.update({f"state/{i}/{s.name}": s.get_value() for i, s in enumerate(extra)})
        cb_states = {}
        for key, cb in self._callback_keys():
            state = cb.get_state()
            if state is not None:
                cb_states[key] = state
            tensors.update({f"callbacks/{key}/{k}": np.asarray(v) for k, v in cb.get_tensors().items()})
        history, history_epochs = self._history()
        try:
            config = self.model.get_config()
        except (ValueError, TypeError, AttributeError):
            config = None  # a model with operators between layers: weights still load by name
        meta = {"format": CHECKPOINT_FORMAT, "version": 1, "epoch": self.epoch,
                "model_config": config, "optimizer": self.compiled.optimizer.get_config(),
                "loss": self.compiled.loss_name, "metrics": self.compiled.metric_names,
                "loader": self.loader.state_dict(), "history": history,
                "history_epochs": history_epochs, "fit": self.fit_args,
                "state_names": [s.name for s in extra], "callbacks": cb_states,
                "user": meta or {}}
        return save_checkpoint(directory, tensors, meta)

    def restore(self, directory) -> int:
        """Load the checkpoint in `directory` into the model, optimiser, RNG states, loader,
        history and callbacks; return the number of epochs it had completed."""
        tensors, meta = load_training_checkpoint(directory)
        opt = self.compiled.optimizer
        if meta["optimizer"]["name"] != type(opt).__name__:
            raise CheckpointError(f"{directory}: the checkpoint's optimizer is {meta['optimizer']['name']}, "
                                  f"the model is compiled with {type(opt).__name__}")
        self.model.set_weights(_group(tensors, "model/"))
        opt.set_state(_group(tensors, "optimizer/"))
        extra = self._extra_shared()
        saved = meta.get("state_names", [])
        if [s.name for s in extra] != saved:
            raise CheckpointError(f"{directory}: the training step reads state {[s.name for s in extra]} "
                                  f"but the checkpoint holds {saved}: a different model?")
        for i, s in enumerate(extra):
            s.set_value(tensors[f"state/{i}/{s.name}"])
        self.loader.load_state_dict(meta["loader"])
        self.history.history = {k: list(v) for k, v in meta["history"].items()}
        self.history.epoch = list(meta.get("history_epochs", []))
        for key, cb in self._callback_keys():
            if key in meta.get("callbacks", {}) or any(k.startswith(f"callbacks/{key}/") for k in tensors):
                cb.set_state(meta.get("callbacks", {}).get(key), _group(tensors, f"callbacks/{key}/"))
        self.epoch = int(meta["epoch"])
        return self.epoch


def _group(tensors: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_training_checkpoint(directory):
    """(tensors, meta) of a checkpoint written by fit's ModelCheckpoint, checked to be one."""
    tensors, meta = load_checkpoint(directory)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{directory} holds a checkpoint, but not one of a training run "
                              f"(meta format {meta.get('format')!r}, expected {CHECKPOINT_FORMAT!r})")
    return tensors, meta


def load_model(directory, compile_model: bool = True, device=None):
    """The model saved in a training checkpoint: rebuilt from its config, with its weights,
    and compiled with the run's optimiser (fresh state), loss and metrics."""
    from .model import model_from_config
    tensors, meta = load_training_checkpoint(directory)
    if meta.get("model_config") is None:
        raise CheckpointError(f"{directory}: the model has no config (operators between layers?); build "
                              f"it in code and call model.set_weights from the checkpoint's tensors")
    model = model_from_config(meta["model_config"])
    model.set_weights(_group(tensors, "model/"))
    if compile_model:
        compile(model, optim.get(meta["optimizer"]), meta["loss"], meta["metrics"], device=device)
    return model


def _callback_list(model, user, verbose, history):
    from .. import callbacks as cbm
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    user = list(user or [])
    given = any(isinstance(cb, cbm.ProgressDisplay) for cb in user)  # placed by the caller
    progress = [cbm.ProgressDisplay(verbose)] if verbose and not given else []
    # History last, so it records what the others added to the logs (LearningRateScheduler's
    # 'lr'); a checkpoint saved before it ran takes the epoch's logs from FitRun.current
    return [*user, *progress, history]


def fit(model, x, y, epochs=1, batch_size=32, validation_data=None, callbacks=None, shuffle=True,
        seed=0, verbose="auto", initial_epoch=0, resume_from=None, validation_batch_size=256):
    """Train for epochs `initial_epoch` .. `epochs - 1` and return the History callback
    (`history.history`: lists of 'loss', each metric, and 'val_*' with validation_data).

    Batches come from a DataLoader shuffled with `seed` (epoch e in the order of (seed, e)).
    verbose: 'auto' (a progress bar on a terminal, else one line per epoch), 0, 1 (bar) or
    2 (lines). resume_from: a directory written by callbacks.ModelCheckpoint; the run
    continues after the epoch saved there, with every piece of state restored, and
    `epochs` is the total count, as with initial_epoch.
    """
    from .. import callbacks as cbm
    compiled = _require_compiled(model)
    x, y = _as_input(model, x), np.asarray(y)
    _check_pair(x, y, "fit")
    if validation_data is not None:
        vx, vy = validation_data[:2]
        vx, vy = _as_input(model, vx), np.asarray(vy)
        _check_pair(vx, vy, "fit validation_data")
    loader = DataLoader(x, y, batch_size, shuffle=shuffle, seed=seed, prefetch=2)
    train = compiled.train_function(x, y)
    history = cbm.History()
    cbs = _callback_list(model, callbacks, verbose, history)
    fit_args = {"batch_size": int(batch_size), "shuffle": bool(shuffle), "seed": int(seed)}
    run = FitRun(model, compiled, loader, history, cbs, fit_args)
    if resume_from is not None:
        initial_epoch = run.restore(resume_from)
    else:
        loader.epoch, loader.position = int(initial_epoch), 0
        run.epoch = int(initial_epoch)
    params = {"epochs": int(epochs), "steps": len(loader), "initial_epoch": int(initial_epoch),
              "batch_size": int(batch_size), "samples": len(x), "names": compiled.names,
              "validation": validation_data is not None}
    for cb in cbs:
        cb.set_model(model)
        cb.set_params(params)
        cb.run = run
    model.stop_training = False
    names, device = compiled.names, compiled.device
    _dispatch(cbs, "on_train_begin", None)
    try:
        for epoch in range(int(initial_epoch), int(epochs)):
            if loader.epoch != epoch:
                loader.epoch, loader.position = epoch, 0
            _dispatch(cbs, "on_epoch_begin", epoch, None)
            acc = torch.zeros(len(names), dtype=torch.float64, device=device)
            seen = 0
            for step, (xb, yb) in enumerate(loader, start=loader.position):
                loss, sums = train(xb, yb)
                acc = acc + sums  # a new tensor: the batch's logs keep this step's sums
                seen += len(xb)
                logs = BatchLogs(names, loss, acc, seen, len(xb))
                _dispatch(cbs, "on_batch_end", step, logs)
                if model.stop_training:
                    break
            logs = dict(zip(names, (acc / max(seen, 1)).tolist()))
            if validation_data is not None:
                val = evaluate(model, vx, vy, batch_size=validation_batch_size)
                logs.update({f"val_{k}": v for k, v in val.items()})
            run.epoch, run.current = epoch + 1, (epoch, logs)
            _dispatch(cbs, "on_epoch_end", epoch, logs)
            run.current = None
            if model.stop_training:
                break
    finally:
        loader.close()
    _dispatch(cbs, "on_train_end", None)
    return history


def _dispatch(cbs, hook, *args):
    for cb in cbs:
        getattr(cb, hook)(*args)


def evaluate(model, x, y, batch_size=256) -> dict:
    """{'loss': mean loss, metric name: mean value} over (x, y), in batches, in inference
    mode. The sums stay on the device until the end."""
    compiled = _require_compiled(model)
    x, y = _as_input(model, x), np.asarray(y)
    _check_pair(x, y, "evaluate")
    fn = compiled.eval_function(x, y)
    acc = torch.zeros(len(compiled.names), dtype=torch.float64, device=compiled.device)
    for i in range(0, len(x), int(batch_size)):
        acc += fn(x[i:i + batch_size], y[i:i + batch_size])
    return dict(zip(compiled.names, (acc / len(x)).tolist()))


def predict(model, x, batch_size=256) -> np.ndarray:
    """The model's outputs for x (inference mode), batch by batch, as one NumPy array.

    A model of several inputs takes a dict by input name (or a list in input order) and is
    run in one call; a model of several outputs returns a list of arrays."""
    if isinstance(x, Mapping) or len(getattr(model, "inputs", ())) > 1 or len(getattr(model, "outputs", ())) > 1:
        return _predict_named(model, x)
    x = _as_input(model, x)
    if len(x) == 0:
        raise ValueError("predict: no examples")
    fn = _predict_function(model, x)
    outs = [fn(x[i:i + batch_size]) for i in range(0, len(x), int(batch_size))]
    return torch.cat(outs).cpu().numpy()
