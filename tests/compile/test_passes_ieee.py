"""Every rewrite rule holds for IEEE special values: a compiled program gives, bit for bit
where the rule is exact, what the graph gives evaluated op by op with no rewrite
(`theon.testing.reference`), on signed zeros, infinities and NaN."""
import numpy as np
import pytest

import theon as th
from theon.compile.passes.canonicalize import CANONICALIZE, exact_widening
from theon.compile.passes.fold import FOLD
from theon.rewrite.stabilize import STABILIZE
from theon.compile.pipeline import optimize
from theon.testing.reference import evaluate

SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e-310, np.inf, -np.inf, np.nan, 30.0, -30.0])
COMPLEX = np.array([complex(r, i) for r in SPECIAL for i in (0.0, -0.0, np.inf, np.nan)])


def _same(got, want, exact=True):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype
    for g, w in ((got.real, want.real), (got.imag, want.imag)):
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg="NaN positions")
        np.testing.assert_array_equal(np.isinf(g) & (g > 0), np.isinf(w) & (w > 0), err_msg="+inf")
        np.testing.assert_array_equal(np.isinf(g) & (g < 0), np.isinf(w) & (w < 0), err_msg="-inf")
        ok = ~np.isnan(w)
        zero = ok & (w == 0)
        np.testing.assert_array_equal(np.signbit(g[zero]), np.signbit(w[zero]), err_msg="zero signs")
        if exact:
            np.testing.assert_array_equal(g[ok], w[ok])
        else:
            np.testing.assert_allclose(g[ok], w[ok], rtol=1e-2, atol=1e-300)  # stabilised: more exact


def _fired(outputs):
    _, report = optimize(outputs, {})
    return {r for names in report.fired.values() for r in names}


def _compare(build, values, dtype="float64", exact=True):
    x = th.tensor("x", values.shape, dtype)
    out = build(x)
    want = evaluate([out], {x: values.astype(dtype)})[0]
    got = th.function([x], out)(values.astype(dtype))
    _same(got, want, exact)
    return _fired([out])


