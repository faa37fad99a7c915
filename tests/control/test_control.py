"""scan, cond and while_loop against their Python-loop semantics, and their gradients."""
import re
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import theon as th
from theon.errors import GradientError, ShapeError
from theon.testing import verify_grad

rng = np.random.default_rng(0)


def rnn_reference(h, seq, Wx, Wh, reverse=False):
    hs = [None] * len(seq)
    order = range(len(seq) - 1, -1, -1) if reverse else range(len(seq))
    for t in order:
        hs[t] = h
        h = np.tanh(seq[t] @ Wx + h @ Wh)
    return h, np.stack(hs)


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_matches_the_python_loop(reverse):
    Wx = th.shared(rng.standard_normal((3, 4)), name="Wx")
    Wh = th.shared(rng.standard_normal((4, 4)) * 0.3, name="Wh")
    seq = th.tensor("seq", (None, 2, 3), "float64")
    h0 = th.tensor("h0", (2, 4), "float64")
    h_last, hs = th.scan(lambda h, x: (th.tanh(x @ Wx + h @ Wh), h), init=h0, xs=seq, reverse=reverse)
    f = th.function([h0, seq], [h_last, hs])
    for steps in (1, 6):
        s, h = rng.standard_normal((steps, 2, 3)), rng.standard_normal((2, 4))
        got = f(h, s)
        want = rnn_reference(h, s, Wx.get_value(), Wh.get_value(), reverse)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


def test_scan_over_pytrees_with_length_and_no_sequences():
    a = th.tensor("a", (), "float64")
    (total, count), ys = th.scan(
        lambda c, _: ((c[0] + a, c[1] + 1), {"double": c[0] * 2, "n": c[1]}),
        init=(th.constant(0.0, dtype="float64"), th.constant(np.int64(0))), xs=None, length=4)
    f = th.function([a], [total, count, ys["double"], ys["n"]])
    t, n, d, ns = f(np.float64(1.5))
    assert t == 6.0 and n == 4
    np.testing.assert_allclose(d, [0, 3, 6, 9])
    np.testing.assert_array_equal(ns, [0, 1, 2, 3])


def test_scan_gradients_match_finite_differences_first_and_second_order():
    def fn(h0, seq, Wx, Wh):
        h_last, hs = th.scan(lambda h, x: (th.tanh(x @ Wx + h @ Wh), h * 2), init=h0, xs=seq)
        return h_last.sum() + (hs * hs).sum()
    args = [rng.standard_normal((2, 4)), rng.standard_normal((4, 2, 3)),
            rng.standard_normal((3, 4)), rng.standard_normal((4, 4)) * 0.3]
    verify_grad(fn, args)
    verify_grad(fn, args, order=2, rtol=1e-3, atol=1e-5)


def test_reverse_scan_gradient():
    def fn(h0, seq, w):
        return th.scan(lambda h, x: (th.sin(h * w + x), h * x), init=h0, xs=seq, reverse=True)[1]
    verify_grad(fn, [rng.standard_normal(3), rng.standard_normal((5, 3)), rng.standard_normal(3)])


def test_nested_scan_and_cond_inside_scan():
    def fn(h0, seq, w):
        def outer(h, x):
            inner, _ = th.scan(lambda c, xi: (c * th.tanh(xi * w) + xi, None), init=h, xs=x)
            picked = th.cond(inner.sum() > 0, lambda a: a * w, lambda a: th.sin(a), inner)
            return picked, inner
        h_last, inners = th.scan(outer, init=h0, xs=seq)
        return h_last.sum() + inners.sum()
    args = [rng.standard_normal(3), rng.standard_normal((3, 2, 3)), rng.standard_normal(3)]
    # the value against plain Python loops
    h, s, w = args
    inners = []
    for x in s:
        c = h
        for xi in x:
            c = c * np.tanh(xi * w) + xi
        inners.append(c)
        h = c * w if c.sum() > 0 else np.sin(c)
    ws = [th.tensor(n, a.shape, "float64") for n, a in zip("hsw", args)]
    np.testing.assert_allclose(th.function(ws, fn(*ws))(*args), h.sum() + np.sum(inners))
    verify_grad(fn, args)


def test_loop_invariant_work_is_hoisted_out_of_the_body():
    w = th.tensor("w", (3,), "float64")
    seq = th.tensor("seq", (4, 3), "float64")
    last, _ = th.scan(lambda h, x: (h + x * th.exp(w), None), init=th.zeros(3, "float64"), xs=seq)
    body = last.owner.op.body
    assert not any(n.op.name == "exp" for n in th.graph.toposort(body.outputs))


