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
from .elementwise import cast, exp, not_equal, softplus, where
from .index import take
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

def _classes_at_1(logits, labels, axis: int, ndim: int):
    """Views of (logits, labels) in torch's layout (classes at axis 1, or 0 for one sample)
    and the shape the per-sample loss is reshaped back to (None: no reshape)."""
    if ndim <= 2 or axis == 1:
        return logits, labels, None
    if axis == ndim - 1:  # classes last: rows of contiguous classes, no strided kernel
        c = logits.shape[-1]
        return logits.reshape(-1, c), labels.reshape(-1), labels.shape
    return logits.movedim(axis, 1), labels, None


@dataclass(frozen=True)
class CrossEntropy(Op):
    """(logits, labels[, weight]) -> per-sample loss; classes along `axis`. Samples whose
    label is `ignore_index` get 0; `weighted` takes a third input, one weight per class.
    `with_grad` (made by the compiler, compile/passes/fuse.py; unweighted, unsmoothed, 2-D
    logits) adds a second output, softmax - onehot(labels), the loss's gradient before the
    incoming gradient scales it: the forward's log_softmax serves the backward too."""
    allocates: ClassVar[bool] = True
    axis: int = 1
    label_smoothing: float = 0.0
    ignore_index: int | None = None
    weighted: bool = False
    with_grad: bool = False
    name: ClassVar[str] = "cross_entropy"

    @property
    def nout(self) -> int:
        return 2 if self.with_grad else 1

    def infer(self, logits, labels, weight=None):
        check_int(labels, "cross_entropy labels")
        expected = logits.type.shape[:self.axis] + logits.type.shape[self.axis + 1:]
        if not shapes_agree(labels.type.shape, expected):
            raise ShapeError(f"logits {format_shape(logits.type.shape)} (classes along axis "
                             f"{self.axis}) need labels of shape {format_shape(expected)}, got labels "
                             f"{format_shape(labels.type.shape)}")
        if weight is not None:
            _check_weight(weight, logits, self.axis)
        if self.with_grad and (self.weighted or self.label_smoothing or self.ignore_index is not None
                               or logits.ndim != 2 or self.axis != 1):
            raise ValueError("cross_entropy with_grad takes plain (N, C) logits: no weight, smoothing "
                             "or ignore_index")
        shape = tuple(b if a is None else a for a, b in zip(labels.type.shape, expected))
        loss = TensorType(logits.dtype, shape)
        return [loss, logits.type] if self.with_grad else [loss]

    def kernel(self, logits, labels, weight=None):
        if self.with_grad:
            return _loss_and_gradient(logits, labels.long())
        z, y, shape = _classes_at_1(logits, labels.long(), self.axis, logits.ndim)
        ignore = -100 if self.ignore_index is None else self.ignore_index
        out = F.cross_entropy(z, y, weight=weight, ignore_index=ignore, reduction="none",
                              label_smoothing=self.label_smoothing)
        return out if shape is None else out.reshape(shape)

    def grad(self, inputs, outputs, output_grads):
        if self.with_grad:
            raise NotImplementedError("cross_entropy with_grad is made by the compiler after "
                                      "differentiation; differentiate the plain op")
        (g,) = output_grads
        backward = CrossEntropyBackward(self.axis, self.label_smoothing, self.ignore_index, self.weighted)
        # class weights are constants, as in torch: no gradient flows to them
        return [backward(g, *inputs), *([None] * (len(inputs) - 1))]


def _loss_and_gradient(logits, labels):
    """(loss, softmax - onehot) of (N, C) logits from one log_softmax: the loss as
    F.cross_entropy computes it, the gradient its exp in place."""
    log_p = torch.log_softmax(logits, 1)
    loss = F.nll_loss(log_p, labels, ignore_index=-100, reduction="none")
    grad = log_p.exp_()
    idx = labels.unsqueeze(1)
    grad.scatter_add_(1, idx, torch.full(idx.shape, -1.0, dtype=grad.dtype, device=grad.device))
    return loss, grad


