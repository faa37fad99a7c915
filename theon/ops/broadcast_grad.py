"""The two ops autodiff needs for broadcasting: sum a gradient back to an input's shape, and
spread a gradient over a broadcast shape. Both read the target shape from a tensor, so they
work when dims are unknown until the call."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..graph import Variable
from .base import Op, as_variable


@dataclass(frozen=True)
class SumToLike(Op):
    """`g` summed over the dims along which `like` was broadcast to g's shape."""
    name: ClassVar[str] = "sum_to_like"

    def infer(self, g, like):
        return [g.type.with_shape(like.type.shape)]

    def kernel(self, g, like):
        return sum_to_shape(g, like.shape)

    def grad(self, inputs, outputs, output_grads):
        (g, like), (gg,) = inputs, output_grads
        return [BroadcastLike()(gg, g), None]


def sum_to_shape(g, shape):
    """Torch: sum `g` down to `shape` (leading dims dropped, size-1 dims kept)."""
    lead = g.ndim - len(shape)
    dims = list(range(lead)) + [lead + i for i, d in enumerate(shape) if d == 1 and g.shape[lead + i] != 1]
    if dims:
        g = g.sum(dims, keepdim=True)
    return g.reshape(shape)


@dataclass(frozen=True)
class BroadcastLike(Op):
    """`x` broadcast to the shape of `like` (a view)."""
    name: ClassVar[str] = "broadcast_like"
    view: ClassVar[bool] = True

    def infer(self, x, like):
        return [x.type.with_shape(like.type.shape)]

    def kernel(self, x, like):
        return x.expand(like.shape)

    def grad(self, inputs, outputs, output_grads):
        (x, like), (g,) = inputs, output_grads
        return [sum_to_like(g, x), None]


def sum_to_like(g: Variable, like: Variable) -> Variable:
    """Autodiff's reduction of a broadcast gradient; nothing when the shapes already agree."""
    g, like = as_variable(g), as_variable(like)
    if g.type.shape == like.type.shape and like.type.is_concrete:
        return g
    if g.ndim == like.ndim and all(a == b and a is not None for a, b in zip(g.type.shape, like.type.shape)):
        return g
    return SumToLike()(g, like)