def test_scan_errors_name_the_body_line():
    seq = th.tensor("seq", (4, 3))
    W = th.tensor("W", (5, 2))
    with pytest.raises(ShapeError) as info:
        th.scan(lambda h, x: (h + x @ W, None), init=th.zeros(3), xs=seq)  # the body line
    assert "(3,) @ (5, 2)" in str(info.value) and f"{__file__}:" in str(info.value)
    with pytest.raises(th.errors.DTypeError, match="carry 0"):
        th.scan(lambda h, x: (h.astype("float64"), None), init=th.zeros(3), xs=seq)
    with pytest.raises(ShapeError, match="give length="):
        th.scan(lambda h, x: (h, None), init=th.zeros(3))


def test_cond_runs_only_the_branch_taken():
    n = th.tensor("n", (), "int64")
    v = th.tensor("v", (3,), "float64")
    f = th.function([n, v], th.cond(n > 0, lambda a: a * 2, lambda a: -a, v))
    np.testing.assert_allclose(f(np.int64(1), np.ones(3)), [2, 2, 2])
    np.testing.assert_allclose(f(np.int64(0), np.ones(3)), [-1, -1, -1])


def test_cond_gradients_in_both_branches():
    def fn(v, w):
        return th.cond(v.sum() > 0, lambda a: th.tanh(a * w), lambda a: a * a * w, v)
    w = rng.standard_normal(3)
    verify_grad(fn, [np.ones(3), w])
    verify_grad(fn, [-np.ones(3), w])


def test_cond_branches_must_agree():
    v = th.tensor("v", (3,))
    with pytest.raises(TypeError, match="returns"):
        th.cond(v.sum() > 0, lambda a: (a, a), lambda a: a, v)
    with pytest.raises(ShapeError, match="branches give"):
        th.cond(v.sum() > 0, lambda a: a, lambda a: a.sum(), v)


def test_while_loop_matches_python_and_differentiates_with_max_iters():
    n = th.tensor("n", (), "int64")
    v = th.tensor("v", (3,), "float64")
    i, acc = th.while_loop(lambda i, a: i < n, lambda i, a: (i + 1, a * 0.5), (0, v), max_iters=100)
    g = th.grad(acc.sum(), v)
    f = th.function([n, v], [i, acc, g])
    count, value, grad = f(np.int64(3), np.ones(3))
    assert count == 3
    np.testing.assert_allclose(value, [0.125] * 3)
    np.testing.assert_allclose(grad, [0.125] * 3)
    verify_grad(lambda v, w: th.while_loop(lambda a: a.sum() < 10, lambda a: a * th.exp(w), v, max_iters=50),
                [np.ones(3), rng.uniform(0, 0.3, 3)])


def test_while_loop_stops_at_max_iters_and_needs_it_for_gradients():
    v = th.tensor("v", (), "float64")
    capped = th.while_loop(lambda a: a < 1e9, lambda a: a + 1, v, max_iters=7)
    assert th.function([v], capped)(np.float64(0)) == 7
    free = th.while_loop(lambda a: a < 10, lambda a: a * 2, v)
    assert th.function([v], free)(np.float64(1)) == 16
    with pytest.raises(GradientError, match="max_iters"):
        th.grad(free, v)


def test_training_step_runs_the_forward_loop_once():
    W = th.shared(rng.standard_normal((4, 4)) * 0.3, name="W")
    seq = th.tensor("seq", (5, 2, 4), "float64")
    h_last, _ = th.scan(lambda h, x: (th.tanh(x + h @ W), None), init=th.zeros((2, 4), "float64"), xs=seq)
    loss = h_last.sum()
    f = th.function([seq], [loss, th.grad(loss, W)])
    f(rng.standard_normal((5, 2, 4)))
    scans = [n for n in f.last_program.schedule if n.op.name == "scan"]
    assert len(scans) == 2  # one forward (keeping its history), one reverse
    assert sum(n.op.history for n in scans) == 1


def test_random_draws_in_a_scan_body_differ_per_step_and_reproduce():
    th.seed(3)
    _, draws = th.scan(lambda c, _: (c, th.uniform(size=(4,))), init=th.constant(0.0), length=3)
    f = th.function([], draws)
    first, second = f(), f()
    assert not np.allclose(first[0], first[1]) and not np.allclose(first[1], first[2])
    assert not np.allclose(first, second)
    th.seed(3)
    _, again = th.scan(lambda c, _: (c, th.uniform(size=(4,))), init=th.constant(0.0), length=3)
    np.testing.assert_array_equal(th.function([], again)(), first)


