"""What `model.compile(..., distributed=True)` changes in the training loop.

- the step averages the gradients over ranks in async buckets (buckets.py) and averages
  the logged values, so the loss and metrics shown are the global batch's;
- `fit` broadcasts the weights and optimiser state from rank 0 before the first step;
- each rank reads its share of every global batch (data.py);
- only rank 0 runs the callbacks that print or write files (`rank_zero_only`), and only
  rank 0 writes checkpoints (atomically, as every checkpoint is written).

Layers keep per-rank state (BatchNorm's running statistics are each rank's own).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch.distributed as dist

from . import runtime
from .buckets import DEFAULT_BUCKET_BYTES, average_gradients
from .data import ShardedLoader
from .ops import all_reduce


@dataclass(frozen=True)
class DataParallel:
    """Data-parallel settings: `model.compile(..., distributed=DataParallel(bucket_bytes=...))`
    (`distributed=True` takes the defaults). bucket_bytes: the size of a gradient bucket,
    whose all-reduce starts as soon as its last gradient is computed. overlap=False starts
    each just before the optimiser waits for it (to measure what the overlap saves)."""
    bucket_bytes: int = DEFAULT_BUCKET_BYTES
    overlap: bool = True

    def __post_init__(self):
        if isinstance(self.bucket_bytes, bool) or not isinstance(self.bucket_bytes, (int, np.integer)) \
                or self.bucket_bytes < 1:
            raise ValueError(f"DataParallel: bucket_bytes must be a positive int, got {self.bucket_bytes!r}")

    @staticmethod
    def of(setting) -> "DataParallel | None":
        """compile's `distributed=` argument as settings (None: not distributed)."""
        if setting is None or setting is False:
            return None
        if setting is True:
            return DataParallel()
        if isinstance(setting, DataParallel):
            return setting
        raise TypeError(f"compile: distributed must be True, False or a "
                        f"theon.distributed.DataParallel, got {setting!r}")

    @property
    def active(self) -> bool:
        """Whether more than one process takes part (else everything runs as usual)."""
        return runtime.world_size() > 1

    def average_gradients(self, grads) -> list:
        return average_gradients(grads, self.bucket_bytes, self.overlap)

    def average_logs(self, values):
        """The logged batch means, averaged over ranks (their shares are equal in size)."""
        return all_reduce(values, "mean") if self.active else values

    def loader(self, x, y, batch_size, shuffle, seed):
        return ShardedLoader(x, y, batch_size, runtime.rank(), runtime.world_size(),
                             shuffle=shuffle, seed=seed)

    def broadcast_state(self, trainer):
        """Rank 0's weights and optimiser state, on every rank."""
        shared = list(trainer.params) + list(trainer.optimizer.state().values())
        for s in shared:
            value = s._value.contiguous().clone()
            runtime.run_collective(f"broadcast of {s.name!r} from rank 0", dist.broadcast, value, src=0)
            s._value = value

    def callbacks(self, cbs) -> list:
        """The callbacks this rank runs: all on rank 0, the others skip those that print or
        write files."""
        if runtime.is_main_process():
            return cbs
        return [cb for cb in cbs if not getattr(cb, "rank_zero_only", False)]

    def global_count(self, n: int) -> int:
        """Examples in the global batch whose share on this rank is `n`."""
        return n * runtime.world_size()


def is_writer() -> bool:
    """Whether this process writes files (rank 0, or the only process)."""
    return runtime.is_main_process()

