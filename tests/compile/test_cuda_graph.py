"""CUDA-graph capture of compiled programs (compile/capture.py).

On the CPU a test double stands in for torch.cuda.CUDAGraph: its capture records the step
without running it (as a CUDA graph records kernels without running them) and its replay
runs the recorded step again on the same input, shared and output buffers. Everything but
the graph calls themselves is the code a CUDA function runs; the last test records a real
graph where CUDA is present."""
import numpy as np
import pytest
import torch

import theon as th
from theon import nn
from theon.compile import capture
from theon.compile.hoist import StaticCache, note_untracked_writes
from theon.ops import random as random_ops


class ReplayDouble(capture.Capturer):
    """Capture keeps the step; replay reruns it and copies its results into the same
    output tensors (the graph's static outputs)."""

    def __init__(self, device):
        super().__init__(device)
        self.step = None
        self.outputs = None
        self.replays = 0

    def capture(self, step):
        self.step = step
        self.outputs = []  # filled by the first replay, then the same tensors every replay
        return self.outputs

    def replay(self):
        with random_ops.recorded_draws():  # a graph's draws take the registered generator as it stands
            fresh = self.step()
        if not self.outputs:
            self.outputs.extend(torch.empty_like(r) for r in fresh)
        for o, r in zip(self.outputs, fresh):
            o.copy_(r)
        self.replays += 1


@pytest.fixture
def recorded_on_cpu(monkeypatch):
    """CPU functions capture, through the double (as CUDA functions do through CUDAGraph)."""
    monkeypatch.setitem(capture.CAPTURERS, "cpu", ReplayDouble)


def recording(f, *shapes):
    return f._recordings[tuple(torch.Size(s) for s in shapes)]


def test_outputs_equal_the_uncaptured_function_and_arguments_go_into_static_buffers(recorded_on_cpu):
    rng = np.random.default_rng(0)
    x = th.tensor("x", (None, 3))
    w = th.shared(rng.standard_normal((3, 4)).astype(np.float32), name="w")
    out = [th.nn.relu(x @ w).sum(axis=1), th.tanh(x)]
    f = th.function([x], out, device="cpu")
    plain = th.function([x], out, device="cpu", cuda_graph=False)
    buffers = None
    for call in range(5):
        xv = rng.standard_normal((2, 3)).astype(np.float32)
        got, want = f(xv), plain(xv)
        for g, e in zip(got, want):
            np.testing.assert_allclose(g, e, rtol=1e-6)
        rec = recording(f, (2, 3))
        if call == 0:
            assert f.cuda_graph_status() == {((2, 3),): "warming up (1 of 1 plain calls before capture)"}
            assert not rec.recorded
            continue
        assert rec.recorded and f.cuda_graph_status() == {((2, 3),): "captured"}
        if buffers is None:
            buffers = list(rec.inputs)
        assert all(a is b for a, b in zip(rec.inputs, buffers))  # the same tensors every call
        np.testing.assert_array_equal(rec.inputs[0].numpy(), xv)  # holding this call's argument
    assert rec.capturer.replays == 3  # call 1 ran plain, call 2 ran once and recorded
    assert f.source.startswith("# CUDA graph: captured\n")
    # the returned arrays are the caller's: the next replay does not write into them
    first = f(np.ones((2, 3), np.float32))[1]
    f(np.zeros((2, 3), np.float32))
    np.testing.assert_allclose(first, np.tanh(np.ones((2, 3))), rtol=1e-6)


def sgd_problem(seed=0):
    rng = np.random.default_rng(seed)
    x, y = th.tensor("x", (None, 5)), th.tensor("y", (None,))
    w = th.shared(np.zeros(5, np.float32), name="w")
    b = th.shared(np.float32(0.0), name="b")
    loss = th.mean((x @ w + b - y) ** 2)
    gw, gb = th.grad(loss, [w, b])
    batches = [(rng.standard_normal((8, 5)).astype(np.float32), rng.standard_normal(8).astype(np.float32))
               for _ in range(6)]
    return x, y, w, b, loss, [(w, w - 0.1 * gw), (b, b - 0.1 * gb)], batches


