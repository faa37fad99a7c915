"""What a trainer writes to disk: resumable training checkpoints.

A training checkpoint (`TrainingRun.save`, called through `model.save_checkpoint` by
callbacks.ModelCheckpoint) holds everything a resumed run needs to continue exactly as the
uninterrupted one: weights, optimiser state (slots, step counter, lr), every other shared
variable the step reads (RNG seeds and counters, an RBM's persistent chains), the epoch,
the DataLoader cursor, the history and the callbacks' own state. `fit(...,
resume_from=dir)` reads it (`TrainingRun.read`, which checks it fits this trainer before
anything changes) and applies it; on the CPU the loss curve is then bit-for-bit that of a
run never interrupted.

This module knows trainers only by their public attributes (params, optimizer,
train_function, get_config, get_compile_config), so it imports neither the model nor the
trainer.
"""
from __future__ import annotations

import numpy as np

from ..io import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["TrainingRun", "load_training_checkpoint", "CHECKPOINT_FORMAT", "group"]

CHECKPOINT_FORMAT = "theon-training"
_TENSOR_REF = "__tensor__"


def group(tensors: dict, prefix: str) -> dict:
    """The tensors whose names start with `prefix`, without it."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_training_checkpoint(directory):
    """(tensors, meta) of a checkpoint written by fit's ModelCheckpoint, checked to be one."""
    tensors, meta = load_checkpoint(directory)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{directory} holds a checkpoint, but not one of a training run "
                              f"(meta format {meta.get('format')!r}, expected {CHECKPOINT_FORMAT!r})")
    return tensors, meta


def _split_arrays(value, tensors: dict, prefix: str):
    """`value` (a callback's state) with each NumPy array moved into `tensors` and replaced by
    a reference to it."""
    if isinstance(value, np.ndarray):
        name = f"{prefix}{len([k for k in tensors if k.startswith(prefix)])}"
        tensors[name] = value
        return {_TENSOR_REF: name}
    if isinstance(value, dict):
        return {k: _split_arrays(v, tensors, prefix) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_split_arrays(v, tensors, prefix) for v in value]
    return value


def _join_arrays(value, tensors: dict, where: str):
    if isinstance(value, dict):
        if set(value) == {_TENSOR_REF}:
            name = value[_TENSOR_REF]
            if name not in tensors:
                raise CheckpointError(f"{where}: the callbacks' state names tensor {name!r}, which "
                                      f"the checkpoint does not hold")
            return tensors[name]
        return {k: _join_arrays(v, tensors, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_join_arrays(v, tensors, where) for v in value]
    return value


class TrainingRun:
    """One `fit` call's state beside the trainer's own: the data loader (its cursor), the
    history, the callbacks and fit's arguments, and the epochs completed."""

    def __init__(self, trainer, loader, history, callbacks, fit_args):
        self.trainer, self.loader = trainer, loader
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
        t = self.trainer
        known = {id(p) for p in t.params} | {id(s) for s in t.optimizer.state().values()}
        return [s for s in t.train_function.shared if id(s) not in known]

    def _callback_keys(self):
        counts, out = {}, []
        for cb in self.callbacks:
            name = type(cb).__name__
            counts[name] = counts.get(name, 0) + 1
            out.append((f"{name}_{counts[name]}", cb))
        return out

    def save(self, directory, meta: dict | None = None):
        """Write a resumable checkpoint of the run after `self.epoch` epochs."""
        t = self.trainer
        tensors = {f"model/{p.name}": p.get_value() for p in t.params}
        tensors.update({f"optimizer/{k}": s.get_value() for k, s in t.optimizer.state().items()})
        extra = self._extra_shared()
        tensors.update({f"state/{i}/{s.name}": s.get_value() for i, s in enumerate(extra)})
        cb_states = {}
        for key, cb in self._callback_keys():
            state = cb.get_state()
            if state is not None:
                cb_states[key] = _split_arrays(state, tensors, f"callbacks/{key}/")
        history, history_epochs = self._history()
        try:
            config = t.get_config()
        except (ValueError, TypeError, AttributeError):
            config = None  # a model with operators between layers: weights still load by name
        compiled = t.get_compile_config()
        record = {"format": CHECKPOINT_FORMAT, "version": 1, "epoch": self.epoch,
                  "model_config": config, "optimizer": compiled["optimizer"],
                  "loss": compiled.get("loss"), "metrics": compiled.get("metrics", []),
                  "loader": self.loader.state_dict(), "history": history,
                  "history_epochs": history_epochs, "fit": self.fit_args,
                  "state_names": [s.name for s in extra], "callbacks": cb_states,
                  "user": meta or {}}
        return save_checkpoint(directory, tensors, record)

    def read(self, directory) -> tuple:
        """(tensors, meta) of the checkpoint in `directory`, checked against this run's
        trainer (optimiser, step state, weights) before anything is changed."""
        tensors, meta = load_training_checkpoint(directory)
        t = self.trainer
        saved_opt, opt = meta["optimizer"]["name"], type(t.optimizer).__name__
        if saved_opt != opt:
            raise CheckpointError(f"{directory}: the checkpoint's optimizer is {saved_opt}, the model is "
                                  f"compiled with {opt}")
        names = [s.name for s in self._extra_shared()]
        if names != meta.get("state_names", []):
            raise CheckpointError(f"{directory}: the training step reads state {names} but the "
                                  f"checkpoint holds {meta.get('state_names', [])}: a different model?")
        mine, saved = self.loader.state_dict(), meta["loader"]
        for key in ("batch_size", "shuffle", "drop_last", "num_examples"):
            if key in saved and saved[key] != mine[key]:
                raise CheckpointError(f"{directory}: the run was trained with {key}={saved[key]!r}, this "
                                      f"fit has {mine[key]!r}; resuming would give different batches")
        weights = group(tensors, "model/")
        problems = [f"{p.name}: the checkpoint has "
                    f"{'none' if p.name not in weights else tuple(weights[p.name].shape)}, the model "
                    f"{tuple(p.type.shape)}" for p in t.params
                    if p.name not in weights or tuple(weights[p.name].shape) != tuple(p.type.shape)]
        if problems:
            raise CheckpointError(f"{directory}: the weights do not fit this model:\n  " + "\n  ".join(problems))
        for key, cb in self._callback_keys():
            if key in meta.get("callbacks", {}):
                meta["callbacks"][key] = _join_arrays(meta["callbacks"][key], tensors, str(directory))
        return tensors, meta

    def apply(self, tensors: dict, meta: dict) -> int:
        """Load what `read` returned into the trainer, loader, history and callbacks;
        return the number of epochs it had completed."""
        t = self.trainer
        weights = group(tensors, "model/")
        for p in t.params:
            p.set_value(np.asarray(weights[p.name]).astype(p.dtype, copy=False))
        t.optimizer.set_state(group(tensors, "optimizer/"))
        for i, s in enumerate(self._extra_shared()):
            s.set_value(tensors[f"state/{i}/{s.name}"])
        self.loader.load_state_dict(meta["loader"])
        self.history.history = {k: list(v) for k, v in meta["history"].items()}
        self.history.epoch = list(meta.get("history_epochs", []))
        for key, cb in self._callback_keys():
            if key in meta.get("callbacks", {}):
                cb.set_state(meta["callbacks"][key])
        self.epoch = int(meta["epoch"])
        return self.epoch
