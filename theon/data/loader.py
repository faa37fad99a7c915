"""DataLoader: seeded shuffling, batching and background prefetching of NumPy arrays.

The loader is a cursor over (epoch, position). Iterating it yields the rest of the current
epoch, batch by batch; handing out an epoch's last batch moves the cursor to the start of
the next epoch. So `for epoch ...: for xb, yb in loader:` sees one epoch per pass, an
abandoned pass continues where it stopped, and `state_dict()` taken at any moment restores,
in a new loader, exactly the batches that had not been handed out yet.

Epoch e is shuffled with a generator seeded by (seed, e): epochs differ, runs reproduce, and
no generator state has to be saved.
"""
import math
import queue
import threading
import weakref

import numpy as np

_STOP = object()  # end-of-epoch marker in the prefetch queue
THREAD_NAME = "theon-data-prefetch"


class _Failure:
    """An exception raised in the prefetch thread, re-raised in the consumer."""

    def __init__(self, exc):
        self.exc = exc


class DataLoader:
    """Batches of (x, y) in a seeded per-epoch order.

    x, y: arrays (anything NumPy can index along axis 0) of equal length; y may be None, in
    which case batches are (xb, None). Batches are NumPy arrays, copies of the data.
    prefetch: how many batches a background thread prepares ahead (0: none, no thread). An
    epoch with one batch left to give starts no thread: nothing could overlap with it, and a
    thread costs its start-up and a malloc arena of its own.
    """

    def __init__(self, x, y, batch_size, shuffle=True, seed=0, drop_last=False, prefetch=2):
        self.x = np.asarray(x)
        self.y = None if y is None else np.asarray(y)
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(f"DataLoader: x has {len(self.x)} examples but y has "
                             f"{len(self.y)}")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if int(prefetch) != prefetch or prefetch < 0:
            raise ValueError(f"DataLoader: prefetch must be an int >= 0, got {prefetch!r}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.prefetch = int(prefetch)
        self.epoch = 0
        self.position = 0  # batches of the current epoch already handed out
        # The live iterator, weakly: a new one closes it, and an abandoned one is collected
        # (its prefetch thread stopping) even though the loader lives on.
        self._active = None

    def __len__(self):
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def order(self, epoch=None) -> np.ndarray:
        """The example indices of `epoch` (default: the current one), in batch order."""
        epoch = self.epoch if epoch is None else epoch
        if not self.shuffle:
            return np.arange(len(self.x))
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.x))

    def batch(self, epoch, index):
        """Batch `index` of `epoch`, computed directly (what iteration would yield)."""
        return self._make(self.order(epoch), index)

    def _make(self, order, index):
        idx = order[index * self.batch_size:(index + 1) * self.batch_size]
        xb = np.take(self.x, idx, axis=0)
        yb = None if self.y is None else np.take(self.y, idx, axis=0)
        return xb, yb

    # -- state --------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The cursor, JSON-able: epoch, position (batches handed out in that epoch), seed,
        and the settings that must match for a resume to see the same batches."""
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed,
                "batch_size": self.batch_size, "shuffle": self.shuffle,
                "drop_last": self.drop_last, "num_examples": len(self.x)}

    def load_state_dict(self, state: dict):
        """Move the cursor to `state`; the next iteration yields that epoch's remaining
        batches. Raises ValueError when the settings recorded in `state` differ."""
        mine = self.state_dict()
        for key in ("batch_size", "shuffle", "drop_last", "num_examples"):
            if key in state and state[key] != mine[key]:
                raise ValueError(f"DataLoader.load_state_dict: the state has {key}="
                                 f"{state[key]!r} but this loader has {mine[key]!r}; resuming "
                                 "would give different batches")
        position = int(state["position"])
        if not 0 <= position <= len(self):
            raise ValueError(f"DataLoader.load_state_dict: position {position} is outside "
                             f"0..{len(self)}")
        self.close()
        self.epoch, self.position = int(state["epoch"]), position
        self.seed = int(state.get("seed", self.seed))
        if self.position == len(self) and len(self):
            self.epoch, self.position = self.epoch + 1, 0

    # -- iteration ----------------------------------------------------------------------
    def close(self):
        """Stop the live iterator (and its prefetch thread), if any."""
        it = self._active() if self._active is not None else None
        if it is not None:
            it.close()
        self._active = None

    def __iter__(self):
        self.close()
        it = self._iterate()
        self._active = weakref.ref(it)
        return it

    def _advance(self, total):
        """Record one more batch handed out; the last one of an epoch starts the next."""
        self.position += 1
        if self.position >= total:
            self.epoch, self.position = self.epoch + 1, 0

    def _iterate(self):
        total, start, order = len(self), self.position, self.order()
        if total == 0:
            self.epoch += 1
            return
        if self.prefetch == 0 or total - start <= 1:
            for i in range(start, total):
                b = self._make(order, i)
                self._advance(total)
                yield b
            return
        q = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        # The thread holds the arrays, not the loader or this generator, so an abandoned
        # generator is collected, and its finally block stops the thread.
        thread = threading.Thread(
            target=_produce, name=THREAD_NAME, daemon=True,
            args=(self.x, self.y, self.batch_size, order, start, total, q, stop))
        thread.start()
        try:
            while True:
                item = q.get()
                if item is _STOP:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                self._advance(total)
                yield item
        finally:
            stop.set()
            while thread.is_alive():  # unblock a producer waiting on a full queue
                try:
                    q.get_nowait()
                except queue.Empty:
                    pass
                thread.join(timeout=0.01)


def _produce(x, y, batch_size, order, start, total, q, stop):
    def put(item):
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    try:
        for i in range(start, total):
            if stop.is_set():
                return
            idx = order[i * batch_size:(i + 1) * batch_size]
            item = (np.take(x, idx, axis=0), None if y is None else np.take(y, idx, axis=0))
            if not put(item):
                return
        put(_STOP)
    except BaseException as e:  # hand the error to the consumer instead of losing it
        put(_Failure(e))