def _check_weight(weight, logits, axis):
    classes = logits.type.shape[axis]
    if weight.ndim != 1 or not shapes_agree(weight.type.shape, (classes,)):
        raise ShapeError(f"cross_entropy: weight must hold one value per class, shape "
                         f"{format_shape((classes,))}; got {format_shape(weight.type.shape)}")
    if weight.dtype != logits.dtype:
        raise DTypeError(f"cross_entropy: weight is {weight.dtype} but logits are {logits.dtype}")


@dataclass(frozen=True)
class CrossEntropyBackward(Op):
    """(g, logits, labels[, weight]) -> the gradient of CrossEntropy's loss times g, like logits:
    g * [(1-s) w_y (softmax - onehot(y)) + (s/C) (sum(w) softmax - w)], 0 where ignored
    (w = 1 without weights: g * (softmax - smoothed one-hot))."""
    axis: int = 1
    label_smoothing: float = 0.0
    ignore_index: int | None = None
    weighted: bool = False
    name: ClassVar[str] = "cross_entropy_backward"

    def infer(self, g, logits, labels, weight=None):
        if g.dtype != logits.dtype:
            raise DTypeError(f"{self.name}: g is {g.dtype} but logits are {logits.dtype}")
        return [logits.type]

    def kernel(self, g, logits, labels, weight=None):
        s, axis = self.label_smoothing, self.axis
        c = logits.shape[axis]
        labels = labels.long()
        keep = None if self.ignore_index is None else labels != self.ignore_index
        if keep is not None:
            labels = torch.where(keep, labels, 0)  # any class: its row is zeroed below
        idx = labels.unsqueeze(axis)
        p = torch.softmax(logits, axis)
        if weight is None:
            if s:
                p = p - s / c
            p.scatter_add_(axis, idx, torch.full(idx.shape, s - 1.0, dtype=p.dtype, device=p.device))
        else:
            w_y = weight[labels]
            p = p.mul_(((1 - s) * w_y + (s / c) * weight.sum()).unsqueeze(axis))
            if s:
                view = [1] * logits.ndim
                view[axis] = c
                p = p - (s / c) * weight.reshape(view)
            p.scatter_add_(axis, idx, (-(1 - s) * w_y).unsqueeze(axis))
        scale = g if keep is None else g * keep
        return p.mul_(scale.unsqueeze(axis))

    def grad(self, inputs, outputs, output_grads):
        (g, logits, labels, *weight), (gg,) = inputs, output_grads
        # linear in g: d/dg = sum over classes of gg * (its coefficient)
        residual = CrossEntropyBackward(self.axis, self.label_smoothing, self.ignore_index,
                                        self.weighted)(ones_like(g), logits, labels, *weight)
        g_g = (gg * residual).sum(axis=self.axis)
        # in logits only softmax varies, scaled per sample by a = g * keep * coefficient
        a = g * _sample_coefficient(logits, labels, weight[0] if weight else None, self.axis,
                                    self.label_smoothing, self.ignore_index)
        y = Softmax(self.axis)(logits)
        h = gg * expand_dims(a, self.axis) * y
        g_logits = h - y * h.sum(axis=self.axis, keepdims=True)
        return [g_g, g_logits, None, *([None] * len(weight))]


def _sample_coefficient(logits, labels, weight, axis, s, ignore_index):
    """Per sample, what multiplies softmax in the loss's gradient: keep * ((1-s) w_y + (s/C) sum(w))."""
    keep = None if ignore_index is None else cast(not_equal(labels, ignore_index), logits.dtype)
    if weight is None:
        return ones_like(labels, dtype=logits.dtype) if keep is None else keep
    safe = labels if keep is None else where(not_equal(labels, ignore_index), labels, 0)
    c = dim(logits, axis)
    c = c if isinstance(c, int) else c.astype(logits.dtype)
    coef = (1 - s) * take(weight, safe) + (s / c) * weight.sum()
    return coef if keep is None else coef * keep