def test_shared_updates_accumulate_in_the_shared_tensors(recorded_on_cpu):
    x, y, w, b, loss, updates, batches = sgd_problem()
    f = th.function([x, y], loss, updates=updates, device="cpu")
    wv, bv = np.zeros(5), 0.0
    for step, (xb, yb) in enumerate(batches):
        err = xb.astype(np.float64) @ wv + bv - yb
        want = np.mean(err ** 2)
        np.testing.assert_allclose(f(xb, yb), want, rtol=1e-5)
        wv, bv = wv - 0.1 * 2 * xb.T @ err / len(yb), bv - 0.1 * 2 * err.mean()
        np.testing.assert_allclose(w.get_value(), wv, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b.get_value(), bv, rtol=1e-5, atol=1e-6)
        if step == 1:
            held = w.get_tensor()
    rec = recording(f, (8, 5), (8,))
    assert rec.recorded and rec.capturer.replays == 4
    assert w.get_tensor() is held  # written in place since the capture, never rebound


def test_an_sgd_fit_equals_the_uncaptured_one(recorded_on_cpu, monkeypatch):
    rng = np.random.default_rng(1)
    xs, ys = rng.standard_normal((96, 8)).astype(np.float32), rng.integers(0, 3, 96)

    def fit():
        model = nn.Sequential([nn.Dense(16, activation="relu"), nn.Dense(3)], input_shape=(8,), seed=0)
        model.compile(th.optim.SGD(0.1, momentum=0.9), "cross_entropy", device="cpu")
        history = model.fit(xs, ys, epochs=2, batch_size=32, shuffle=True, verbose=0)
        return model, history.history["loss"], model.predict(xs[:10])

    captured, losses, predicted = fit()
    assert set(captured.train_function.cuda_graph_status().values()) == {"captured"}
    monkeypatch.delitem(capture.CAPTURERS, "cpu")
    plain, want_losses, want_predicted = fit()
    assert plain.train_function._recordings is None
    np.testing.assert_allclose(losses, want_losses, rtol=1e-6)
    np.testing.assert_allclose(predicted, want_predicted, rtol=1e-5, atol=1e-6)
    got, want = captured.get_weights(), plain.get_weights()
    assert list(got) == list(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-6)


def test_model_compile_turns_capture_off_for_its_steps(recorded_on_cpu):
    rng = np.random.default_rng(2)
    xs, ys = rng.standard_normal((64, 8)).astype(np.float32), rng.integers(0, 3, 64)
    model = nn.Sequential([nn.Dense(3)], input_shape=(8,), seed=0)
    for asked, want in ((False, "not captured: cuda_graph is off"), (None, "captured")):
        model.compile("sgd", "cross_entropy", device="cpu", cuda_graph=asked)
        model.fit(xs, ys, epochs=2, batch_size=32, shuffle=False, verbose=0)
        model.predict(xs[:32])
        model.predict(xs[:32])
        assert set(model.train_function.cuda_graph_status().values()) == {want}
        assert set(model.predict_function.cuda_graph_status().values()) == {want}


def test_a_shared_variable_written_but_never_read_is_written_in_place(recorded_on_cpu):
    x = th.tensor("x", (2,))
    last = th.shared(np.zeros(2, np.float32), name="last")
    f = th.function([x], x.sum(), updates=[(last, x * 2)], device="cpu")
    for k in range(4):
        assert f(np.full(2, k, np.float32)) == 2 * k
        np.testing.assert_array_equal(last.get_value(), [2 * k, 2 * k])
    assert recording(f, (2,)).recorded


