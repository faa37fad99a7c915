"""Broadcasting: `broadcast_to`, and the two ops autodiff needs for it (sum a gradient back
to an input's shape, spread a gradient over a broadcast shape). The autodiff pair reads the
target shape from a tensor, so it works when dims are unknown until the call."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import ShapeError
from ..graph import Variable, format_shape
from .base import Op, as_variable
from .dims import resolve_shape, runtime_shape, split_shape


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


@dataclass(frozen=True)
class BroadcastTo(Op):
    """`x` broadcast to `shape` (ints, None for a symbolic dim input); a view."""
    shape: tuple = ()
    name: ClassVar[str] = "broadcast_to"
    view: ClassVar[bool] = True

    def infer(self, x, *dims):
        out = list(resolve_shape(self.shape, dims))
        lead = len(out) - x.ndim
        text = f"cannot broadcast a tensor of shape {format_shape(x.type.shape)} to shape "
        if lead < 0:
            raise ShapeError(text + f"{format_shape(tuple(out))}: the target has fewer dims")
        for i, xd in enumerate(x.type.shape):
            od = out[lead + i]
            if xd is None or xd == 1:
                continue
            if od is None:
                out[lead + i] = xd
            elif od != xd:
                raise ShapeError(text + f"{format_shape(tuple(out))} (dim {i} is {xd}, target {od})")
        return [x.type.with_shape(out)]

    def kernel(self, x, *dims):
        return x.expand(runtime_shape(self.shape, dims))

    def grad(self, inputs, outputs, output_grads):
        return [sum_to_like(output_grads[0], inputs[0])] + [None] * (len(inputs) - 1)


def broadcast_to(x, shape):
    x = as_variable(x)
    template, dynamic = split_shape(shape)
    if not dynamic and template == x.type.shape and None not in template:
        return x
    return BroadcastTo(template)(x, *dynamic)
