"""Losses for Model.compile: fn(y_pred, y_true) -> one loss per example (shape (N,)).

Two families of names, each meaning what it means where it comes from:

- theon's (torch's) names take raw outputs, logits: "cross_entropy" (softmax over the class
  axis, integer labels or probabilities; `th.nn.cross_entropy`'s axis rule),
  "binary_cross_entropy" (sigmoid), "mse", "mae".
- Keras' names take probabilities by default, as in Keras: "categorical_crossentropy"
  (targets one-hot or probabilities shaped like the predictions), "sparse_categorical_
  crossentropy" (integer labels), "binary_crossentropy"; classes are on the last axis. The
  loss objects take logits with from_logits=True:
  `CategoricalCrossentropy(from_logits=True)`, `SparseCategoricalCrossentropy(...)`,
  `BinaryCrossentropy(...)`.

Given the output of a softmax (or sigmoid), a probability loss computes from the logits
under it, with the same stable fused kernel as from_logits; other probabilities are
normalised and clipped to [1e-7, 1 - 1e-7], as Keras does. A loss that expects logits warns
when it is given a softmax or sigmoid output, which it would squash twice.

Losses with more than one value per example (spatial or per-time-step cross entropy,
multi-output regression) are averaged over every axis but the first, so the caller weights
and averages examples the same way for all of them; positions an `ignore_index` skips do
not count in that average.
"""
from __future__ import annotations

import warnings

from ..ops import elementwise as ew
from ..ops.base import as_variable
from ..ops.dims import dim
from ..ops.index import take_along_axis
from ..ops.nn_loss import Softmax, binary_cross_entropy_with_logits, class_axis
from ..ops.nn_loss import cross_entropy as _cross_entropy
from ..ops.shape import expand_dims
from .layer import LayerOutput

EPSILON = 1e-7  # Keras' clip of probabilities away from 0 and 1


def per_example(loss, counted=None):
    """Mean over every axis but the first (the batch axis); with `counted` (1 where a position
    counts, 0 where ignored), the mean over the counted positions (0 where none count)."""
    if loss.ndim <= 1:
        return loss
    axes = tuple(range(1, loss.ndim))
    if counted is None:
        return loss.mean(axis=axes)
    return loss.sum(axis=axes) / ew.maximum(counted.sum(axis=axes), 1.0)


def _producer(v):
    """The op that made `v`, looking through a layer's output tag."""
    while v.owner is not None and isinstance(v.owner.op, LayerOutput):
        v = v.owner.inputs[0]
    return (v.owner.op, v.owner.inputs[0]) if v.owner is not None else (None, None)


def softmax_logits(y_pred, axis: int):
    """The logits under `y_pred` when it is a softmax over `axis`, else None."""
    op, logits = _producer(as_variable(y_pred))
    if isinstance(op, Softmax) and op.axis == axis % y_pred.ndim:
        return logits
    return None


def sigmoid_logits(y_pred):
    """The logits under `y_pred` when it is a sigmoid, else None."""
    op, logits = _producer(as_variable(y_pred))
    return logits if isinstance(op, ew.sigmoid.op) else None


def _warn_squashed(name, y_pred, axis):
    y_pred = as_variable(y_pred)
    if y_pred.ndim and softmax_logits(y_pred, axis) is not None:
        warnings.warn(f"loss {name!r} expects logits, but the predictions are a softmax output, which it "
                      f"would pass through a softmax again; drop the model's softmax, or use a loss that "
                      f"takes probabilities ('sparse_categorical_crossentropy', 'categorical_crossentropy')",
                      stacklevel=3)
    elif sigmoid_logits(y_pred) is not None:
        warnings.warn(f"loss {name!r} expects logits, but the predictions are a sigmoid output, which it "
                      f"would pass through a sigmoid again; drop the model's sigmoid, or use "
                      f"'binary_crossentropy' (probabilities)", stacklevel=3)


def _aligned(y_pred, y_true):
    """y_true cast to y_pred's float dtype, and a (N, 1) prediction matched to (N,) targets."""
    y_pred, y_true = as_variable(y_pred), as_variable(y_true)
    if y_pred.ndim == y_true.ndim + 1 and y_pred.type.shape[-1] == 1:
        y_pred = y_pred.squeeze(axis=-1)
    if y_true.dtype != y_pred.dtype:
        y_true = ew.cast(y_true, y_pred.dtype)
    return y_pred, y_true