def test_a_new_input_shape_gets_its_own_capture(recorded_on_cpu):
    x = th.tensor("x", (None,))
    f = th.function([x], x * 2, device="cpu")
    for n in (3, 3, 5, 3, 5, 5):
        np.testing.assert_array_equal(f(np.arange(n, dtype=np.float32)), 2 * np.arange(n))
    assert f.cuda_graph_status() == {((3,),): "captured", ((5,),): "captured"}
    assert recording(f, (3,)).capturer is not recording(f, (5,)).capturer


def test_set_value_after_capture_is_copied_into_the_recorded_tensor(recorded_on_cpu):
    x = th.tensor("x", (2,))
    w = th.shared(np.ones(2, np.float32), name="w")
    f = th.function([x], x * w, device="cpu", updates=[(w, w + 1)])
    f(np.ones(2, np.float32))
    f(np.ones(2, np.float32))
    held = w.get_tensor()
    w.set_value(np.array([10.0, 20.0], np.float32))
    np.testing.assert_array_equal(f(np.ones(2, np.float32)), [10, 20])
    np.testing.assert_array_equal(w.get_value(), [11, 21])
    assert w.get_tensor() is held and recording(f, (2,)).capturer.replays == 1


def test_shared_variables_left_sharing_a_tensor_are_recorded_apart(recorded_on_cpu):
    """A target network copied from the online one (`target <- online`, uncaptured) holds
    the online weights' tensor itself; a recording that updates one must not write the other."""
    online = th.shared(np.ones(2, np.float32), name="online")
    target = th.shared(np.zeros(2, np.float32), name="target")
    x = th.tensor("x", (2,))
    train = th.function([x], (online * x).sum(), updates=[(online, online + x)], device="cpu")
    train(np.ones(2, np.float32))
    train(np.ones(2, np.float32))  # recorded: online's tensor is now the recording's own
    sync = th.function([], [], updates=[(target, online)], device="cpu", cuda_graph=False)
    # a step that reads both and moves the target alone (a soft update, say)
    act = th.function([x], (online * x).sum() + (target * x).sum(), updates=[(target, target + 1)], device="cpu")
    act(np.ones(2, np.float32))  # plain
    sync()
    assert target.get_tensor() is online.get_tensor()
    for _ in range(3):  # recorded on the first of these
        act(np.ones(2, np.float32))
    assert recording(act, (2,)).recorded
    np.testing.assert_array_equal(online.get_value(), [3, 3])
    np.testing.assert_array_equal(target.get_value(), [6, 6])


def test_a_call_that_fails_leaves_every_shared_variable_as_it_was(recorded_on_cpu):
    x, i = th.tensor("x", (3,)), th.tensor("i", (2,), "int64")
    w = th.shared(np.zeros(3, np.float32), name="w")
    c = th.shared(np.float32(0.0), name="c")
    f = th.function([x, i], th.take(w + x, i).sum(), device="cpu", updates=[(w, w + x), (c, c + 1)])
    good = np.array([0, 2])
    f(np.ones(3, np.float32), good)
    f(np.ones(3, np.float32), good)
    assert recording(f, (3,), (2,)).recorded
    with pytest.raises(Exception, match="index"):
        f(np.ones(3, np.float32), np.array([0, 7]))
    np.testing.assert_array_equal(w.get_value(), [2, 2, 2])
    assert c.get_value() == 2
    assert f(np.ones(3, np.float32), good) == 6  # and the recording still works
    np.testing.assert_array_equal(w.get_value(), [3, 3, 3])


def test_draws_differ_on_every_replay_and_a_new_seed_restarts_them(recorded_on_cpu):
    rng = th.RandomState(7)
    x = th.tensor("x", (1000,))
    f = th.function([x], th.nn.dropout(x, 0.5, rng=rng), device="cpu")
    ones = np.ones(1000, np.float32)
    masks = [f(ones) for _ in range(5)]
    assert recording(f, (1000,)).recorded
    for m in masks:
        assert set(np.unique(m)) == {0.0, 2.0} and 400 < np.count_nonzero(m) < 600
    for a in range(5):
        for b in range(a):
            assert not np.array_equal(masks[a], masks[b])
    assert int(rng.counter.get_value()) == 5
    rng.set_seed(7)  # drops the recording: the draws start over as after the first seeding
    again = [f(ones) for _ in range(5)]
    for a, b in zip(masks, again):
        np.testing.assert_array_equal(a, b)
    assert recording(f, (1000,)).recorded


