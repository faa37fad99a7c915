"""softmax, log_softmax and the losses: cross_entropy, binary_cross_entropy_with_logits, mse.

softmax and log_softmax are ops whose gradients are written in theon ops over their own
output, so they differentiate twice. cross_entropy with integer labels is one fused op;
its gradient (softmax - smoothed one-hot) * g is a fused backward op whose own gradient
is written in softmax, so second derivatives work too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..errors import DTypeError, ShapeError
from ..graph import TensorType
from ..graph.types import format_shape, shapes_agree
from .axes import normalize_axis
from .base import Op, as_variable
from .constructors import ones_like
from .dims import dim
from .elementwise import exp, softplus
from .nn_util import check_int, float_inputs
from .shape import expand_dims

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(loss, reduction: str, op: str):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{op}: reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, got {reduction!r}")


# ---- softmax ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Softmax(Op):
    allocates: ClassVar[bool] = True
    axis: int = -1
    name: ClassVar[str] = "softmax"

    def infer(self, x):
        return [x.type]

    def kernel(self, x):
        return torch.softmax(x, self.axis)

    def grad(self, inputs, outputs, output_grads):
        (y,), (g,) = outputs, output_grads
        gy = g * y
        return [gy - y * gy.sum(axis=self.axis, keepdims=True)]


@dataclass(frozen=True)
class LogSoftmax(Op):
    allocates: ClassVar[bool] = True
    axis: int = -1
    name: ClassVar[str] = "log_softmax"

    def infer(self, x):
        return [x.type]

    def kernel(self, x):
        return torch.log_softmax(x, self.axis)

    def grad(self, inputs, outputs, output_grads):
        (y,), (g,) = outputs, output_grads
        return [g - exp(y) * g.sum(axis=self.axis, keepdims=True)]


def _axis(x, axis, op):
    return normalize_axis(axis, x.ndim, op)[0] if x.ndim else 0


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along `axis`, computed stably."""
    (x,) = float_inputs(x, op="softmax")
    return Softmax(_axis(x, axis, "softmax"))(x)


def log_softmax(x, axis=-1):
    """log(softmax(x)) along `axis`, computed stably."""
    (x,) = float_inputs(x, op="log_softmax")
    return LogSoftmax(_axis(x, axis, "log_softmax"))(x)


# ---- cross entropy ----------------------------------------------------------------------

@dataclass(frozen=True)
class CrossEntropy(Op):
    """(logits, labels) -> per-sample loss; classes along `axis` (1, or 0 for one sample)."""
    allocates: ClassVar[bool] = True
    axis: int = 1
    label_smoothing: float = 0.0
    name: ClassVar[str] = "cross_entropy"

    def infer(self, logits, labels):
        check_int(labels, "cross_entropy labels")
        expected = logits.type.shape[:self.axis] + logits.type.shape[self.axis + 1:]
        if not shapes_agree(labels.type.shape, expected):
            raise ShapeError(f"logits {format_shape(logits.type.shape)} (classes along axis "
                             f"{self.axis}) need labels of shape {format_shape(expected)}, got labels "
                             f"{format_shape(labels.type.shape)}")
        shape = tuple(b if a is None else a for a, b in zip(labels.type.shape, expected))
        return [TensorType(logits.dtype, shape)]

    def kernel(self, logits, labels):
        return F.cross_entropy(logits, labels.long(), reduction="none",
                               label_smoothing=self.label_smoothing)

    def grad(self, inputs, outputs, output_grads):
        (logits, labels), (g,) = inputs, output_grads
        return [CrossEntropyBackward(self.axis, self.label_smoothing)(g, logits, labels), None]


