"""Each compiler pass keeps the graph valid (ordered, typed, located) and its values."""
import numpy as np
import pytest

import theon as th
from theon.compile.pipeline import PASSES, optimize
from theon.graph import Variable, TensorType, toposort, verify
from theon.testing.reference import evaluate


def _logistic():
    x = th.tensor("x", (None, 5))
    y = th.tensor("y", (None,), "int64")
    W = th.shared(np.full((5, 3), 0.1, "float32"), name="W")
    loss = th.nn.cross_entropy(x @ W, y).mean()
    return [x, y], [loss, th.grad(loss, W)], [np.random.rand(4, 5).astype("float32"), np.array([0, 2, 1, 0])]


def _convnet():
    x = th.tensor("x", (None, 1, 8, 8))
    w = th.shared(np.random.default_rng(0).standard_normal((2, 1, 3, 3)).astype("float32"), name="w")
    h = th.nn.max_pool2d(th.relu(th.nn.conv2d(x, w, padding="same")), 2)
    loss = th.log(th.nn.softmax(h.reshape((h.shape[0], -1)), axis=1)).sum()
    return [x], [loss, *th.grad(loss, [x, w])], [np.random.rand(2, 1, 8, 8).astype("float32")]


def _rnn():
    seq = th.tensor("seq", (None, 2, 3), "float64")
    W = th.shared(np.random.default_rng(1).standard_normal((3, 3)) * 0.3, name="W")
    h, _ = th.scan(lambda h, x: (th.tanh(x + h @ W), None), init=th.zeros((2, 3), "float64"), xs=seq)
    return [seq], [h.sum(), th.grad(h.sum(), W)], [np.random.rand(4, 2, 3)]


# what the whole-graph passes must have made of each graph
MERGED = {"logistic": set(), "convnet": {"ConvBackward", "MaxPoolWithIndices"}, "rnn": {"Scan"}}


@pytest.mark.parametrize("name,build", [("logistic", _logistic), ("convnet", _convnet), ("rnn", _rnn)])
def test_every_pass_keeps_the_graph_valid_and_its_values(name, build):
    expected_merge = MERGED[name]
    inputs, outputs, arrays = build()
    concrete = {v: Variable(TensorType(v.dtype, a.shape), name=v.name) for v, a in zip(inputs, arrays)}
    want = evaluate(outputs, dict(zip(inputs, arrays)))
    current, mapping = outputs, concrete
    for p in PASSES:  # the rewrites and the whole-graph passes alike
        current = p.run(current, mapping)
        mapping = None
        verify(current)
        assert all(n.loc is not None for n in toposort(current)), f"{p.name} lost a source location"
        got = evaluate(current, {concrete[v]: a for v, a in zip(inputs, arrays)})
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6, err_msg=f"after pass {p.name}")
    fired = {type(n.op).__name__ for n in toposort(current)}
    assert expected_merge <= fired, f"the whole-graph passes did not merge: {expected_merge - fired}"


def test_trace_flag_logs_each_rule(caplog, monkeypatch):
    monkeypatch.setattr(th.config, "TRACE", True)
    x = th.tensor("x", (3,), "float64")
    with caplog.at_level("WARNING", logger="theon.rewrite"):
        th.function([x], th.log(1 + x)).compile_for(np.zeros(3))
    assert "rewrite log_one_plus" in caplog.text


def test_pipeline_report_times_every_pass():
    x = th.tensor("x", (3,))
    _, report = optimize([th.exp(x) * 1], {})
    assert list(report.timings) == [p.name for p in PASSES]
    assert "multiply_one" in report.fired["canonicalize"] + report.fired["specialize"]


def test_a_cond_on_a_predicate_known_when_compiling_becomes_its_taken_branch():
    """x.shape[0] > 2 folds once the call's shape is known: the program runs the taken
    branch's ops directly, with the same values as the cond."""
    w = th.shared(np.arange(3, dtype="float32"), name="w")
    x = th.tensor("x", dtype="float32", shape=(None,))
    y = th.cond(x.shape[0] > 2, lambda a: a * th.exp(w[:1]) + 1.0, lambda a: a - w[0], x)
    f = th.function([x], y)
    for n in (3, 2):
        xv = np.linspace(-1, 1, n).astype("float32")
        expected = xv * np.exp(w.get_value()[:1]) + 1 if n > 2 else xv - w.get_value()[0]
        np.testing.assert_allclose(f(xv), expected, rtol=1e-6)
        assert "cond" not in f.source and "cond_of_constant_predicate" in f.last_program.report.fired["specialize"]


@pytest.mark.parametrize("steps", [1, 3])
def test_a_scan_of_one_step_becomes_its_body(steps):
    """Known once the sequence's length is: the body runs once, the stacked outputs have a
    unit axis, the values are the loop's; a longer scan keeps its loop."""
    rng = np.random.default_rng(0)
    w = th.shared((rng.standard_normal((3, 3)) * 0.5).astype("float32"), name="w")
    x, h0 = th.tensor("x", (None, 3)), th.tensor("h", (3,))

    def step(h, xt):
        h2 = th.tanh(h @ w + xt)
        return h2, h2 * 2.0
    hT, ys = th.scan(step, h0, x)
    f = th.function([h0, x], [hT, ys])
    hv, xv = rng.standard_normal(3).astype("float32"), rng.standard_normal((steps, 3)).astype("float32")
    h, want = hv, []
    for t in range(steps):
        h = np.tanh(h @ w.get_value() + xv[t])
        want.append(h * 2)
    got = f(hv, xv)
    np.testing.assert_allclose(got[0], h, rtol=1e-5)
    np.testing.assert_allclose(got[1], np.stack(want), rtol=1e-5)
    assert ("scan" in f.source) == (steps > 1)
    assert ("scan_of_one_step" in f.last_program.report.fired["specialize"]) == (steps == 1)


def test_reshapes_to_known_dims_take_int_shapes_and_a_reshape_to_the_own_shape_vanishes():
    # an imported classifier's tail: Flatten to (batch, C) and a Reshape of the logits to
    # (batch, classes), both sizing by the batch dim, which specialisation makes a constant
    x = th.tensor("x", (None, 4, 1, 1), "float64")
    h = x.reshape((x.shape[0], 4))
    y = th.nn.softmax(h, axis=1).reshape((h.shape[0], -1))
    f = th.function([x], y)
    v = np.random.default_rng(0).standard_normal((3, 4, 1, 1))
    e = np.exp(v.reshape(3, 4) - v.reshape(3, 4).max(axis=1, keepdims=True))
    np.testing.assert_allclose(f(v), e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    calls = [ln for ln in f.source.splitlines() if "# reshape" in ln]
    assert len(calls) == 1 and "shape=(3, 4)" in calls[0] and "reshape_0(x_0)" in calls[0]
    # a reshape whose size stays symbolic keeps its dim input (the unspecialised graph)
    z = th.tensor("z", (None, 4))
    kept = z.reshape((z.shape[0] * 2, 2)).owner
    assert len(kept.inputs) == 2