@pytest.mark.parametrize("build, reason", [
    (lambda x: th.while_loop(lambda i, v: v.sum() < 100.0, lambda i, v: (i + 1, v * 2),
                             (th.constant(0), x))[1], "op while_loop"),
    (lambda x: th.cond(x.sum() > 0, lambda: x * 2, lambda: x - 1), "op cond"),
    (lambda x: th.nonzero(x)[0].astype("float32"), "op argwhere"),
])
def test_programs_that_read_device_values_on_the_host_run_plainly(recorded_on_cpu, build, reason):
    x = th.tensor("x", (4,))
    f = th.function([x], build(x), device="cpu")
    plain = th.function([x], build(x), device="cpu", cuda_graph=False)
    for v in ([1, -2, 3, 0], [5, 6, 0, 1], [-1, -1, 2, 0]):
        v = np.array(v, np.float32)
        np.testing.assert_array_equal(f(v), plain(v))
    (status,) = f.cuda_graph_status().values()
    assert status.startswith(f"not captured: {reason}") and "reads device values on the host" in status
    assert f.source.startswith(f"# CUDA graph: not captured: {reason}")


def test_a_scan_of_static_length_is_captured_and_one_of_tensor_length_is_not(recorded_on_cpu):
    xs, n = th.tensor("xs", (5, 3)), th.tensor("n", (), "int64")
    w = th.shared(np.full(3, 0.5, np.float32), name="w")
    _, ys = th.scan(lambda c, x: (c * w + x, c * w + x), init=th.zeros((3,)), xs=xs)
    f = th.function([xs], ys, device="cpu")
    counted = th.function([n], th.scan(lambda c, _: (c + 1.0, c), init=th.zeros(()), length=n)[0], device="cpu")
    for k in range(3):
        v = np.arange(15, dtype=np.float32).reshape(5, 3) * (k + 1)
        want, c = [], np.zeros(3)
        for row in v:
            c = c * 0.5 + row
            want.append(c)
        np.testing.assert_allclose(f(v), want, rtol=1e-6)
        assert counted(np.int64(k + 2)) == k + 2
    assert f.cuda_graph_status() == {((5, 3),): "captured"}
    (status,) = counted.cuda_graph_status().values()
    assert status.startswith("not captured: op scan")


def test_nan_guard_user_ops_and_shape_changing_updates_are_not_captured(recorded_on_cpu):
    x = th.tensor("x", (3,))
    guarded = th.function([x], x * 2, device="cpu", nan_guard=True)
    guarded(np.ones(3, np.float32))
    assert "nan_guard" in guarded.cuda_graph_status()[((3,),)]

    @th.op
    def twice(a):
        return a * 2
    user = th.function([x], twice(x), device="cpu")
    np.testing.assert_array_equal(user(np.ones(3, np.float32)), [2, 2, 2])
    assert "op twice" in user.cuda_graph_status()[((3,),)]

    grow = th.shared(np.zeros(1, np.float32), name="grow", shape=(None,))
    g = th.function([x], x.sum(), updates=[(grow, th.concatenate([grow, x[:1]]))], device="cpu")
    for _ in range(3):
        g(np.ones(3, np.float32))
    assert grow.get_value().shape == (4,)
    assert all("changes its shape" in s for s in g.cuda_graph_status().values())


