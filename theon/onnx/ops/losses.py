"""ONNX loss ops composed from theon ops: NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from ...ops import nn as NN
from . import converter


def nll(ctx, logp, target, weight):
    """ONNX NegativeLogLikelihoodLoss of log-probabilities (N, C, ...) at targets (N, ...)."""
    reduction = ctx.attr("reduction", "mean")
    ignore = ctx.attr("ignore_index")
    target = T.cast_to(target, "int64")
    mask = None
    if ignore is not None:
        mask = T.not_equal(target, np.int64(ignore))
        target = T.where(mask, target, T.zeros_like(target))
    picked = T.squeeze(T.take_along_axis(logp, T.expand_dims(target, 1), axis=1), 1)
    w = T.take(weight, target, axis=0) if weight is not None else T.ones_like(picked)
    if mask is not None:
        w = w * T.cast_to(mask, w.dtype)
    loss = -picked * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return T.sum(loss)
    return T.sum(loss) / T.sum(w)


@converter("NegativeLogLikelihoodLoss")
def negative_log_likelihood_loss(ctx):
    return nll(ctx, ctx.x(0), ctx.x(1), ctx.x(2))


@converter("SoftmaxCrossEntropyLoss")
def softmax_cross_entropy_loss(ctx):
    scores = ctx.x(0)
    logp = NN.log_softmax(scores, axis=1)
    return [nll(ctx, logp, ctx.x(1), ctx.x(2)), logp]
