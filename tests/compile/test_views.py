"""compile/passes/views.py: shape bookkeeping that cancels out is gone from the program,
the values are the unrewritten program's, and near misses keep their ops."""
import numpy as np
import theon as th
from theon.compile.passes.canonicalize import CANONICALIZE
from theon.compile.passes.fold import FOLD
from theon.compile.pipeline import PASSES, RewritePass
from theon.ops.assertion import check, check_dim
from theon.rewrite import RuleSet


def _compile_without_views(ins, outs, values):
    """The reference: compiled (on its first call) with the canonicalize pass as it was
    before these rules."""
    i = next(k for k, p in enumerate(PASSES) if p.name == "canonicalize")
    kept = PASSES[i]
    PASSES[i] = RewritePass("canonicalize", RuleSet(FOLD + CANONICALIZE))
    try:
        f = th.function(ins, outs)
        return f, f(*values)
    finally:
        PASSES[i] = kept


def _lstm_step_like():
    """An ONNX LSTM step after its one-step scan is inlined: index the state, re-add and drop
    unit axes, stack one step, a ReduceMean over a unit axis, a decided check."""
    state = th.tensor("state", (2, 1, 4))
    x = th.tensor("x", (1, 3, 4))
    h = th.expand_dims(state[0], 0)[0]                         # index_of_expand_dims
    c = th.expand_dims(state[1], 0)[0]
    whole = x[0:1 << 62, :, 0:4]                               # whole_slices
    xt = th.squeeze(check_dim(whole, 2, 4, "width"), 0)        # check_dim_known
    h2 = th.tanh(h + xt.sum(axis=0, keepdims=True))
    c2 = c * 0.5 + h2
    y = th.squeeze(th.stack([h2], axis=0), 0)                  # stack_of_one, squeeze_of_expand_dims
    q = th.sigmoid(y.sum(axis=1, keepdims=True))
    p = th.mean(check(q, True, "never"), axis=1)              # reduction_of_unit_axes, check_of_true
    new_state = th.concatenate([th.expand_dims(y, 0), th.expand_dims(c2, 0)], axis=0)   # concatenate_of_expand_dims
    twice = th.expand_dims(th.squeeze(q * 2.0, 1), 1)         # expand_dims_of_squeeze
    return [state, x], [th.expand_dims(th.squeeze(th.expand_dims(p, 1), 1), 1), new_state, twice]


def _values():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((2, 1, 4)).astype("float32"), rng.standard_normal((1, 3, 4)).astype("float32")]


def _numpy(state, x):
    h2 = np.tanh(state[0] + x[0].sum(axis=0, keepdims=True))
    c2 = state[1] * 0.5 + h2
    p = 1 / (1 + np.exp(-h2.sum(axis=1, keepdims=True)))
    return p, np.stack([h2, c2]), p * 2


def test_bookkeeping_that_cancels_is_gone_and_values_are_the_unrewritten_programs():
    ins, outs = _lstm_step_like()
    before, got_before = _compile_without_views(ins, outs, _values())
    after = th.function(ins, outs)
    got = after(*_values())
    want = _numpy(*_values())
    for g, b, w in zip(got, got_before, want):
        np.testing.assert_array_equal(g, b)
        np.testing.assert_allclose(g, w, rtol=1e-6)
    fired = set(after.last_program.report.fired["canonicalize"])
    assert fired >= {"index_of_expand_dims", "whole_slices", "check_dim_known", "stack_of_one",
                     "squeeze_of_expand_dims", "expand_dims_of_squeeze", "reduction_of_unit_axes",
                     "check_of_true", "concatenate_of_expand_dims"}
    for gone in ("check", "mean", "concatenate", "expand_dims"):
        assert f"# {gone}" not in after.source, gone
    assert "# expand_dims" not in after.source
    assert after.source.count("# getitem") == 2  # state[0] and state[1] alone
    assert "# stack" in after.source  # the new state: one stack of the two rows
    assert after.source.count(" = ") < before.source.count(" = ")


def test_near_misses_keep_their_ops():
    x = th.tensor("x", (2, 3, 4))
    y = [
        th.mean(x, axis=1),                                    # a reduction over an axis of 3
        x[:, 0:2, :],                                          # a slice that drops rows
        x[:, ::-1, :],                                         # one that reverses them
        th.expand_dims(x, 0)[0, 1],                            # an index past the added axis
        th.concatenate([th.expand_dims(x, 1), th.expand_dims(x, 1)], axis=0),  # another axis
        check(x, th.all(x > -100.0), "too small"),             # a condition known only at run time
    ]
    f = th.function([x], y)
    v = np.random.default_rng(1).standard_normal((2, 3, 4)).astype("float32")
    got = f(v)
    want = [v.mean(axis=1), v[:, 0:2], v[:, ::-1], v[1],
            np.concatenate([v[:, None], v[:, None]], axis=0), v]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    for kept in ("# mean", "# getitem", "# concatenate", "# check("):
        assert kept in f.source, kept
    assert "reduction_of_unit_axes" not in f.last_program.report.fired["canonicalize"]
    assert "concatenate_of_expand_dims" not in f.last_program.report.fired["canonicalize"]
    assert "check_of_true" not in f.last_program.report.fired["canonicalize"]


def test_reductions_over_unit_axes_keep_signed_zeros_nan_and_infinities():
    x = th.tensor("x", (4, 1, 1), "float64")
    outs = [th.sum(x, axis=1), th.mean(x, axis=(1, 2)), th.max(x, axis=2), th.mean(x, axis=1, keepdims=True)]
    v = np.array([-0.0, 0.0, np.nan, -np.inf]).reshape(4, 1, 1)
    before, got_before = _compile_without_views([x], outs, [v])
    after = th.function([x], outs)
    got = after(v)
    want = [v.sum(axis=1), v.mean(axis=(1, 2)), v.max(axis=2), v.mean(axis=1, keepdims=True)]
    for g, b, w in zip(got, got_before, want):
        np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(np.signbit(g), np.signbit(w))  # -0.0 summed is +0.0
        np.testing.assert_array_equal(np.signbit(g), np.signbit(b))
    assert "reduction_of_unit_axes" in after.last_program.report.fired["canonicalize"]
    for gone in ("# sum", "# mean", "# max"):
        assert gone not in after.source and gone in before.source, gone