@dataclass(frozen=True)
class CrossEntropyBackward(Op):
    """(g, logits, labels) -> (softmax(logits) - smoothed one-hot(labels)) * g, like logits."""
    axis: int = 1
    label_smoothing: float = 0.0
    name: ClassVar[str] = "cross_entropy_backward"

    def infer(self, g, logits, labels):
        if g.dtype != logits.dtype:
            raise DTypeError(f"{self.name}: g is {g.dtype} but logits are {logits.dtype}")
        return [logits.type]

    def kernel(self, g, logits, labels):
        s, axis = self.label_smoothing, self.axis
        p = torch.softmax(logits, axis)
        if s:
            p = p - s / logits.shape[axis]
        idx = labels.long().unsqueeze(axis)
        p.scatter_add_(axis, idx, torch.full(idx.shape, s - 1.0, dtype=p.dtype, device=p.device))
        return p.mul_(g.unsqueeze(axis))

    def grad(self, inputs, outputs, output_grads):
        (g, logits, labels), (gg,) = inputs, output_grads
        # linear in g: d/dg = sum over classes of gg * (softmax - target)
        residual = CrossEntropyBackward(self.axis, self.label_smoothing)(ones_like(g), logits, labels)
        g_g = (gg * residual).sum(axis=self.axis)
        # in logits only softmax varies: its Jacobian applied to gg * g
        y = Softmax(self.axis)(logits)
        h = gg * expand_dims(g, self.axis) * y
        g_logits = h - y * h.sum(axis=self.axis, keepdims=True)
        return [g_g, g_logits, None]


def cross_entropy(logits, labels, label_smoothing=0.0, reduction="none"):
    """Softmax cross entropy of logits (N, C) or (N, C, d...) (or (C,) for one sample).

    labels: integer class indices of shape (N, d...), or float class probabilities shaped
    like logits. label_smoothing mixes the target with the uniform distribution, as torch.
    The default reduction is "none" (one loss per sample): `cross_entropy(z, y).mean()`.
    """
    (logits,) = float_inputs(logits, op="cross_entropy")
    labels = as_variable(labels)
    if reduction not in _REDUCTIONS:
        _reduce(None, reduction, "cross_entropy")
    s = float(label_smoothing)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1], got {label_smoothing}")
    if logits.ndim == 0:
        raise ShapeError("cross_entropy: logits must have a class axis, got a scalar")
    axis = 1 if logits.ndim >= 2 else 0
    if labels.dtype.startswith("float"):
        return _reduce(_soft_cross_entropy(logits, labels, axis, s), reduction, "cross_entropy")
    return _reduce(CrossEntropy(axis, s)(logits, labels), reduction, "cross_entropy")


def _soft_cross_entropy(logits, targets, axis, s):
    logits, targets = float_inputs(logits, targets, op="cross_entropy")
    if not shapes_agree(targets.type.shape, logits.type.shape):
        raise ShapeError(f"cross_entropy: probability targets {format_shape(targets.type.shape)} "
                         f"must have the shape of logits {format_shape(logits.type.shape)}")
    if s:
        c = dim(logits, axis)
        targets = targets * (1 - s) + (s / c if isinstance(c, int) else s / c.astype(logits.dtype))
    return -(targets * log_softmax(logits, axis)).sum(axis=axis)


# ---- binary cross entropy and mean squared error ----------------------------------------

def binary_cross_entropy_with_logits(logits, targets, reduction="mean", weight=None, pos_weight=None):
    """Sigmoid cross entropy: -[t log sigmoid(z) + (1 - t) log(1 - sigmoid(z))], stably.

    pos_weight multiplies the positive term and weight each element, as in torch.
    Reduction defaults to "mean" (torch's default).
    """
    logits, targets = float_inputs(logits, targets, op="binary_cross_entropy_with_logits")
    if pos_weight is None:
        loss = softplus(logits) - logits * targets
    else:
        loss = (1 - targets) * logits + (1 + (pos_weight - 1) * targets) * softplus(-logits)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def mse(pred, target, reduction="mean"):
    """Mean squared error (pred - target)^2, reduced as asked ("mean" by default)."""
    pred, target = float_inputs(pred, target, op="mse")
    d = pred - target
    return _reduce(d * d, reduction, "mse")


__all__ = ["softmax", "log_softmax", "cross_entropy", "binary_cross_entropy_with_logits", "mse"]
