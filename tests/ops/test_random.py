"""Random draws: types, errors, reproducibility, independence and statistics.

`_run` evaluates a graph op by op on the CPU and then applies the default updates of the
shared variables it read, as a compiled function's call does; the tests at the end run the
same checks through `theon.function`.
"""
import threading

import numpy as np
import pytest
import torch

import theon as th
import theon.ops as T
from theon.errors import DTypeError, ShapeError
from theon.graph import Constant, Shared, ancestors, toposort
from theon.ops import random as R


def _evaluate(outputs, givens=None):
    givens = givens or {}
    values = {}

    def value(v):
        if id(v) in values:
            return values[id(v)]
        if isinstance(v, Constant):
            return torch.from_numpy(np.array(v.value))
        if isinstance(v, Shared):
            return v.get_tensor()
        return torch.as_tensor(givens[v])

    for node in toposort(outputs):
        kwargs = {"device": "cpu"} if node.op.needs_device else {}
        result = node.op.kernel(*[value(i) for i in node.inputs], **kwargs)
        results = result if node.op.nout > 1 else (result,)
        for out, r in zip(node.outputs, results):
            values[id(out)] = r
    return [value(o).numpy().copy() for o in outputs]


def _run(outputs, givens=None):
    """One 'call': evaluate, then apply each read shared variable's default update."""
    single = not isinstance(outputs, (list, tuple))
    outputs = [outputs] if single else list(outputs)
    result = _evaluate(outputs, givens)
    shared = [v for v in ancestors(outputs) if isinstance(v, Shared) and v.default_update is not None]
    new = _evaluate([v.default_update for v in shared])
    for v, n in zip(shared, new):
        v.set_value(n)
    return result[0] if single else result


# ---- types --------------------------------------------------------------------------

def test_infer_types():
    rng = R.RandomState(1)
    x = T.tensor("x", (None, 4), "float64")
    assert R.uniform(rng=rng).type.shape == ()
    assert str(R.uniform(size=(2, 3), rng=rng).type) == "float32[2, 3]"
    assert str(R.normal(size=5, dtype="float64", rng=rng).type) == "float64[5,]"
    assert str(R.uniform(size=(T.dim(x, 0), 3), rng=rng).type) == "float32[?, 3]"
    assert str(R.bernoulli(0.5, size=(2,), rng=rng).type) == "float32[2,]"
    assert str(R.bernoulli(x, rng=rng).type) == "float64[?, 4]"
    assert str(R.bernoulli(x, size=(3, 7, 4), dtype="bool", rng=rng).type) == "bool[3, 7, 4]"
    assert str(R.categorical(x, rng=rng).type) == "int64[?, 1]"
    assert str(R.categorical(x, num_samples=5, rng=rng).type) == "int64[?, 5]"
    assert str(R.permutation(6, rng=rng).type) == "int64[6,]"
    # tensor parameters: the broadcast shape and the parameters' float dtype
    lo = T.tensor("lo", (3, 1), "float64")
    assert str(R.uniform(lo, 2.0, rng=rng).type) == "float64[3, 1]"
    assert str(R.normal(lo, T.tensor("s", (5,), "float64"), rng=rng).type) == "float64[3, 5]"
    assert str(R.normal(T.tensor("m", (5,), "int32"), 1.0, size=(2, 5), rng=rng).type) == "float64[2, 5]"


def test_ops_are_impure_nondifferentiable_and_never_merged():
    rng = R.RandomState(1)
    a, b = R.uniform(size=3, rng=rng), R.uniform(size=3, rng=rng)
    assert a is not b and a.owner is not b.owner
    assert a.owner.op.stream != b.owner.op.stream
    op = a.owner.op
    assert op.impure and not op.differentiable and op.needs_device
    assert op.grad(a.owner.inputs, [a], [a]) == [None, None]
    assert a.owner.inputs == (rng.seed, rng.counter)


def test_counter_default_update():
    rng = R.RandomState(3)
    upd = rng.counter.default_update
    assert upd.owner.op.name == "add" and rng.counter in upd.owner.inputs
    assert rng.seed.dtype == rng.counter.dtype == "int64"
    assert rng.seed.default_update is None


# ---- errors -------------------------------------------------------------------------