def _counted(labels, ignore_index, dtype):
    return None if ignore_index is None else ew.cast(ew.not_equal(labels, ignore_index), dtype)


# ---- theon's names: logits ---------------------------------------------------------------

def cross_entropy(y_pred, y_true, label_smoothing: float = 0.0, axis=None, ignore_index=None, weight=None):
    """Softmax cross entropy of logits against integer labels or class probabilities (the
    class axis by th.nn.cross_entropy's rule, or `axis`), per example."""
    y_pred, y_true = as_variable(y_pred), as_variable(y_true)
    _warn_squashed("cross_entropy", y_pred, class_axis(y_pred, y_true, axis))
    loss = _cross_entropy(y_pred, y_true, label_smoothing=label_smoothing, reduction="none", axis=axis,
                          ignore_index=ignore_index, weight=weight)
    return per_example(loss, _counted(y_true, ignore_index, loss.dtype))


def binary_cross_entropy(y_pred, y_true):
    """Sigmoid cross entropy of logits against 0/1 (or probability) targets."""
    _warn_squashed("binary_cross_entropy", y_pred, -1)
    y_pred, y_true = _aligned(y_pred, y_true)
    return per_example(binary_cross_entropy_with_logits(y_pred, y_true, reduction="none"))


def mse(y_pred, y_true):
    """Mean squared error per example."""
    y_pred, y_true = _aligned(y_pred, y_true)
    return per_example(ew.square(y_pred - y_true))


def mae(y_pred, y_true):
    """Mean absolute error per example."""
    y_pred, y_true = _aligned(y_pred, y_true)
    return per_example(ew.abs(y_pred - y_true))


# ---- Keras' names: probabilities unless from_logits ------------------------------------------

class Loss:
    """A configured loss: callable as fn(y_pred, y_true) -> per-example losses, with a
    `name` (logged and checkpointed) and a JSON-able `get_config()`."""

    name = "loss"

    def get_config(self) -> dict:
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _log_probabilities(y_pred, axis):
    """log of y_pred normalised along `axis` and clipped away from 0 and 1 (Keras)."""
    p = y_pred / y_pred.sum(axis=axis, keepdims=True)
    return ew.log(ew.clip(p, EPSILON, 1.0 - EPSILON))


class CategoricalCrossentropy(Loss):
    """Keras' categorical cross entropy: targets one-hot (or probabilities) shaped like the
    predictions, classes along `axis` (last by default); predictions are probabilities
    unless from_logits. label_smoothing mixes the targets with the uniform distribution."""

    name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1):
        self.from_logits, self.label_smoothing, self.axis = bool(from_logits), float(label_smoothing), int(axis)

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing, "axis": self.axis}

    def __call__(self, y_pred, y_true):
        y_pred, y_true = as_variable(y_pred), as_variable(y_true)
        if y_true.ndim != y_pred.ndim:
            raise ValueError(f"{self.name} takes one-hot targets shaped like the predictions "
                             f"{y_pred.type.shape}, got targets of shape {y_true.type.shape}; for "
                             f"integer labels use 'sparse_categorical_crossentropy'")
        y_true = y_true if y_true.dtype == y_pred.dtype else ew.cast(y_true, y_pred.dtype)
        logits = y_pred if self.from_logits else softmax_logits(y_pred, self.axis)
        if self.from_logits:
            _warn_squashed(self.name, y_pred, self.axis)
        if logits is not None:
            return per_example(_cross_entropy(logits, y_true, label_smoothing=self.label_smoothing,
                                              axis=self.axis))
        if self.label_smoothing:
            classes = dim(y_pred, self.axis % y_pred.ndim)
            classes = classes if isinstance(classes, int) else classes.astype(y_pred.dtype)
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / classes
        return per_example(-(y_true * _log_probabilities(y_pred, self.axis)).sum(axis=self.axis))


