"""Gradient averaging in buckets, as graph nodes that overlap the backward pass.

`average_gradients(grads)` groups the gradients into buckets of about `bucket_bytes`
(default 25 MB), last parameters first: the backward pass computes those first. Each bucket
is two nodes:

    flat = all_reduce_start(bucket=k)(g1, g2, ...)   # concatenate, launch async_op=True
    g1', g2', ... = all_reduce_wait(...)(flat)       # wait, divide by world, split (views)

The start node asks to be launched early (`launch_priority`, read by compile/schedule.py):
the scheduler runs each bucket's start as soon as its last gradient is computed, bucket by
bucket, and the wait nodes are placed where the optimiser first reads their gradients. So
the sum over ranks of one bucket travels while the backward pass computes the next one,
and `f.source` shows both halves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.distributed as dist

from ..errors import ShapeError
from ..graph import TensorType, apply
from ..ops.base import Op
from . import runtime

DEFAULT_BUCKET_BYTES = 25 * 2**20


_WORK = "_theon_all_reduce_work"   # the attribute of the flat buffer holding its async handle


@dataclass(frozen=True)
class AllReduceStart(Op):
    """Concatenate a bucket's gradients into one flat buffer and launch its sum over ranks
    asynchronously; the buffer carries the handle to the matching all_reduce_wait."""
    name: ClassVar[str] = "all_reduce_start"
    impure: ClassVar[bool] = True
    allocates: ClassVar[bool] = True
    bucket: int = 0
    world: int = 1
    overlap: bool = True   # False: launched just before its wait (for measuring the overlap)

    @property
    def launch_priority(self) -> int | None:
        return self.bucket if self.overlap else None

    def infer(self, *grads):
        dtypes = {g.dtype for g in grads}
        if len(dtypes) != 1:
            raise ShapeError(f"all_reduce_start: a bucket holds one dtype, got {sorted(dtypes)}")
        if any(not g.type.is_concrete for g in grads):
            return [TensorType(grads[0].dtype, (None,))]
        return [TensorType(grads[0].dtype, (sum(int(np.prod(g.type.shape, dtype=np.int64)) for g in grads),))]

    def kernel(self, *grads):
        flat = torch.cat([g.reshape(-1) for g in grads])
        if self.world > 1:
            runtime.started()
            try:
                work = dist.all_reduce(flat, async_op=True)
            except Exception as e:
                raise runtime.collective_error(f"all_reduce (gradient bucket {self.bucket})", e) from e
            setattr(flat, _WORK, work)
        return flat


@dataclass(frozen=True)
class AllReduceWait(Op):
    """Wait for a bucket's sum, divide it by the world size and give back each gradient
    (views of the flat buffer, in the shapes listed)."""
    name: ClassVar[str] = "all_reduce_wait"
    capturable: ClassVar[bool] = False  # waits on a collective from the host
    impure: ClassVar[bool] = True
    shapes: tuple = ()
    bucket: int = 0
    world: int = 1

    def infer(self, flat):
        return [TensorType(flat.dtype, s) for s in self.shapes]

    def make_node(self, flat):
        return apply(self, [flat])

    def __call__(self, flat):
        return self.make_node(flat).outputs

    def kernel(self, flat):
        work = getattr(flat, _WORK, None)
        if work is not None:
            runtime.wait(f"all_reduce (gradient bucket {self.bucket})", work)
            delattr(flat, _WORK)
            flat.div_(self.world)
        outs, at = [], 0
        for shape in self.shapes:
            n = int(np.prod(shape, dtype=np.int64))
            outs.append(flat[at:at + n].view(shape))
            at += n
        return outs[0] if len(outs) == 1 else tuple(outs)


def buckets_of(grads, bucket_bytes: int) -> list:
    """Lists of indices into `grads`, last gradients first, each bucket of one dtype and
    about `bucket_bytes` (a gradient larger than that is a bucket of its own)."""
    buckets, open_ = [], {}   # dtype -> (indices, bytes) of the bucket being filled
    for i in reversed(range(len(grads))):
        g = grads[i]
        size = int(np.prod(g.type.shape, dtype=np.int64)) * np.dtype(g.dtype).itemsize
        indices, used = open_.get(g.dtype, ([], 0))
        if indices and used + size > bucket_bytes:
            buckets.append(indices)
            indices, used = [], 0
        open_[g.dtype] = (indices + [i], used + size)
    buckets += [indices for indices, _ in open_.values() if indices]
    return buckets


def average_gradients(grads, bucket_bytes: int = DEFAULT_BUCKET_BYTES, overlap: bool = True) -> list:
    """The mean of each gradient over every rank, computed in async buckets (see above).
    overlap=False launches each bucket just before its wait (benchmarks/distributed.py
    measures what the overlap saves). A one-process run returns `grads` unchanged."""
    world = runtime.world_size()
    grads = list(grads)
    if world == 1 or not grads:
        return grads
    if not isinstance(bucket_bytes, (int, np.integer)) or bucket_bytes < 1:
        raise ValueError(f"bucket_bytes must be a positive number of bytes, got {bucket_bytes!r}")
    for g in grads:
        if not g.type.is_concrete:
            raise ShapeError(f"average_gradients: gradient {g.describe()} has unknown dims; "
                             f"parameters' gradients have concrete shapes")
    out = list(grads)
    for k, indices in enumerate(buckets_of(grads, int(bucket_bytes))):
        flat = AllReduceStart(k, world, bool(overlap))(*[grads[i] for i in indices])
        shapes = tuple(tuple(grads[i].type.shape) for i in indices)
        for i, g in zip(indices, AllReduceWait(shapes, k, world)(flat)):
            out[i] = g
    return out