@pytest.mark.parametrize("build, error, match", [
    (lambda: R.uniform(1.0, 0.0), ValueError, "must not exceed"),
    (lambda: R.normal(0.0, -1.0), ValueError, "non-negative"),
    (lambda: R.bernoulli(1.5), ValueError, r"\[0, 1\]"),
    (lambda: R.uniform(size=3, dtype="int32"), DTypeError, "float"),
    (lambda: R.categorical(T.tensor("s", (), "float32")), ShapeError, "at least one axis"),
    (lambda: R.categorical(T.tensor("s", (2, 0), "float32")), ShapeError, "no classes"),
    (lambda: R.categorical(T.tensor("s", (2, 3)), num_samples=0), ValueError, "positive"),
    (lambda: R.permutation(-1), ValueError, "non-negative"),
    (lambda: R.permutation(T.tensor("n", (), "int64")), ValueError, "Python int"),
    (lambda: R.uniform(size=(-2,)), ShapeError, "negative"),
    (lambda: R.normal(T.tensor("m", (4,)), 1.0, size=(3,)), ShapeError, r"\(4,\).*\(3,\)"),
    (lambda: R.bernoulli(T.tensor("p", (2, 3)), size=(3,)), ShapeError, r"\(2, 3\).*\(3,\)"),
    (lambda: R.uniform(size=3, rng=np.random.default_rng()), TypeError, "RandomState"),
    (lambda: R.RandomState("x"), TypeError, "int"),
])
def test_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_error_names_user_line():
    with pytest.raises(ShapeError, match="test_random.py"):
        R.categorical(T.tensor("s", (), "float32"))


# ---- reproducibility and independence --------------------------------------------------

def _build(rng):
    return [R.uniform(size=20, rng=rng), R.normal(size=(4, 5), rng=rng),
            R.bernoulli(0.5, size=30, rng=rng), R.categorical(np.zeros((3, 50), "float32"), 4, rng=rng),
            R.permutation(30, rng=rng)]


def test_same_seed_same_draws_in_separately_built_graphs():
    first = _run(_build(R.RandomState(42)))
    second = _run(_build(R.RandomState(42)))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    other = _run(_build(R.RandomState(43)))
    assert not np.array_equal(first[0], other[0])


def test_successive_calls_differ_and_counter_advances_once():
    rng = R.RandomState(7)
    outs = _build(rng)
    first = _run(outs)
    assert int(rng.counter.get_value()) == 1
    second = _run(outs)
    assert int(rng.counter.get_value()) == 2
    for a, b in zip(first[:2], second[:2]):
        assert not np.array_equal(a, b)
    assert not np.array_equal(first[4], second[4])


def test_draws_in_one_graph_differ():
    rng = R.RandomState(0)
    a, b = _run([R.uniform(size=50, rng=rng), R.uniform(size=50, rng=rng)])
    assert not np.array_equal(a, b)
    p, q = _run([R.permutation(50, rng=rng), R.permutation(50, rng=rng)])
    assert not np.array_equal(p, q)


def test_global_seed_restarts_default_state():
    R.seed(5)
    a = _run(R.uniform(size=10))
    b = _run(R.uniform(size=10))  # a second draw, and the counter moved: differs
    assert not np.array_equal(a, b)
    R.seed(5)
    np.testing.assert_array_equal(_run(R.uniform(size=10)), a)
    assert R.default_rng() is R.default_rng()
    assert int(R.default_rng().counter.get_value()) == 1


def test_seed_none_and_large_seeds():
    R.RandomState(None)
    big = R.RandomState(2**64 - 1)
    assert int(big.seed.get_value()) == -1
    assert _run(R.uniform(size=3, rng=big)).shape == (3,)


def test_generator_seed_hash():
    seeds = {R.generator_seed(s, c, d) for s in range(4) for c in range(4) for d in range(4)}
    assert len(seeds) == 64
    assert all(0 <= s < 2**63 for s in seeds)
    assert R.generator_seed(1, 2, 3) == R.generator_seed(1, 2, 3)
    assert R.generator_seed(-1, 0, 0) == R.generator_seed(2**64 - 1, 0, 0)


