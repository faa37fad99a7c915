"""Collectives as graph ops: all_reduce, broadcast, reduce, all_gather, reduce_scatter.

Each op's kernel calls torch.distributed on the default process group; each is `impure`
(its value depends on the other ranks, so it is never folded at compile time). The world
size is an attribute fixed when the node is built, so shapes infer (all_gather's first dim
is `world` times its input's). In a one-process run every collective is the identity.

Gradients are collectives too: all_reduce(sum)'s is all_reduce(sum) of the output gradients
(every output depends on every rank's input), broadcast's is a sum-reduce to the source,
reduce's is a broadcast from the destination, all_gather's is reduce_scatter and
reduce_scatter's is all_gather.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch.distributed as dist

from ..errors import GradientError, ShapeError
from ..graph import TensorType
from ..ops.base import Op, as_variable, user_errors
from . import runtime

_REDUCTIONS = {"sum": dist.ReduceOp.SUM, "mean": dist.ReduceOp.SUM,
               "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}


def _check_reduction(reduction: str):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {sorted(_REDUCTIONS)}, got {reduction!r}")


def _check_rank(what: str, r: int, world: int):
    if not isinstance(r, int) or not 0 <= r < world:
        raise ValueError(f"{what} must be a rank in 0..{world - 1}, got {r!r}")


@dataclass(frozen=True)
class _Collective(Op):
    """What every collective shares: impure, the identity in a one-process run."""
    impure: ClassVar[bool] = True

    def kernel(self, x):
        return x if self.world == 1 else self.communicate(x)


@dataclass(frozen=True)
class _SameShape(_Collective):
    """A collective whose result has its input's shape, computed in a copy of the input."""

    def infer(self, x):
        return [x.type]

    def communicate(self, x):
        out = x.clone()
        self.apply_to(out)
        return out


@dataclass(frozen=True)
class AllReduce(_SameShape):
    """Every rank gets the reduction (sum, mean, max, min) of every rank's tensor."""
    name: ClassVar[str] = "all_reduce"
    reduction: str = "sum"
    world: int = 1

    def apply_to(self, out):
        runtime.run_collective(f"all_reduce({self.reduction})", dist.all_reduce, out,
                               op=_REDUCTIONS[self.reduction])
        if self.reduction == "mean":
            out.div_(self.world) if out.is_floating_point() else out.floor_divide_(self.world)

    def grad(self, inputs, outputs, output_grads):
        if self.reduction not in ("sum", "mean"):
            raise GradientError(f"all_reduce({self.reduction!r}) has no gradient; sum and mean do")
        return [AllReduce(self.reduction, self.world)(output_grads[0])]


@dataclass(frozen=True)
class Broadcast(_SameShape):
    """Every rank gets rank `src`'s tensor."""
    name: ClassVar[str] = "broadcast"
    src: int = 0
    world: int = 1

    def apply_to(self, out):
        runtime.run_collective(f"broadcast(src={self.src})", dist.broadcast, out, src=self.src)

    def grad(self, inputs, outputs, output_grads):
        return [Reduce(self.src, self.world)(output_grads[0])]


@dataclass(frozen=True)
class Reduce(_SameShape):
    """Rank `dst` gets the sum of every rank's tensor; the others get zeros."""
    name: ClassVar[str] = "reduce"
    dst: int = 0
    world: int = 1

    def apply_to(self, out):
        runtime.run_collective(f"reduce(dst={self.dst})", dist.reduce, out, dst=self.dst)
        if runtime.rank() != self.dst:
            out.zero_()   # torch leaves partial sums on the other ranks

    def grad(self, inputs, outputs, output_grads):
        return [Broadcast(self.dst, self.world)(output_grads[0])]


@dataclass(frozen=True)
class AllGather(_Collective):
    """Every rank's tensor concatenated along axis 0, in rank order."""
    name: ClassVar[str] = "all_gather"
    world: int = 1

    def infer(self, x):
        if x.ndim == 0:
            raise ShapeError("all_gather concatenates along axis 0: give a tensor of at least one dim")
        n = x.type.shape[0]
        return [TensorType(x.dtype, (None if n is None else n * self.world, *x.type.shape[1:]))]

    def communicate(self, x):
        x = x.contiguous()
        out = x.new_empty((x.shape[0] * self.world, *x.shape[1:]))
        runtime.run_collective("all_gather", dist.all_gather_into_tensor, out, x)
        return out

    def grad(self, inputs, outputs, output_grads):
        return [ReduceScatter(self.world)(output_grads[0])]


@dataclass(frozen=True)
class ReduceScatter(_Collective):
    """The sum over ranks, split along axis 0 into `world` equal parts: rank r gets part r."""
    name: ClassVar[str] = "reduce_scatter"
    world: int = 1

    def infer(self, x):
        if x.ndim == 0:
            raise ShapeError("reduce_scatter splits along axis 0: give a tensor of at least one dim")
        n = x.type.shape[0]
        if n is not None and n % self.world:
            raise ShapeError(f"reduce_scatter splits axis 0 into {self.world} equal parts (one per "
                             f"rank); its length {n} does not divide by {self.world}")
        return [TensorType(x.dtype, (None if n is None else n // self.world, *x.type.shape[1:]))]

    def communicate(self, x):
        if x.shape[0] % self.world:
            raise ShapeError(f"reduce_scatter: axis 0 has length {x.shape[0]}, which does not divide "
                             f"into {self.world} parts")
        x = x.contiguous()
        out = x.new_empty((x.shape[0] // self.world, *x.shape[1:]))
        runtime.run_collective("reduce_scatter", dist.reduce_scatter_tensor, out, x)
        return out

    def grad(self, inputs, outputs, output_grads):
        return [AllGather(self.world)(output_grads[0])]


@user_errors
def all_reduce(x, reduction: str = "sum"):
    """The reduction of `x` over every rank ('sum', 'mean', 'max' or 'min'), on every rank."""
    _check_reduction(reduction)
    return AllReduce(reduction, runtime.world_size())(as_variable(x))


@user_errors
def broadcast(x, src: int = 0):
    """Rank `src`'s value of `x`, on every rank."""
    _check_rank("broadcast: src", src, runtime.world_size())
    return Broadcast(src, runtime.world_size())(as_variable(x))


@user_errors
def reduce(x, dst: int = 0):
    """The sum of `x` over ranks on rank `dst`; zeros on the others."""
    _check_rank("reduce: dst", dst, runtime.world_size())
    return Reduce(dst, runtime.world_size())(as_variable(x))


@user_errors
def all_gather(x):
    """Every rank's `x` concatenated along axis 0 in rank order, on every rank."""
    return AllGather(runtime.world_size())(as_variable(x))


@user_errors
def reduce_scatter(x):
    """Part `rank` (of `world_size` equal parts along axis 0) of the sum of `x` over ranks."""
    return ReduceScatter(runtime.world_size())(as_variable(x))

