"""theon.data.DataLoader: batching, drop_last, seeded per-epoch shuffles, exact resume from
state_dict mid-epoch, and the prefetch thread's lifetime."""
import gc
import json
import threading
import time

import numpy as np
import pytest

from theon.data import DataLoader
from theon.data import loader as loader_mod


def _arrays(n=23):
    return np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n, dtype=np.int64)


def _epoch(loader):
    return [(xb.copy(), yb.copy()) for xb, yb in loader]


@pytest.mark.parametrize("prefetch", [0, 2])
def test_loader_batches_in_order_without_shuffle(prefetch):
    x, y = _arrays()
    loader = DataLoader(x, y, batch_size=5, shuffle=False, prefetch=prefetch)
    assert len(loader) == 5
    batches = _epoch(loader)
    assert [len(b[1]) for b in batches] == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    assert loader.state_dict()["epoch"] == 1 and loader.state_dict()["position"] == 0


def test_loader_drop_last():
    x, y = _arrays()
    loader = DataLoader(x, y, batch_size=5, drop_last=True)
    assert len(loader) == 4
    batches = _epoch(loader)
    assert [len(b[1]) for b in batches] == [5] * 4
    assert len(DataLoader(x, y, batch_size=30, drop_last=True)) == 0
    assert _epoch(DataLoader(x, y, batch_size=30, drop_last=True)) == []


def test_loader_shuffles_reproducibly_and_epochs_differ():
    x, y = _arrays(50)
    a = DataLoader(x, y, batch_size=8, seed=7)
    b = DataLoader(x, y, batch_size=8, seed=7, prefetch=0)
    a0, a1 = _epoch(a), _epoch(a)
    b0, b1 = _epoch(b), _epoch(b)
    for (xa, ya), (xb, yb) in zip(a0 + a1, b0 + b1):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    order0 = np.concatenate([yb for _, yb in a0])
    order1 = np.concatenate([yb for _, yb in a1])
    assert sorted(order0.tolist()) == list(range(50))  # each example once per epoch
    assert order0.tolist() != order1.tolist() and order0.tolist() != list(range(50))
    np.testing.assert_array_equal(a0[0][0], x[a0[0][1]])  # x and y stay paired
    c0 = _epoch(DataLoader(x, y, batch_size=8, seed=8))
    assert np.concatenate([yb for _, yb in c0]).tolist() != order0.tolist()


@pytest.mark.parametrize("prefetch", [0, 3])
def test_loader_resumes_exactly_mid_epoch(prefetch):
    x, y = _arrays(41)
    ref = DataLoader(x, y, batch_size=4, seed=3, prefetch=prefetch)
    full = _epoch(ref) + _epoch(ref) + _epoch(ref)  # 11 batches an epoch
    run = DataLoader(x, y, batch_size=4, seed=3, prefetch=prefetch)
    _epoch(run)
    seen = []
    for i, (xb, yb) in enumerate(run):
        seen.append(yb.copy())
        if i == 5:
            state = json.loads(json.dumps(run.state_dict()))
            break
    assert state["epoch"] == 1 and state["position"] == 6
    resumed = DataLoader(x, y, batch_size=4, seed=3, prefetch=prefetch)
    resumed.load_state_dict(state)
    rest = _epoch(resumed) + _epoch(resumed)
    expect = full[11 + 6:]
    assert len(rest) == len(expect) == 5 + 11
    for (xa, ya), (xb, yb) in zip(rest, expect):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    # the abandoned pass of `run` continues where it stopped, too
    cont = _epoch(run)
    assert [b[1].tolist() for b in cont] == [b[1].tolist() for b in expect[:5]]


def test_loader_state_at_epoch_end_and_mismatch():
    x, y = _arrays(10)
    loader = DataLoader(x, y, batch_size=5, seed=1)
    it = iter(loader)
    next(it), next(it)
    assert loader.state_dict()["epoch"] == 1 and loader.state_dict()["position"] == 0
    other = DataLoader(x, y, batch_size=5, seed=1)
    other.load_state_dict({"epoch": 0, "position": 2, "seed": 1})  # old-style end of epoch
    assert other.epoch == 1 and other.position == 0
    with pytest.raises(ValueError, match="batch_size=5 but this loader has 4"):
        DataLoader(x, y, batch_size=4).load_state_dict(loader.state_dict())
    with pytest.raises(ValueError, match="position 9 is outside 0..2"):
        other.load_state_dict({"epoch": 0, "position": 9})


def test_loader_batch_and_y_none():
    x, y = _arrays(9)
    loader = DataLoader(x, None, batch_size=4, seed=2)
    batches = _epoch_x(loader)
    np.testing.assert_array_equal(batches[1], loader.batch(0, 1)[0])
    assert loader.batch(0, 1)[1] is None
    with pytest.raises(ValueError, match="x has 9 examples but y has 8"):
        DataLoader(x, y[:8], batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(x, y, batch_size=0)


def _epoch_x(loader):
    out = []
    for xb, yb in loader:
        assert yb is None
        out.append(xb)
    return out


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == loader_mod.THREAD_NAME]


def _wait_no_threads(timeout=5.0):
    deadline = time.monotonic() + timeout
    while _prefetch_threads() and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.01)
    return _prefetch_threads()


def test_prefetch_thread_stops_when_iterator_abandoned():
    x, y = _arrays(200)
    loader = DataLoader(x, y, batch_size=2, prefetch=2)
    it = iter(loader)
    next(it)
    assert len(_prefetch_threads()) == 1
    del it  # abandoned with the producer blocked on a full queue
    assert _wait_no_threads() == []
    for i, _ in enumerate(loader):  # break out of a for loop
        if i == 3:
            break
    assert _wait_no_threads() == []
    it = iter(loader)
    next(it)
    it2 = iter(loader)  # a new iterator closes the old one
    next(it2)
    assert len(_wait_until_one()) == 1
    del it, it2
    assert _wait_no_threads() == []
    _epoch(loader)  # a finished epoch leaves no thread either
    assert _wait_no_threads() == []


def _wait_until_one(timeout=5.0):
    deadline = time.monotonic() + timeout
    while len(_prefetch_threads()) > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    return _prefetch_threads()


def test_prefetch_thread_error_reaches_the_consumer():
    x, y = _arrays(10)
    loader = DataLoader(x, y, batch_size=3, prefetch=2)
    loader.y = _Exploding(10)  # fails when the producer thread takes a batch from it
    with pytest.raises(RuntimeError, match="boom"):
        _epoch(loader)
    assert _wait_no_threads() == []


class _Exploding:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __array__(self, *args, **kwargs):
        raise RuntimeError("boom")


def test_an_epoch_with_one_batch_left_starts_no_thread_and_yields_the_same_batches():
    x, y = _arrays(10)
    assert _wait_no_threads() == []
    whole = DataLoader(x, y, batch_size=16, seed=5, prefetch=2)      # one batch per epoch
    ref = DataLoader(x, y, batch_size=16, seed=5, prefetch=0)
    for _ in range(2):                                               # two epochs, two orders
        it = iter(whole)
        xb, yb = next(it)
        assert _prefetch_threads() == []
        rx, ry = next(iter(ref))
        np.testing.assert_array_equal(xb, rx)
        np.testing.assert_array_equal(yb, ry)
        assert list(it) == []
    tail = DataLoader(x, y, batch_size=4, seed=5, prefetch=2)        # 3 batches; resume at the last
    tail.load_state_dict({**tail.state_dict(), "position": 2})
    (xb, yb), = list(tail)
    np.testing.assert_array_equal(xb, x[tail.order(0)[8:]])
    assert _prefetch_threads() == []