def test_threads_get_the_same_values_as_serial():
    rng = R.RandomState(11)
    u = R.normal(size=1000, rng=rng)
    expected = _evaluate([u])[0]
    results = [None] * 8

    def work(i):
        results[i] = [_evaluate([u])[0] for _ in range(20)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for rs in results:
        for r in rs:
            np.testing.assert_array_equal(r, expected)


# ---- values and statistics -------------------------------------------------------------

N = 200_000


def test_uniform_statistics():
    rng = R.RandomState(1)
    v = _run(R.uniform(-2.0, 3.0, size=N, rng=rng))
    assert v.dtype == np.float32 and v.shape == (N,)
    assert v.min() >= -2.0 and v.max() < 3.0
    assert abs(v.mean() - 0.5) < 0.03
    assert abs(v.var() - 25 / 12) < 0.05


def test_normal_statistics():
    rng = R.RandomState(2)
    v = _run(R.normal(1.5, 2.0, size=(N // 100, 100), dtype="float64", rng=rng))
    assert v.dtype == np.float64 and v.shape == (N // 100, 100)
    assert abs(v.mean() - 1.5) < 0.03
    assert abs(v.std() - 2.0) < 0.03


def test_tensor_parameters():
    rng = R.RandomState(3)
    lo = T.tensor("lo", (3, 1), "float64")
    hi = T.tensor("hi", (1, 4), "float64")
    lo_v = np.array([[-5.0], [0.0], [10.0]])
    hi_v = np.array([[10.5, 11.0, 21.0, 30.0]])
    v = _run(R.uniform(lo, hi, rng=rng), {lo: lo_v, hi: hi_v})
    assert v.shape == (3, 4) and np.all(v >= lo_v) and np.all(v < hi_v)
    m = T.tensor("m", (2,), "float64")
    v = _run(R.normal(m, 0.1, size=(N // 10, 2), rng=rng), {m: np.array([-3.0, 7.0])})
    np.testing.assert_allclose(v.mean(axis=0), [-3.0, 7.0], atol=0.01)
    np.testing.assert_allclose(v.std(axis=0), [0.1, 0.1], rtol=0.03)


def test_bernoulli_frequency():
    rng = R.RandomState(4)
    v = _run(R.bernoulli(0.3, size=N, rng=rng))
    assert v.dtype == np.float32 and set(np.unique(v)) <= {0.0, 1.0}
    assert abs(v.mean() - 0.3) < 0.01
    p = T.tensor("p", (3,), "float64")
    v = _run(R.bernoulli(p, size=(N // 10, 3), rng=rng), {p: np.array([0.0, 0.5, 1.0])})
    assert v.dtype == np.float64
    np.testing.assert_allclose(v.mean(axis=0), [0.0, 0.5, 1.0], atol=0.01)
    b = _run(R.bernoulli(0.5, size=100, dtype="bool", rng=rng))
    assert b.dtype == np.bool_


def test_categorical_frequencies_match_softmax():
    rng = R.RandomState(5)
    logits = np.array([[0.0, 1.0, 2.0, -np.inf], [3.0, 0.0, 0.0, 0.0]], dtype="float32")
    x = T.tensor("x", (None, 4))
    v = _run(R.categorical(x, num_samples=N // 4, rng=rng), {x: logits})
    assert v.dtype == np.int64 and v.shape == (2, N // 4)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    freq = np.stack([np.bincount(row, minlength=4) / row.size for row in v])
    np.testing.assert_allclose(freq, probs, atol=0.01)
    assert not np.any(v[0] == 3)  # probability zero


def test_categorical_batched_and_empty():
    rng = R.RandomState(6)
    x = T.tensor("x", (None, 3, 5))
    assert _run(R.categorical(x, 2, rng=rng), {x: np.zeros((4, 3, 5), "float32")}).shape == (4, 3, 2)
    assert _run(R.categorical(x, 2, rng=rng), {x: np.zeros((0, 3, 5), "float32")}).shape == (0, 3, 2)
    assert _run(R.categorical(np.zeros(7, "float64"), 3, rng=rng)).shape == (3,)


def test_permutation_is_a_permutation():
    rng = R.RandomState(7)
    v = _run(R.permutation(1000, rng=rng))
    assert v.dtype == np.int64
    np.testing.assert_array_equal(np.sort(v), np.arange(1000))
    assert not np.array_equal(v, np.arange(1000))
    assert _run(R.permutation(0, rng=rng)).shape == (0,)


def test_symbolic_size():
    rng = R.RandomState(8)
    x = T.tensor("x", (None, 2))
    u = R.uniform(size=(T.dim(x, 0), 3), rng=rng)
    assert _run(u, {x: np.zeros((5, 2), "float32")}).shape == (5, 3)


def test_kernels_write_out():
    rng = R.RandomState(9)
    seed, counter = rng.seed.get_tensor(), rng.counter.get_tensor()
    for var in (R.uniform(size=(2, 3), rng=rng), R.normal(size=(2, 3), rng=rng),
                R.bernoulli(0.5, size=(2, 3), rng=rng)):
        op = var.owner.op
        assert op.supports_out
        out = torch.empty(2, 3)
        expected = op.kernel(seed, counter, device="cpu")
        assert op.kernel(seed, counter, out=out, device="cpu") is out
        torch.testing.assert_close(out, expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_kernels():
    rng = R.RandomState(10)
    seed, counter = rng.seed.get_tensor(), rng.counter.get_tensor()
    for var in _build(rng):
        op = var.owner.op
        extra = [torch.as_tensor(np.array(i.value)).cuda() for i in var.owner.inputs[2:]]
        a = op.kernel(seed, counter, *extra, device="cuda")
        b = op.kernel(seed.cuda(), counter.cuda(), *extra, device="cuda")
        assert a.device.type == "cuda"
        torch.testing.assert_close(a, b)


# ---- through theon.function ---------------------------------------------------------------

def _compiled(rng, x=None):
    inputs = [] if x is None else [x]
    return th.function(inputs, _build(rng), device="cpu")


def test_compiled_same_seed_same_draws():
    first = _compiled(R.RandomState(42))()
    second = _compiled(R.RandomState(42))()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    th.seed(3)
    a = th.function([], th.normal(size=8), device="cpu")()
    th.seed(3)
    np.testing.assert_array_equal(th.function([], th.normal(size=8), device="cpu")(), a)


def test_compiled_matches_op_by_op():
    rng = R.RandomState(12)
    outs = _build(rng)
    expected = _evaluate(outs)
    for a, b in zip(th.function([], outs, device="cpu")(), expected):
        np.testing.assert_array_equal(a, b)


def test_compiled_calls_differ_and_counter_advances_once_per_call():
    rng = R.RandomState(7)
    f = _compiled(rng)
    first, second = f(), f()
    assert int(rng.counter.get_value()) == 2  # five draws, one step per call
    for a, b in zip(first[:2], second[:2]):
        assert not np.array_equal(a, b)
    g = th.function([], [R.uniform(size=50, rng=rng), R.uniform(size=50, rng=rng)], device="cpu")
    a, b = g()
    assert not np.array_equal(a, b)
    assert int(rng.counter.get_value()) == 3


def test_explicit_counter_update_wins():
    rng = R.RandomState(8)
    u = R.uniform(size=6, rng=rng)
    frozen = th.function([], u, updates=[(rng.counter, rng.counter)], device="cpu")
    np.testing.assert_array_equal(frozen(), frozen())
    assert int(rng.counter.get_value()) == 0
    jump = th.function([], u, updates=[(rng.counter, rng.counter + 10)], device="cpu")
    jump()
    assert int(rng.counter.get_value()) == 10


def test_compiled_symbolic_size_and_tensor_params():
    rng = R.RandomState(9)
    x = th.tensor("x", (None, 3), "float64")
    f = th.function([x], [R.uniform(size=(th.dim(x, 0), 2), rng=rng), R.bernoulli(th.sigmoid(x), rng=rng),
                          R.categorical(x, 4, rng=rng), R.normal(x, 0.5, rng=rng)], device="cpu")
    u, b, c, n = f(np.zeros((5, 3)))
    assert u.shape == (5, 2) and u.dtype == np.float32
    assert b.shape == (5, 3) and b.dtype == np.float64
    assert c.shape == (5, 4) and c.dtype == np.int64 and c.min() >= 0 and c.max() < 3
    assert n.shape == (5, 3) and n.dtype == np.float64
    assert f(np.zeros((2, 3)))[0].shape == (2, 2)


def test_gradient_flows_through_tensor_parameters_only():
    rng = R.RandomState(10)
    m = th.tensor("m", (None, 3), "float64")
    s = th.tensor("s", (3,), "float64")
    z = R.normal(m, s, rng=rng)
    gm, gs = th.grad(None, [m, s], known_grads={z: th.ones_like(z)})
    f = th.function([m, s], [gm, gs, z], device="cpu")
    gm_v, gs_v, z_v = f(np.ones((4, 3)), np.full(3, 2.0))
    np.testing.assert_array_equal(gm_v, np.ones((4, 3)))
    np.testing.assert_allclose(gs_v, ((z_v - 1) / 2).sum(axis=0))  # the same draw as z
    b = R.bernoulli(th.sigmoid(m), rng=rng)
    with pytest.raises(th.errors.GradientError, match=r"only through ops that carry no gradient \(bernoulli\)"):
        th.grad(None, m, known_grads={b: th.ones_like(b)})