class SparseCategoricalCrossentropy(Loss):
    """Keras' sparse categorical cross entropy: integer labels, classes along `axis` (last
    by default); predictions are probabilities unless from_logits. ignore_class: a label
    whose positions count nothing."""

    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None, axis: int = -1):
        self.from_logits, self.axis = bool(from_logits), int(axis)
        self.ignore_class = None if ignore_class is None else int(ignore_class)

    def get_config(self):
        return {"from_logits": self.from_logits, "ignore_class": self.ignore_class, "axis": self.axis}

    def __call__(self, y_pred, y_true):
        y_pred, y_true = as_variable(y_pred), as_variable(y_true)
        if y_true.ndim == y_pred.ndim and y_true.type.shape[-1] == 1 and y_pred.type.shape[-1] != 1:
            y_true = y_true.squeeze(axis=-1)  # Keras accepts labels (N, 1)
        if y_true.dtype.startswith("float"):
            y_true = ew.cast(y_true, "int64")
        logits = y_pred if self.from_logits else softmax_logits(y_pred, self.axis)
        if self.from_logits:
            _warn_squashed(self.name, y_pred, self.axis)
        if logits is not None:
            loss = _cross_entropy(logits, y_true, axis=self.axis, ignore_index=self.ignore_class)
            return per_example(loss, _counted(y_true, self.ignore_class, loss.dtype))
        axis = self.axis % y_pred.ndim
        counted = _counted(y_true, self.ignore_class, y_pred.dtype)
        labels = y_true if counted is None else ew.where(ew.not_equal(y_true, self.ignore_class), y_true, 0)
        picked = take_along_axis(_log_probabilities(y_pred, axis), expand_dims(labels, axis), axis=axis)
        loss = -picked.squeeze(axis=axis)
        return per_example(loss if counted is None else loss * counted, counted)


class BinaryCrossentropy(Loss):
    """Keras' binary cross entropy against 0/1 (or probability) targets, averaged over the
    last axis; predictions are probabilities unless from_logits. label_smoothing pulls the
    targets toward 0.5."""

    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        self.from_logits, self.label_smoothing = bool(from_logits), float(label_smoothing)

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}

    def __call__(self, y_pred, y_true):
        if self.from_logits:
            _warn_squashed(self.name, y_pred, -1)
        logits = as_variable(y_pred) if self.from_logits else sigmoid_logits(y_pred)
        y_pred, y_true = _aligned(y_pred if logits is None else logits, y_true)
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        if logits is not None:
            return per_example(binary_cross_entropy_with_logits(y_pred, y_true, reduction="none"))
        p = ew.clip(y_pred, EPSILON, 1.0 - EPSILON)
        return per_example(-(y_true * ew.log(p) + (1.0 - y_true) * ew.log1p(-p)))


_LOSSES = {"cross_entropy": cross_entropy, "binary_cross_entropy": binary_cross_entropy,
           "mse": mse, "mae": mae}
_ALIASES = {"crossentropy": "cross_entropy", "bce": "binary_cross_entropy", "mean_squared_error": "mse",
            "mean_absolute_error": "mae"}
_CLASSES = {cls.name: cls for cls in (CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryCrossentropy)}


def get(identifier):
    """The loss for a name (theon's: 'cross_entropy', 'binary_cross_entropy', 'mse', 'mae';
    Keras': 'categorical_crossentropy', 'sparse_categorical_crossentropy',
    'binary_crossentropy'), a config from `serialize`, or a callable fn(y_pred, y_true) ->
    per-example losses (returned as is)."""
    if callable(identifier):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _CLASSES:
            return _CLASSES[key]()
        fn = _LOSSES.get(_ALIASES.get(key, key))
        if fn is not None:
            return fn
    if isinstance(identifier, dict) and identifier.get("name") in _CLASSES:
        config = {k: v for k, v in identifier.items() if k != "name"}
        return _CLASSES[identifier["name"]](**config)
    known = ", ".join([*_LOSSES, *_CLASSES])
    raise ValueError(f"unknown loss {identifier!r}; known: {known}, or a function (y_pred, y_true) -> "
                     f"per-example losses")


def name_of(fn) -> str:
    """The name a loss function is logged and configured under."""
    return getattr(fn, "name", None) or getattr(fn, "__name__", type(fn).__name__)


def serialize(fn):
    """What a checkpoint records of a loss: its name, or {"name", **config} for a configured
    loss object (`get` turns either back into the loss)."""
    if isinstance(fn, Loss):
        config = fn.get_config()
        return fn.name if config == type(fn)().get_config() else {"name": fn.name, **config}
    return name_of(fn)


__all__ = ["cross_entropy", "binary_cross_entropy", "mse", "mae", "Loss", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "BinaryCrossentropy", "get", "name_of", "serialize",
           "per_example", "softmax_logits", "sigmoid_logits"]
