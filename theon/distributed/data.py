"""Each rank's share of every batch.

`ShardedLoader` is a DataLoader whose batches are global: every rank computes the same
permutation of epoch e (seeded by (seed, e)) and cuts the same global batches of
`batch_size` examples (a multiple of the world size), and rank r takes part r of each,
`batch_size // world` examples. So
one step over all ranks sees exactly the batch one process would, and averaging the ranks'
gradients gives that batch's gradient. The cursor (epoch, global batches handed out) does
not depend on the world size, so a run resumes with more or fewer processes.

The last, partial batch of m examples is split the same way, m // world each; the
m % world examples left over are skipped this epoch (another epoch's permutation puts them
elsewhere), so every rank's share has the same size and a mean of ranks' means is the mean
over the examples used. A batch smaller than the world size is skipped by every rank.
"""
from __future__ import annotations

import numpy as np

from ..data.loader import DataLoader


class ShardedLoader(DataLoader):
    """A DataLoader handing rank `rank` of `world` its part of each global batch."""

    def __init__(self, x, y, batch_size, rank: int, world: int, shuffle=True, seed=0):
        super().__init__(x, y, batch_size, shuffle=shuffle, seed=seed, prefetch=0)
        if not 0 <= rank < world:
            raise ValueError(f"ShardedLoader: rank {rank} is outside 0..{world - 1}")
        if self.batch_size % world:
            raise ValueError(f"fit: batch_size {self.batch_size} is the global batch, split evenly "
                             f"over {world} processes: give a multiple of {world} (e.g. "
                             f"{max(world, self.batch_size - self.batch_size % world)})")
        self.rank, self.world = int(rank), int(world)

    def share(self, index: int, order=None) -> np.ndarray:
        """The example indices this rank takes from global batch `index` (maybe none)."""
        order = self.order() if order is None else order
        batch = order[index * self.batch_size:(index + 1) * self.batch_size]
        each = len(batch) // self.world
        return batch[self.rank * each:(self.rank + 1) * each]

    def _make(self, order, index):
        idx = self.share(index, order)
        return (np.take(self.x, idx, axis=0), None if self.y is None else np.take(self.y, idx, axis=0))

    def _iterate(self):
        total, start, order = len(self), self.position, self.order()
        if total == 0:
            self.epoch += 1
            return
        for i in range(start, total):
            xb, yb = self._make(order, i)
            self._advance(total)
            if len(xb):
                yield xb, yb
