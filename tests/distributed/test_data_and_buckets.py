"""One-process parts of data-parallel training: each rank's share of the batches, the
gradient buckets, where the scheduler puts their all-reduces, which callbacks run where."""
import numpy as np
import pytest

import theon as th
from theon.data.loader import DataLoader
from theon.distributed import DataParallel, ShardedLoader, runtime
from theon.distributed.buckets import AllReduceStart, AllReduceWait, buckets_of


def _shares(n, batch, world, seed=4, epoch=0):
    x = np.arange(n)
    loaders = [ShardedLoader(x, None, batch, r, world, seed=seed) for r in range(world)]
    for loader in loaders:
        loader.epoch = epoch
    return [[xb for xb, _ in loader] for loader in loaders]


def test_ranks_split_every_global_batch_of_the_same_permutation():
    x = np.arange(100)
    single = [xb for xb, _ in DataLoader(x, None, 20, seed=4, prefetch=0)]
    shares = _shares(100, 20, 2)
    assert len(shares[0]) == len(shares[1]) == len(single) == 5
    for whole, a, b in zip(single, *shares):
        np.testing.assert_array_equal(np.concatenate([a, b]), whole)


def test_the_last_partial_batch_is_split_evenly_and_its_remainder_skipped():
    shares = _shares(47, 21, 3)   # batches of 21, 21, 5: shares of 7, 7, 1 (two examples left)
    assert [[len(b) for b in rank] for rank in shares] == [[7, 7, 1]] * 3
    used = np.concatenate([b for rank in shares for b in rank])
    assert len(np.unique(used)) == 45
    shares = _shares(43, 21, 3)   # a last batch of 1 < 3 ranks: every rank skips it
    assert [[len(b) for b in rank] for rank in shares] == [[7, 7]] * 3


def test_the_cursor_does_not_depend_on_the_world_size():
    a = ShardedLoader(np.arange(100), None, 20, 1, 4, seed=2)
    it = iter(a)
    next(it), next(it)
    state = a.state_dict()
    b = DataLoader(np.arange(100), None, 20, seed=2, prefetch=0)
    b.load_state_dict(state)
    assert state["position"] == 2 and len(list(b)) == 3


def test_a_global_batch_that_does_not_split_evenly_is_refused():
    with pytest.raises(ValueError, match="batch_size 10 is the global batch, split evenly over 4 "
                                         r"processes: give a multiple of 4 \(e.g. 8\)"):
        ShardedLoader(np.arange(10), None, 10, 0, 4)


def test_buckets_hold_last_gradients_first_one_dtype_each_and_about_the_size_asked():
    grads = [th.tensor(f"g{i}", shape, dt) for i, (shape, dt) in
             enumerate([((10,), "float32"), ((4,), "float64"), ((5,), "float32"), ((30,), "float32")])]
    assert buckets_of(grads, 80) == [[3], [2, 0], [1]]
    assert buckets_of(grads, 10**6) == [[3, 2, 0], [1]]


def test_the_schedule_launches_each_bucket_after_its_last_gradient_and_waits_late():
    # the ops of a 2-process step, compiled (not run) in one process
    x = th.tensor("x", (8, 5), "float64")
    w1, w2 = th.shared(np.ones((5, 6)), name="w1"), th.shared(np.ones((6, 2)), name="w2")
    loss = th.sum(th.tanh(th.tanh(x @ w1) @ w2))
    g1, g2 = th.grad(loss, [w1, w2])
    late, = AllReduceWait(((6, 2),), 0, 2)(AllReduceStart(0, 2)(g2))
    early, = AllReduceWait(((5, 6),), 1, 2)(AllReduceStart(1, 2)(g1))
    f = th.function([x], loss, updates=[(w1, w1 - 0.1 * early), (w2, w2 - 0.1 * late)])
    lines = f.source.splitlines()

    def first(text):
        return next(i for i, line in enumerate(lines) if text in line)

    start0, start1 = first("all_reduce_start(world=2)"), first("all_reduce_start(bucket=1")
    wait0, wait1 = first("all_reduce_wait(shapes=((6, 2),)"), first("all_reduce_wait(shapes=((5, 6),)")
    # bucket 0 (w2's gradient) is launched before w1's gradient is computed
    assert start0 < first("-> float64[5, 6]  ") < start1 < min(wait0, wait1)


def test_only_rank_zero_runs_callbacks_that_print_or_write(monkeypatch, tmp_path):
    cbs = [th.callbacks.ModelCheckpoint(tmp_path), th.callbacks.EarlyStopping(monitor="loss"),
           th.callbacks.CSVLogger(tmp_path / "log.csv")]
    assert DataParallel().callbacks(cbs) == cbs
    monkeypatch.setattr(runtime, "rank", lambda: 1)
    assert DataParallel().callbacks(cbs) == cbs[1:2]


def test_compile_checks_its_distributed_setting():
    model = th.nn.Sequential([th.nn.Dense(2)], input_shape=(3,))
    with pytest.raises(TypeError, match="distributed must be True, False or a"):
        model.compile("sgd", "cross_entropy", distributed="yes")
    with pytest.raises(ValueError, match="bucket_bytes must be a positive int"):
        DataParallel(bucket_bytes=0)
    # one process: distributed=True trains as usual
    model.compile("sgd", "cross_entropy", distributed=True)
    model.fit(np.ones((4, 3)), np.array([0, 1, 0, 1]), verbose=0)
    assert "all_reduce" not in model.train_function.source