def test_a_program_keeping_work_on_weights_between_calls_runs_plainly(recorded_on_cpu):
    """Its static part (compile/hoist.py) is redone when the weights change; a replay would
    not redo it. After a captured training step moves the weights, it sees them."""
    x = th.tensor("x", (2,))
    w = th.shared(np.ones(2, np.float32), name="w")
    s = th.shared(np.zeros(2, np.float32), name="s")
    predict = th.function([x], x * (w * th.exp(s)), device="cpu")
    train = th.function([x], x.sum(), updates=[(s, s + 0.5)], device="cpu")
    for k in range(4):
        np.testing.assert_allclose(predict(np.ones(2, np.float32)), np.exp(np.full(2, 0.5 * k)), rtol=1e-6)
        train(np.ones(2, np.float32))
    assert predict.last_program.static is not None
    assert "keeps its work on weights alone" in predict.cuda_graph_status()[((2,),)]
    assert train.cuda_graph_status()[((2,),)] == "captured"


def test_a_capture_that_fails_falls_back_to_plain_calls(recorded_on_cpu, monkeypatch):
    class Refusing(ReplayDouble):
        def capture(self, step):
            raise RuntimeError("operation not permitted when stream is capturing")
    monkeypatch.setitem(capture.CAPTURERS, "cpu", Refusing)
    x = th.tensor("x", (2,))
    w = th.shared(np.zeros(2, np.float32), name="w")
    f = th.function([x], x + w, updates=[(w, w + x)], device="cpu")
    for k in range(4):
        np.testing.assert_array_equal(f(np.ones(2, np.float32)), [k + 1, k + 1])
    assert f.cuda_graph_status()[((2,),)] == ("not captured: the capture failed: RuntimeError: operation "
                                              "not permitted when stream is capturing")
    np.testing.assert_array_equal(w.get_value(), [4, 4])


def test_cpu_functions_are_unchanged_unless_asked(monkeypatch):
    x = th.tensor("x", (2,))
    f = th.function([x], x + 1, device="cpu")
    f(np.ones(2, np.float32))
    assert f._recordings is None and not f.source.startswith("# CUDA graph")
    asked = th.function([x], x + 1, device="cpu", cuda_graph=True)
    asked(np.ones(2, np.float32))
    assert asked.source.startswith("# CUDA graph: not captured: the function runs on cpu\n")
    assert asked.cuda_graph_status() == {((2,),): "not captured: the function runs on cpu"}


def test_static_caches_recompute_after_untracked_writes():
    """A replay writes shared tensors without moving torch's version counters: the weight
    work other functions keep (compile/hoist.py) must not be trusted after it."""
    runs = []

    class Program:
        def run(self, t):
            runs.append(1)
            return (t * 2,)
    cache, t = StaticCache(Program()), torch.ones(2)
    cache(t)
    cache(t)
    assert len(runs) == 1
    note_untracked_writes()
    cache(t)
    assert len(runs) == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="records a real CUDA graph: needs a CUDA device")
def test_a_training_step_is_captured_on_cuda():
    x, y, w, b, loss, updates, batches = sgd_problem()
    f = th.function([x, y], loss, updates=updates, device="cuda")
    wv, bv = np.zeros(5), 0.0
    for xb, yb in batches:
        err = xb.astype(np.float64) @ wv + bv - yb
        np.testing.assert_allclose(f(xb, yb), np.mean(err ** 2), rtol=1e-4)
        wv, bv = wv - 0.1 * 2 * xb.T @ err / len(yb), bv - 0.1 * 2 * err.mean()
    np.testing.assert_allclose(w.get_value(), wv, rtol=1e-4, atol=1e-5)
    assert f.cuda_graph_status() == {((8, 5), (8,)): "captured"}
    rng = th.RandomState(3, device="cuda")
    d = th.function([x], th.nn.dropout(x, 0.5, rng=rng), device="cuda")
    masks = [d(np.ones((8, 5), np.float32)) for _ in range(4)]
    assert d.cuda_graph_status() == {((8, 5),): "captured"}
    assert not np.array_equal(masks[2], masks[3]) and set(np.unique(masks[3])) <= {0.0, 2.0}
