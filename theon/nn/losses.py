"""Losses for Model.compile: fn(y_pred, y_true) -> one loss per example (shape (N,)).

Predictions are the model's raw outputs (logits): cross_entropy applies the softmax over
axis 1 and binary_cross_entropy the sigmoid, stably. Losses with more than one value per
example (spatial cross entropy, multi-output regression) are averaged over every axis
but the first, so the caller weights and averages examples the same way for all of them.
"""
from __future__ import annotations

from ..ops import elementwise as ew
from ..ops.base import as_variable
from ..ops.nn_loss import binary_cross_entropy_with_logits
from ..ops.nn_loss import cross_entropy as _cross_entropy


def per_example(loss):
    """Mean over every axis but the first (the batch axis)."""
    return loss.mean(axis=tuple(range(1, loss.ndim))) if loss.ndim > 1 else loss


def _aligned(y_pred, y_true):
    """y_true cast to y_pred's float dtype, and a (N, 1) prediction matched to (N,) targets."""
    y_pred, y_true = as_variable(y_pred), as_variable(y_true)
    if y_pred.ndim == y_true.ndim + 1 and y_pred.type.shape[-1] == 1:
        y_pred = y_pred.squeeze(axis=-1)
    if y_true.dtype != y_pred.dtype:
        y_true = ew.cast(y_true, y_pred.dtype)
    return y_pred, y_true


def cross_entropy(y_pred, y_true, label_smoothing: float = 0.0):
    """Softmax cross entropy of logits (N, C, ...) against integer labels (N, ...) or class
    probabilities shaped like the logits."""
    return per_example(_cross_entropy(y_pred, y_true, label_smoothing=label_smoothing, reduction="none"))


def binary_cross_entropy(y_pred, y_true):
    """Sigmoid cross entropy of logits against 0/1 (or probability) targets."""
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


_LOSSES = {"cross_entropy": cross_entropy, "binary_cross_entropy": binary_cross_entropy,
           "mse": mse, "mae": mae}
_ALIASES = {"crossentropy": "cross_entropy", "categorical_crossentropy": "cross_entropy",
            "sparse_categorical_crossentropy": "cross_entropy", "binary_crossentropy": "binary_cross_entropy",
            "bce": "binary_cross_entropy", "mean_squared_error": "mse", "mean_absolute_error": "mae"}


def get(name_or_fn):
    """The loss function for a name ('cross_entropy', 'binary_cross_entropy', 'mse', 'mae'
    or a Keras alias) or a callable fn(y_pred, y_true) -> per-example losses (returned as is)."""
    if callable(name_or_fn):
        return name_or_fn
    if isinstance(name_or_fn, str):
        key = name_or_fn.lower()
        fn = _LOSSES.get(_ALIASES.get(key, key))
        if fn is not None:
            return fn
    raise ValueError(f"unknown loss {name_or_fn!r}; known: {', '.join(_LOSSES)}")


def name_of(fn) -> str:
    """The name a loss function is logged and configured under."""
    return getattr(fn, "__name__", type(fn).__name__)


def serialize(fn):
    """What a checkpoint records of a loss: its name (`get` turns it back into the loss)."""
    return name_of(fn)


__all__ = ["cross_entropy", "binary_cross_entropy", "mse", "mae", "get", "name_of", "serialize",
           "per_example"]
