"""SyncBatchNorm: batch normalisation with the statistics of the global batch in
data-parallel training (docs/distributed.md).

BatchNorm keeps per-rank statistics: with 2 ranks of batch 32 each normalises over its own
32 examples. SyncBatchNorm normalises over all 64, exactly as one process with batch 64:
each rank's count, mean and centred sum of squares go through one `all_gather` and are
combined with Chan et al.'s pairwise formula (no sum-of-squares cancellation). The gather
is a graph op, so the gradient flows through it (its gradient is a reduce_scatter) and the
backward pass is the global batch's too. In one process it computes what BatchNorm does.
"""
from __future__ import annotations

from ..distributed.ops import all_gather
from ..graph import Variable, constant
from ..ops.elementwise import rsqrt, square
from ..ops.reduce import mean, sum as reduce_sum
from ..ops.shape import concatenate, reshape
from .layers_norm import BatchNorm

__all__ = ["SyncBatchNorm"]


class SyncBatchNorm(BatchNorm):
    """BatchNorm over the global batch of every rank (see the module docstring); the same
    parameters, configuration and inference behaviour as BatchNorm."""

    def call(self, x, training=False):
        if not (training and self.trainable):
            return super().call(x, training)
        x = self.cast_input(x)
        axes = (0,) + tuple(range(2, x.ndim))
        channels = x.type.shape[1]
        count = _count(x, axes)
        local_mean = mean(x, axis=axes)
        local_m2 = reduce_sum(square(x - reshape(local_mean, _per_channel(x))), axis=axes)
        stats = all_gather(concatenate([reshape(count, (1,)), local_mean, local_m2])[None])
        counts = stats[:, :1]                                     # (world, 1)
        means, m2s = stats[:, 1:1 + channels], stats[:, 1 + channels:]
        total = reduce_sum(counts)
        global_mean = reduce_sum(counts * means, axis=0) / total
        m2 = reduce_sum(m2s, axis=0) + reduce_sum(counts * square(means - global_mean), axis=0)
        inv_std = rsqrt(m2 / total + constant(self.eps, dtype=x.dtype))
        shape = _per_channel(x)
        y = (x - reshape(global_mean, shape)) * reshape(inv_std, shape)
        if self.gamma is not None:
            y = y * reshape(self.gamma, shape)
        if self.beta is not None:
            y = y + reshape(self.beta, shape)
        m = constant(self.momentum, dtype=x.dtype)
        unbiased = m2 / (total - 1)      # torch's running variance is the unbiased one
        self.updates = [(self.running_mean, (1 - m) * self.running_mean + m * global_mean),
                        (self.running_var, (1 - m) * self.running_var + m * unbiased)]
        return y


def _per_channel(x) -> tuple:
    """(1, C, 1, ...): a per-channel vector broadcast against x (N, C, ...)."""
    return (1, x.type.shape[1]) + (1,) * (x.ndim - 2)


def _count(x, axes) -> Variable:
    """How many values each channel has on this rank, as a scalar of x's dtype (the batch
    size may be known only at the call)."""
    count = 1
    for a in axes:
        count = count * x.shape[a]
    if isinstance(count, int):
        return constant(float(count), dtype=x.dtype)
    return count.astype(x.dtype)