def test_function_source_shows_every_body_before_anything_runs():
    seq = th.tensor("seq", (4, 3), "float64")
    last, _ = th.scan(lambda h, x: (th.tanh(h + x), None), init=th.zeros(3, "float64"), xs=seq)
    picked = th.cond(last.sum() > 0, lambda v: v * 2, lambda v: th.exp(v), last)
    total, _ = th.scan(lambda h, x: (h + x, None), init=th.zeros(3, "float64"), xs=seq)
    f = th.function([seq], [picked, total])
    source = f.source  # the inputs' shapes are declared: compiled without a call
    bodies = re.findall(r"^def (\w+)\(", source, flags=re.M)
    assert len(bodies) == 5 and len(set(bodies)) == 5  # program, 2 scan bodies, 2 branches
    assert sum("scan_body" in b for b in bodies) == 2
    assert any("cond_true" in b for b in bodies) and any("cond_false" in b for b in bodies)
    false_branch = source.split("cond_false")[-1]
    assert "exp" in false_branch  # the branch that never ran is compiled and shown
    for name in bodies[1:]:  # the outer program's calls name each body
        assert name in source.split("\n\n")[0]


def test_a_carry_that_changes_shape_at_the_call_is_an_error_naming_the_body_line():
    seq = th.tensor("seq", (None, None), "float64")
    start = th.tensor("start", (None,), "float64")
    last, _ = th.scan(lambda h, x: (th.concatenate([h, x[:1]]), None), init=start, xs=seq)
    f = th.function([start, seq], last)
    with pytest.raises(ShapeError, match=r"carry 0 enters the body as float64\[2,\] but the body "
                                         r"returns float64\[3,\](.|\n)*body line: .*test_control.py"):
        f(np.zeros(2), np.zeros((3, 2)))


def test_cond_branches_whose_shapes_differ_at_the_call_are_an_error():
    x = th.tensor("x", (None,), "float64")
    y = th.cond(x.sum() > 0, lambda v: v, lambda v: v[1:], x)
    f = th.function([x], y)
    with pytest.raises(ShapeError, match=r"branches give float64\[3,\] and float64\[2,\]"
                                         r"(.|\n)*true branch: .*test_control.py"):
        f(np.ones(3))


def test_scan_sequences_of_different_lengths_at_the_call_are_an_error():
    a, b = th.tensor("a", (None,), "float64"), th.tensor("b", (None,), "float64")
    total, _ = th.scan(lambda c, xs: (c + xs[0] * xs[1], None), init=th.constant(0.0, dtype="float64"), xs=(a, b))
    f = th.function([a, b], total)
    assert f(np.ones(3), np.ones(3)) == 3
    with pytest.raises(ShapeError, match="different lengths"):
        f(np.ones(3), np.ones(4))


def test_scan_length_may_be_symbolic():
    n = th.tensor("n", (), "int64")
    a = th.tensor("a", (), "float64")
    total, ys = th.scan(lambda c, _: (c * a, c), init=th.constant(1.0, dtype="float64"), length=n)
    f = th.function([n, a], [total, ys, th.grad(total, a)])
    t, y, g = f(4, 2.0)
    assert t == 16.0 and g == 4 * 2.0 ** 3
    np.testing.assert_array_equal(y, [1, 2, 4, 8])
    t0, y0, g0 = f(0, 2.0)
    assert t0 == 1.0 and y0.shape == (0,) and g0 == 0.0
    seq = th.tensor("seq", (None,), "float64")
    summed, _ = th.scan(lambda c, x: (c + x, None), init=th.constant(0.0, dtype="float64"), xs=seq, length=n)
    g = th.function([seq, n], summed)
    assert g(np.ones(3), 3) == 3.0
    with pytest.raises(ShapeError, match="length=4 but the sequences have length 3"):
        g(np.ones(3), 4)
    with pytest.raises(ShapeError, match="length must be an int or an integer scalar"):
        th.scan(lambda c, _: (c, None), init=th.constant(0.0), length=th.tensor("f", (), "float64"))


def test_only_the_branch_taken_runs_its_own_work():
    calls = []

    @dataclass(frozen=True)
    class Counted(th.Op):  # records each run of its kernel
        label: str = ""
        name: ClassVar[str] = "counted"

        def infer(self, x):
            return [x.type]

        def kernel(self, x):
            calls.append(self.label)
            return x * 2

    x = th.tensor("x", (3,), "float64")   # the branches read only outer values
    y = th.tensor("y", (3,), "float64")
    p = th.tensor("p", (), "bool")
    out = th.cond(p, lambda: Counted("true")(x), lambda: Counted("false")(y))
    f = th.function([p, x, y], out)
    np.testing.assert_array_equal(f(True, np.ones(3), np.zeros(3)), [2, 2, 2])
    assert calls == ["true"]
    np.testing.assert_array_equal(f(False, np.ones(3), np.full(3, 5.0)), [10, 10, 10])
    assert calls == ["true", "false"]
    assert th.function([p, x], th.cond(p, lambda: x, lambda: x * 3))(True, np.ones(3)).tolist() == [1, 1, 1]
