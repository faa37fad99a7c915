"""Data-parallel training over torch.distributed (gloo on CPUs, NCCL on GPUs).

    th.distributed.init()        # reads torchrun's environment; one process without it
    model.compile(opt, loss, metrics=["accuracy"], distributed=True)
    model.fit(x, y, batch_size=64)   # the global batch, split over the processes

Collectives are graph ops (`all_reduce`, `broadcast`, `reduce`, `all_gather`,
`reduce_scatter`) with gradients; the training step averages gradients in async buckets
that overlap the backward pass (buckets.py); `ShardedLoader` gives each rank its share of
every batch; a failed collective names the rank at fault (runtime.py).
"""
from .buckets import DEFAULT_BUCKET_BYTES, average_gradients
from .data import ShardedLoader
from .ops import all_gather, all_reduce, broadcast, reduce, reduce_scatter
from .runtime import (DistributedError, barrier, init, is_initialized, is_main_process, rank,
                      shutdown, world_size)
from .training import DataParallel

__all__ = ["DEFAULT_BUCKET_BYTES", "DataParallel", "DistributedError", "ShardedLoader",
           "all_gather", "all_reduce", "average_gradients", "barrier", "broadcast", "init",
           "is_initialized", "is_main_process", "rank", "reduce", "reduce_scatter", "shutdown",
           "world_size"]