# (expression, rule expected to fire, rule allowed to fire): rules that would change a
# special value must not fire
CASES = [
    (lambda x: x + 0.0, None, False), (lambda x: 0.0 + x, None, False),
    (lambda x: x + (-0.0), "add_zero", True), (lambda x: x - 0.0, "subtract_zero", True),
    (lambda x: x - (-0.0), None, False), (lambda x: x * 1, "multiply_one", True),
    (lambda x: 1.0 * x, "multiply_one", True), (lambda x: x / 1, "divide_one", True),
    (lambda x: -(-x), "double_negative", True),
    (lambda x: x ** 1, "power_one", True), (lambda x: x ** 1.0, "power_one", True),
    (lambda x: x ** 2, "power_two", True), (lambda x: th.power(x, th.constant(2.0)), "power_two", True),
    (lambda x: x + th.constant(np.array([-0.0, 0.0])[:, None] * np.ones((2, 12))), None, False),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_canonical_rules_keep_special_values(case):
    build, rule, _ = CASES[case]
    fired = _compare(lambda x: build(x), SPECIAL if case != len(CASES) - 1 else np.tile(SPECIAL, (2, 1)))
    if rule is not None:
        assert rule in fired
    else:
        assert not fired & {"add_zero", "subtract_zero"}


@pytest.mark.parametrize("expr", [lambda z: z * 1, lambda z: z / 1, lambda z: z + 0j, lambda z: z - 0j,
                                  lambda z: z + complex(-0.0, -0.0)])
def test_complex_identities_keep_special_values(expr):
    assert not _compare(expr, COMPLEX, "complex128") & {"add_zero", "subtract_zero", "multiply_one",
                                                       "divide_one"}


def test_power_rules_leave_complex_and_integer_powers_alone():
    assert not _compare(lambda z: z ** 1, COMPLEX, "complex128") & {"power_one", "power_two"}
    assert "power_two" not in _compare(lambda x: x ** 2, np.arange(-3, 4), "int64")


def test_chained_transposes_and_broadcasts_become_one_view():
    values = np.stack([SPECIAL, -SPECIAL[::-1]])[None].repeat(3, axis=0)   # (3, 2, 12)
    fired = _compare(lambda x: x.transpose((1, 2, 0)).transpose((2, 0, 1)), values)
    assert "transpose_of_transpose" in fired
    fired = _compare(lambda x: x.transpose((2, 0, 1)).transpose((0, 2, 1)), values)
    assert "transpose_of_transpose" in fired
    fired = _compare(lambda x: th.broadcast_to(th.broadcast_to(x, (2, 12)), (4, 2, 12)), SPECIAL)
    assert "broadcast_of_broadcast" in fired


def test_a_sum_gradient_seed_of_ones_is_not_multiplied_in():
    x = th.tensor("x", SPECIAL.shape, "float64")
    g = th.grad(th.sum(x * x), x)
    assert "multiply_broadcast_one" in _fired([g])
    _same(th.function([x], g)(SPECIAL), evaluate([g], {x: SPECIAL})[0])
    assert "multiply_broadcast_one" not in _fired([x * th.ones((2, 12), "float64")])   # x is broadcast


def test_gradient_of_a_square_is_two_x_bit_for_bit():
    x = th.tensor("x", SPECIAL.shape, "float64")
    g = th.grad(th.sum(x ** 2), x)
    f = th.function([x], g)
    assert not any("pow" in line.split("#")[0] for line in f.source.splitlines())   # no pow call
    _same(f(SPECIAL), evaluate([g], {x: SPECIAL})[0])


def test_integer_identities_fire():
    x = th.tensor("x", (3,), "int32")
    assert {"add_zero", "multiply_one"} <= _fired([x + 0, x * 1])


@pytest.mark.parametrize("src, mid, dst", [("int64", "float64", "int64"), ("int32", "float64", "int16"),
                                           ("float32", "float64", "float16"), ("int16", "float32", "int8"),
                                           ("uint8", "int16", "int8"), ("float64", "float32", "float64")])
def test_cast_chain_only_skips_exact_casts(src, mid, dst):
    rng = np.random.default_rng(0)
    if src.startswith("float"):
        values = np.concatenate([SPECIAL[np.isfinite(SPECIAL)], rng.standard_normal(8) * 1e3]).astype(src)
    else:
        info = np.iinfo(src)
        values = np.array([info.min, info.max, info.max - 1, 0, 1, 2 ** min(53, info.bits - 2) + 1], src)
    x = th.tensor("x", values.shape, src)
    out = th.cast(th.cast(x, mid), dst)
    with np.errstate(all="ignore"):
        want = evaluate([out], {x: values})[0]
    _same(th.function([x], out)(values), want)
    assert ("cast_chain" in _fired([out])) == exact_widening(src, mid)


STABLE = [
    (lambda x: th.log(1 + x), "log_one_plus"), (lambda x: th.exp(x) - 1, "exp_minus_one"),
    (lambda x: th.log(th.sigmoid(x)), "log_sigmoid"),
    (lambda x: 1 / (1 + th.exp(-x)), "sigmoid_from_quotient"),
    (lambda x: th.reciprocal(1 + th.exp(-x)), "sigmoid_from_reciprocal"),
    (lambda x: (1 + th.exp(-x)) ** -1, "sigmoid_from_power"),
    (lambda x: 1 - th.sigmoid(x), "one_minus_sigmoid"),
    (lambda x: th.log1p(th.exp(x)), "softplus_from_log1p_exp"),
    (lambda x: th.log1p(-th.sigmoid(x)), "log1p_minus_sigmoid"),
    (lambda x: th.exp(x) / th.sum(th.exp(x), axis=0, keepdims=True), "softmax_from_quotient"),
]


@pytest.mark.parametrize("case", range(len(STABLE)))
def test_stabilising_rules_keep_special_values(case):
    build, rule = STABLE[case]
    with np.errstate(all="ignore"):
        fired = _compare(build, SPECIAL, exact=False)
    assert rule in fired


def test_every_rule_is_covered_here():
    covered = {"add_zero", "subtract_zero", "multiply_one", "divide_one", "double_negative",
               "cast_chain", "multiply_broadcast_one", "power_one", "power_two", "transpose_of_transpose",
               "broadcast_of_broadcast", "log_one_plus", "exp_minus_one", "log_sigmoid", "sigmoid_from_quotient",
               "sigmoid_from_reciprocal", "sigmoid_from_power", "one_minus_sigmoid",
               "softplus_from_log1p_exp", "log1p_minus_sigmoid", "softmax_from_quotient",
               # bookkeeping nodes removed (their output is their input)
               "drop_passthrough",
               # these rewrite to equal values by construction (shape queries, folding with
               # the same kernel), or only change precision (log-softmax forms)
               "fold_constants", "fold_known_dim", "full_like_of_known_shape",
               "broadcast_to_same_shape", "reshape_of_known_dims", "log_softmax", "log_of_selected_softmax"}
    assert {r.name for r in CANONICALIZE + FOLD + STABILIZE} <= covered
