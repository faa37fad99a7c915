"""Normalisation ops: batch_norm (training and inference) and layer_norm.

The forward passes are ATen's fused kernels. Training-mode ops also output the batch
statistics (mean and inverse standard deviation) the kernel computes anyway; the
gradients are written in theon ops over those statistics, and include the terms for
gradients arriving at the statistics themselves, so second derivatives are exact.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..errors import DTypeError, ShapeError
from ..graph import TensorType, is_int
from ..graph.types import format_shape
from .base import Op, as_variable, user_errors
from .constructors import ones, zeros
from .dims import dim
from .elementwise import cast_to, reciprocal, rsqrt
from .nn_util import channel_view, count, float_inputs, is_zero
from .reduce import mean as _mean
from .reduce import sum as _sum


def _check_same_dtype(op, *inputs):
    if len({v.dtype for v in inputs}) > 1:
        raise DTypeError(f"{op} inputs must share one dtype, got {', '.join(v.dtype for v in inputs)}")


def _check_channels(op, x, *vectors):
    c = x.type.shape[1] if x.ndim >= 2 else None
    for name, v in vectors:
        if v.ndim != 1 or (c is not None and v.type.shape[0] is not None and v.type.shape[0] != c):
            raise ShapeError(f"{op}: input {format_shape(x.type.shape)} has {c} channels but "
                             f"{name} has shape {format_shape(v.type.shape)}")


# ---- batch norm -------------------------------------------------------------------------

@dataclass(frozen=True)
class BatchNormTrain(Op):
    """(x, w, b) -> (y, batch mean (C,), batch inverse std (C,)), statistics over all axes but 1."""
    eps: float = 1e-5
    name: ClassVar[str] = "batch_norm_train"
    nout: ClassVar[int] = 3

    def infer(self, x, w, b):
        _check_same_dtype(self.name, x, w, b)
        if x.ndim < 2:
            raise ShapeError(f"batch_norm expects input (N, C, ...), got {format_shape(x.type.shape)}")
        _check_channels("batch_norm", x, ("weight", w), ("bias", b))
        dims = [d for i, d in enumerate(x.type.shape) if i != 1]
        if all(d is not None for d in dims) and math.prod(dims) == 1:
            raise ShapeError(f"batch_norm in training needs more than one value per channel, got "
                             f"input {format_shape(x.type.shape)}")
        stat = TensorType(x.dtype, (x.type.shape[1],))
        return [x.type, stat, stat]

    def kernel(self, x, w, b):
        y, mean, invstd = torch.ops.aten.native_batch_norm(x, w, b, None, None, True, 0.0, self.eps)
        return y, mean.to(x.dtype), invstd.to(x.dtype)

    def grad(self, inputs, outputs, output_grads):
        (x, w, b), (y, mean, invstd), (gy, gmean, ginvstd) = inputs, outputs, output_grads
        axes = (0,) + tuple(range(2, x.ndim))
        m = count(x, axes, x.dtype)
        xhat = (x - channel_view(mean, x.ndim)) * channel_view(invstd, x.ndim)
        gb = _sum(gy, axis=axes)
        gw = _sum(gy * xhat, axis=axes)
        # dx of y = w*xhat + b, with the batch statistics' dependence on x included
        gx = channel_view(invstd * w, x.ndim) * (
            gy - channel_view(gb / m, x.ndim) - xhat * channel_view(gw / m, x.ndim))
        if not is_zero(gmean):
            gx = gx + channel_view(gmean / m, x.ndim)
        if not is_zero(ginvstd):
            # d invstd / dx = -invstd^2 * xhat / m
            gx = gx - xhat * channel_view(ginvstd * invstd * invstd / m, x.ndim)
        return [gx, gw, gb]


@dataclass(frozen=True)
class BatchNormEval(Op):
    """(x, running_mean, running_var, w, b) -> y, normalising with the running statistics."""
    eps: float = 1e-5
    name: ClassVar[str] = "batch_norm"

    def infer(self, x, rm, rv, w, b):
        _check_same_dtype(self.name, x, rm, rv, w, b)
        if x.ndim < 2:
            raise ShapeError(f"batch_norm expects input (N, C, ...), got {format_shape(x.type.shape)}")
        _check_channels("batch_norm", x, ("running_mean", rm), ("running_var", rv), ("weight", w),
                        ("bias", b))
        return [x.type]

    def kernel(self, x, rm, rv, w, b):
        return F.batch_norm(x, rm, rv, w, b, False, 0.0, self.eps)

    def grad(self, inputs, outputs, output_grads):
        (x, rm, rv, w, b), (gy,) = inputs, output_grads
        axes = (0,) + tuple(range(2, x.ndim))
        invstd = rsqrt(rv + self.eps)
        scale = w * invstd
        xhat = (x - channel_view(rm, x.ndim)) * channel_view(invstd, x.ndim)
        gb = _sum(gy, axis=axes)
        gw = _sum(gy * xhat, axis=axes)
        return [gy * channel_view(scale, x.ndim), -gb * scale, gw * scale * invstd * -0.5, gw, gb]


@user_errors
def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5, num_batches_tracked=None):
    """Batch normalisation over every axis but 1 of x (N, C, ...), torch semantics.

    Inference (training=False): returns y, normalised with the running statistics.
    Training: returns (y, new_running_mean, new_running_var); put the new statistics in a
    function's `updates` (they are None when the running statistics are None). The running
    variance is updated with the unbiased batch variance, as torch does.

    momentum=None keeps a cumulative average, as torch's BatchNorm does: pass
    `num_batches_tracked`, the number of batches the running statistics already average
    (an int64 scalar, usually a shared variable starting at 0); each batch then weighs
    1 / (num_batches_tracked + 1), and the result has a fourth entry, the new count, to put
    in the updates too.
    """
    cumulative = momentum is None
    if cumulative and training and num_batches_tracked is None:
        raise ValueError("batch_norm: momentum=None (a cumulative average) needs num_batches_tracked, "
                         "the number of batches the running statistics already average")
    (x,) = float_inputs(x, op="batch_norm")
    c = dim(x, 1) if x.ndim >= 2 else 1  # a rank error is raised by the op, at the user's line
    weight = ones((c,), x.dtype) if weight is None else weight
    bias = zeros((c,), x.dtype) if bias is None else bias
    x, weight, bias = float_inputs(x, weight, bias, op="batch_norm")
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: inference mode needs running_mean and running_var")
        rm, rv = (cast_to(v, x.dtype) for v in float_inputs(running_mean, running_var, op="batch_norm"))
        return BatchNormEval(float(eps))(x, rm, rv, weight, bias)
    y, mean, invstd = BatchNormTrain(float(eps))(x, weight, bias)
    batches = None
    if cumulative:
        batches = as_variable(num_batches_tracked)
        if batches.ndim != 0 or not is_int(batches.dtype):
            raise DTypeError(f"batch_norm: num_batches_tracked must be an integer scalar, got {batches.type}")
        batches = batches + 1
    if running_mean is None and running_var is None:
        return (y, None, None) if not cumulative else (y, None, None, batches)
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    rm, rv = float_inputs(running_mean, running_var, op="batch_norm")
    _check_channels("batch_norm", x, ("running_mean", rm), ("running_var", rv))
    m = count(x, (0,) + tuple(range(2, x.ndim)), x.dtype)
    var = reciprocal(invstd * invstd) - float(eps)
    unbiased = var * (m / (m - 1))
    factor = cast_to(reciprocal(batches), rm.dtype) if cumulative else float(momentum)
    new_mean = rm * (1 - factor) + cast_to(mean, rm.dtype) * factor
    new_var = rv * (1 - factor) + cast_to(unbiased, rv.dtype) * factor
    return (y, new_mean, new_var) if not cumulative else (y, new_mean, new_var, batches)


# ---- layer norm -------------------------------------------------------------------------

@dataclass(frozen=True)
class LayerNorm(Op):
    """(x, w, b) -> (y, mean, rstd) over the trailing `normalized_shape` axes; the statistics
    keep those axes with size 1."""
    normalized_shape: tuple = ()
    eps: float = 1e-5
    name: ClassVar[str] = "layer_norm"
    nout: ClassVar[int] = 3

    def infer(self, x, w, b):
        _check_same_dtype(self.name, x, w, b)
        k = len(self.normalized_shape)
        trailing = x.type.shape[x.ndim - k:] if x.ndim >= k else None
        if trailing is None or any(d is not None and d != n for d, n in zip(trailing, self.normalized_shape)):
            raise ShapeError(f"layer_norm over normalized_shape {format_shape(self.normalized_shape)} "
                             f"needs input ending in those dims, got input {format_shape(x.type.shape)}")
        for name, v in (("weight", w), ("bias", b)):
            if v.ndim != k or any(d is not None and d != n for d, n in zip(v.type.shape, self.normalized_shape)):
                raise ShapeError(f"layer_norm: {name} {format_shape(v.type.shape)} does not match "
                                 f"normalized_shape {format_shape(self.normalized_shape)}")
        stat = TensorType(x.dtype, x.type.shape[:x.ndim - k] + (1,) * k)
        return [x.type, stat, stat]

    def kernel(self, x, w, b):
        y, mean, rstd = torch.ops.aten.native_layer_norm(x, list(self.normalized_shape), w, b, self.eps)
        k = len(self.normalized_shape)
        stat_shape = x.shape[:x.ndim - k] + (1,) * k
        return y, mean.to(x.dtype).reshape(stat_shape), rstd.to(x.dtype).reshape(stat_shape)

    def grad(self, inputs, outputs, output_grads):
        (x, w, b), (y, mean, rstd), (gy, gmean, grstd) = inputs, outputs, output_grads
        k = len(self.normalized_shape)
        norm_axes = tuple(range(x.ndim - k, x.ndim))
        lead_axes = tuple(range(x.ndim - k))
        n = float(math.prod(self.normalized_shape))
        xhat = (x - mean) * rstd
        dy = gy * w
        gx = rstd * (dy - _mean(dy, axis=norm_axes, keepdims=True)
                     - xhat * _mean(dy * xhat, axis=norm_axes, keepdims=True))
        if not is_zero(gmean):
            gx = gx + gmean * (1 / n)
        if not is_zero(grstd):
            gx = gx - xhat * (grstd * rstd * rstd * (1 / n))
        gw = _sum(gy * xhat, axis=lead_axes) if lead_axes else gy * xhat
        gb = _sum(gy, axis=lead_axes) if lead_axes else gy
        return [gx, gw, gb]


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise x over its trailing `normalized_shape` dims, then scale and shift (torch)."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(d) for d in normalized_shape)
    if not normalized_shape:
        raise ValueError("layer_norm: normalized_shape must name at least one dim")
    (x,) = float_inputs(x, op="layer_norm")
    weight = ones(normalized_shape, x.dtype) if weight is None else weight
    bias = zeros(normalized_shape, x.dtype) if bias is None else bias
    x, weight, bias = float_inputs(x, weight, bias, op="layer_norm")
    return LayerNorm(normalized_shape, float(eps))(x, weight, bias)[0]


__all__ = ["batch_norm", "layer_norm"]
