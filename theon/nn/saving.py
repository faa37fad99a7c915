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

import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..io import CheckpointError, load_checkpoint, load_file, read_metadata, save_checkpoint, save_file
from . import layer as layer_mod

__all__ = ["TrainingRun", "load_training_checkpoint", "save_model_file", "read_model_file",
           "parameters_from", "CHECKPOINT_FORMAT", "MODEL_FORMAT", "group"]

CHECKPOINT_FORMAT = "theon-training"
MODEL_FORMAT = "theon-model"
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


# ---- whole-model files: model.save / th.nn.load_model ----------------------------------------

def save_model_file(path, config: dict, compile_config: dict | None, tensors: dict) -> Path:
    """Write one safetensors file: the tensors, and in its metadata the format, the model
    config and (when compiled) what compile was given, as JSON. Written to a temporary file
    and renamed, so `path` is never half-written."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"save: {path} is a directory; a model file is one file (e.g. model.safetensors)")
    metadata = {"format": MODEL_FORMAT, "version": "1", "config": json.dumps(config)}
    if compile_config is not None:
        metadata["compile"] = json.dumps(compile_config)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    try:
        save_file(tensors, tmp, metadata)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _json_field(metadata: dict, key: str, path) -> dict | None:
    if key not in metadata:
        return None
    try:
        value = json.loads(metadata[key])
    except ValueError as e:
        raise CheckpointError(f"{path}: the metadata field {key!r} is not valid JSON ({e})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: the metadata field {key!r} must hold a JSON object, got "
                              f"{type(value).__name__}")
    return value


def read_model_file(path) -> tuple:
    """(config, compile config or None, tensors) of a file written by model.save."""
    metadata = read_metadata(path)
    if metadata.get("format") != MODEL_FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a theon model (its metadata has no "
                              f"format {MODEL_FORMAT!r}); read its tensors with th.io.load_file")
    version = metadata.get("version", "")
    if not version.isdigit() or int(version) > 1:
        raise CheckpointError(f"{path}: model file version {version!r}; this theon reads version 1 (written "
                              f"by a newer theon?)")
    config = _json_field(metadata, "config", path)
    if config is None:
        raise CheckpointError(f"{path}: the metadata has no model 'config'")
    return config, _json_field(metadata, "compile", path), load_file(path)


def _text_bytes(n: int) -> str:
    for unit, size in (("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _fields_behind(layer, shape, have) -> str:
    """The layer's config fields that the wrong dims come from (units=..., filters=...)."""
    bad = [d for i, d in enumerate(shape) if have is None or i >= len(have.shape) or have.shape[i] != d]
    fields = [f"{k}={v}" for k, v in layer.get_config().items()
              if isinstance(v, int) and not isinstance(v, bool) and v > 0
              and any(d % v == 0 and d // v <= 8 for d in bad)]
    return f", field {', '.join(fields)}" if fields else ""


@contextmanager
def parameters_from(tensors: dict, where):
    """While a model is built from the config in `where`: each parameter must be one of the
    file's tensors, with its shape, which is checked before anything is allocated, so a
    config asking for 10**12 units fails with the file, layer and field named."""
    def check(layer, key, shape, dtype):
        name = f"{layer.name}/{key}"
        have = tensors.get(name)
        if have is not None and tuple(have.shape) == tuple(shape):
            return
        size = _text_bytes(int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize)
        held = (f"the file's {name!r} has shape {tuple(have.shape)}" if have is not None
                else f"the file holds no tensor {name!r}")
        raise CheckpointError(f"{where}: the model config asks layer {layer.name!r} ({type(layer).__name__}"
                              f"{_fields_behind(layer, shape, have)}) for a parameter {name!r} of shape "
                              f"{tuple(shape)} ({size}), but {held}; nothing was allocated")
    layer_mod.param_checks.append(check)
    try:
        yield
    finally:
        layer_mod.param_checks.remove(check)


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
