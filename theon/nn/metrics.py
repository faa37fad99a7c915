"""Metrics for Model.compile: fn(y_pred, y_true) -> one float32 value per example.

Predictions are logits or probabilities (any scores ordered like them), with the class axis
found as th.nn.cross_entropy finds it (1, or the last one when the labels' shape says so). Labels are integer classes, or one-hot / probability targets
shaped like the predictions. A prediction with one column ((N,) or (N, 1)) is a binary
logit: positive means class 1. Per-example values are averaged over axes past the first.
"""
from __future__ import annotations

import re

from ..ops import elementwise as ew
from ..ops.base import as_variable
from ..ops.index import take_along_axis
from ..ops.nn_loss import class_axis
from ..ops.shape import expand_dims
from .losses import per_example, sigmoid_logits


def _labels(y_pred, y_true, axis):
    """Integer labels of y_true: argmax over the class axis when it holds one-hot rows."""
    if y_true.ndim == y_pred.ndim and y_pred.ndim >= 2:
        return y_true.argmax(axis=axis)
    return y_true if y_true.dtype == "int64" else ew.cast(y_true, "int64")


def accuracy(y_pred, y_true):
    """1.0 where the highest-scoring class is the label, else 0.0. The class axis follows
    th.nn.cross_entropy's rule. One column per position is binary: a logit > 0, or for a
    sigmoid output, a probability > 0.5."""
    y_pred, y_true = as_variable(y_pred), as_variable(y_true)
    if y_pred.ndim == 1 or y_pred.type.shape[-1] == 1 or y_pred.type.shape[1] == 1:  # binary
        logits = sigmoid_logits(y_pred)
        score = logits if logits is not None else y_pred  # a sigmoid's p > 0.5 is its logit > 0
        if score.ndim == y_true.ndim + 1:
            score = score.squeeze(axis=-1 if score.type.shape[-1] == 1 else 1)
        hit = ew.equal(ew.greater(score, 0), ew.greater(y_true, 0.5))
    else:
        axis = class_axis(y_pred, y_true)
        hit = ew.equal(y_pred.argmax(axis=axis), _labels(y_pred, y_true, axis))
    return per_example(ew.cast(hit, "float32"))


def top_k_accuracy(k: int = 5, name: str | None = None):
    """A metric: 1.0 where the label is among the k highest-scoring classes. Ties count in
    the label's favour (fewer than k classes score strictly higher), as Keras' in_top_k."""
    k = int(k)
    if k < 1:
        raise ValueError(f"top_k_accuracy: k must be >= 1, got {k}")

    def metric(y_pred, y_true):
        y_pred, y_true = as_variable(y_pred), as_variable(y_true)
        if y_pred.ndim < 2:
            raise ValueError(f"{metric.__name__}: predictions need a class axis, got shape {y_pred.type.shape}")
        axis = class_axis(y_pred, y_true)
        labels = _labels(y_pred, y_true, axis)
        true_score = take_along_axis(y_pred, expand_dims(labels, axis), axis=axis)
        above = ew.cast(ew.greater(y_pred, true_score), "int64").sum(axis=axis)
        return per_example(ew.cast(ew.less(above, k), "float32"))

    metric.__name__ = name or ("top_k_accuracy" if k == 5 else f"top_{k}_accuracy")
    metric.k = k
    return metric


def get(name_or_fn):
    """A metric from a name ('accuracy', 'top_k_accuracy' (k=5), 'top_3_accuracy', ...)
    or a callable fn(y_pred, y_true) -> per-example values (returned as is)."""
    if callable(name_or_fn):
        return name_or_fn
    if isinstance(name_or_fn, str):
        key = name_or_fn.lower()
        if key in ("accuracy", "acc"):
            return accuracy
        if key == "top_k_accuracy":
            return top_k_accuracy(5)
        match = re.fullmatch(r"top_?(\d+)(_accuracy)?", key)
        if match:
            return top_k_accuracy(int(match.group(1)))
    raise ValueError(f"unknown metric {name_or_fn!r}; known: 'accuracy', 'top_k_accuracy', 'top_<k>_accuracy'")


def name_of(fn) -> str:
    """The name a metric is logged under (History keys, CSV columns)."""
    return getattr(fn, "__name__", type(fn).__name__)


__all__ = ["accuracy", "top_k_accuracy", "get", "name_of"]