def class_axis(logits, labels, axis=None) -> int:
    """The class axis of logits against these labels (the rule of `cross_entropy`): `axis`
    when given; else 0 for one sample (C,), 1 for (N, C); for more dims, the last axis
    (Keras' classes-last (N, d..., C)) when integer labels have the shape of the logits
    without it and axis 1 cannot be the class axis: the labels do not fit without axis 1,
    or axis 1's size is unknown while the last one's is known (a sequence of unknown length
    against known classes). Otherwise axis 1 (torch's (N, C, d...))."""
    logits, labels = as_variable(logits), as_variable(labels)
    if logits.ndim == 0:
        raise ShapeError("cross_entropy: logits must have a class axis, got a scalar")
    if axis is not None:
        return normalize_axis(axis, logits.ndim, "cross_entropy")[0]
    if logits.ndim <= 2:
        return logits.ndim - 1
    shape = logits.type.shape
    fits_last = shapes_agree(labels.type.shape, shape[:-1])
    fits_1 = shapes_agree(labels.type.shape, shape[:1] + shape[2:]) and not (
        shape[1] is None and shape[-1] is not None)
    return logits.ndim - 1 if fits_last and not fits_1 and not labels.dtype.startswith("float") else 1


def cross_entropy(logits, labels, label_smoothing=0.0, reduction="none", axis=None, ignore_index=None,
                  weight=None):
    """Softmax cross entropy of logits, as torch.nn.functional.cross_entropy.

    logits: (N, C), (C,) for one sample, or with more dims, classes along `axis`.
    axis: the class axis; by default 1 (torch's (N, C, d...)), or the last one when integer
    labels say so: shaped like the logits without their last axis and not without axis 1
    (or axis 1's size unknown, the last one's known). That is Keras' (N, d..., C), e.g. a
    sequence model's (batch, time, classes) against labels (batch, time). Pass axis=-1 for
    classes last where both would fit (time steps as many as classes).
    labels: integer class indices shaped like logits without the class axis, or float class
    probabilities shaped like logits.
    label_smoothing mixes the target with the uniform distribution, as torch.
    ignore_index: samples with this label count 0 (integer labels).
    weight: one weight per class (C,), scaling each sample's loss by its class's weight.
    reduction: "none" (the default: one loss per sample), "sum", or "mean", which divides by
    the summed weights of the samples not ignored, as torch (by N without weights).
    """
    (logits,) = float_inputs(logits, op="cross_entropy")
    labels = as_variable(labels)
    if reduction not in _REDUCTIONS:
        _reduce(None, reduction, "cross_entropy")
    s = float(label_smoothing)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must lie in [0, 1], got {label_smoothing}")
    axis = class_axis(logits, labels, axis)
    if weight is not None:
        weight = as_variable(weight)
        weight = weight if weight.dtype == logits.dtype else weight.astype(logits.dtype)
        _check_weight(weight, logits, axis)
    if ignore_index is not None and (isinstance(ignore_index, bool) or int(ignore_index) != ignore_index):
        raise ValueError(f"cross_entropy: ignore_index must be an integer label, got {ignore_index!r}")
    if labels.dtype.startswith("float"):
        if ignore_index is not None or weight is not None:
            raise ValueError("cross_entropy: ignore_index and weight take integer labels, not probabilities")
        return _reduce(_soft_cross_entropy(logits, labels, axis, s), reduction, "cross_entropy")
    ignore = None if ignore_index is None else int(ignore_index)
    op = CrossEntropy(axis, s, ignore, weight is not None)
    loss = op(logits, labels) if weight is None else op(logits, labels, weight)
    if reduction == "mean" and (weight is not None or ignore is not None):
        # torch: divide by the summed weight of the counted samples
        counted = _sample_coefficient(logits, labels, weight, axis, 0.0, ignore)
        return loss.sum() / counted.sum()
    return _reduce(loss, reduction, "cross_entropy")


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
