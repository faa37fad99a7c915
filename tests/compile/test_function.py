"""th.function: calling, caching, input validation, updates, errors, generated source."""
import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch

import theon as th
from theon.errors import InputError, KernelError


@dataclass(frozen=True)
class Explode(th.Op):
    """A test op whose kernel fails when any input element is negative."""
    name: ClassVar[str] = "explode"

    def infer(self, x):
        return [x.type]

    def kernel(self, x):
        if bool((x < 0).any()):
            raise ValueError("negative input")
        return x.clone()


def test_logistic_regression_step_from_the_issue():
    rng = np.random.default_rng(0)
    x = th.tensor("x", shape=(None, 784))
    y = th.tensor("y", shape=(None,), dtype="int64")
    W = th.shared(rng.standard_normal((784, 10)).astype("float32") * 0.01, name="W")
    b = th.shared(np.zeros(10, "float32"), name="b")
    logits = x @ W + b
    loss = th.nn.cross_entropy(logits, y).mean()
    gW, gb = th.grad(loss, [W, b])
    train = th.function([x, y], loss, updates=[(W, W - 0.1 * gW), (b, b - 0.1 * gb)])
    xs = rng.random((64, 784)).astype("float32")
    ys = rng.integers(0, 10, 64)
    losses = [float(train(xs, ys)) for _ in range(20)]
    assert losses[0] == pytest.approx(np.log(10), rel=0.05)
    assert losses[-1] < losses[0] * 0.8
    assert "def " in train.source and "cross_entropy" in train.source


def test_second_call_with_same_shapes_reuses_the_program():
    x = th.tensor("x", (None,))
    f = th.function([x], th.exp(x))
    f(np.zeros(3, "float32"))
    f(np.ones(3, "float32"))
    assert f.compile_count == 1
    f(np.ones(5, "float32"))
    assert f.compile_count == 2


def test_recompile_log_names_the_input_and_both_shapes(caplog):
    x = th.tensor("x", (None, 2))
    f = th.function([x], x * 2, name="double")
    with caplog.at_level(logging.INFO, logger="theon.compile"):
        f(np.zeros((3, 2), "float32"))
        f(np.zeros((7, 2), "float32"))
    assert "recompiling double: input 0 ('x') changed shape from (3, 2) to (7, 2)" in caplog.text


def test_wrong_argument_count_and_names():
    x, y = th.tensor("x", (2,)), th.tensor("y", (2,))
    f = th.function([x, y], x + y)
    with pytest.raises(InputError, match="missing argument"):
        f(np.zeros(2, "float32"))
    with pytest.raises(InputError, match="no input named 'z'"):
        f(np.zeros(2, "float32"), z=np.zeros(2, "float32"))
    np.testing.assert_array_equal(f(y=np.ones(2, "float32"), x=np.ones(2, "float32")), [2, 2])


def test_unsafe_dtype_rank_and_shape_are_rejected_naming_the_input():
    x = th.tensor("x", (None, 3), "float32")
    f = th.function([x], x * 2)
    with pytest.raises(InputError, match=r"input 0 \('x'\) expects float32; got float64"):
        f(np.zeros((2, 3)))
    with pytest.raises(InputError, match=r"expects shape \(\?, 3\); got shape \(2, 4\)"):
        f(np.zeros((2, 4), "float32"))
    with pytest.raises(InputError, match=r"got shape \(3,\)"):
        f(np.zeros(3, "float32"))
    # safe casts and Python lists are accepted
    np.testing.assert_array_equal(f(np.ones((1, 3), "int16")), [[2, 2, 2]])
    np.testing.assert_array_equal(f([[1.0, 2.0, 3.0]]), [[2, 4, 6]])


def test_inputs_not_listed_are_named():
    x, y = th.tensor("x", (2,)), th.tensor("y", (2,))
    with pytest.raises(InputError, match="not listed in inputs: y"):
        th.function([x], x + y)


def test_updates_are_computed_before_any_shared_is_written():
    a = th.shared(np.float32(1.0), name="a")
    b = th.shared(np.float32(2.0), name="b")
    swap = th.function([], [], updates=[(a, b), (b, a)])
    swap()
    assert a.get_value() == 2.0 and b.get_value() == 1.0


def test_a_failing_call_changes_no_shared_variable_and_names_the_op_and_line():
    x = th.tensor("x", (3,))
    counter = th.shared(np.float32(0.0), name="counter")
    w = th.shared(np.ones(3, "float32"), name="w")
    out = Explode()(x * w)  # the failing line
    f = th.function([x], out, updates=[(counter, counter + 1), (w, w * 2)])
    f(np.ones(3, "float32"))
    with pytest.raises(KernelError) as info:
        f(-np.ones(3, "float32"))
    msg = str(info.value)
    assert "explode" in msg and "(3,)" in msg and "negative input" in msg
    assert f"{__file__}:" in msg and "Explode()(x * w)" in msg
    assert counter.get_value() == 1.0
    np.testing.assert_array_equal(w.get_value(), [2, 2, 2])


def test_outputs_never_alias_inputs_shared_or_constants():
    x = th.tensor("x", (3,))
    s = th.shared(np.ones(3, "float32"))
    f = th.function([x], [x, s, th.constant(np.arange(3, dtype="float32"))])
    a = np.zeros(3, "float32")
    out_x, out_s, out_c = f(a)
    out_x[0] = out_s[0] = out_c[0] = 42
    assert a[0] == 0 and s.get_value()[0] == 1
    assert f(a)[2][0] == 0


def test_givens_substitute_before_compiling():
    x, y = th.tensor("x", ()), th.tensor("y", ())
    f = th.function([y], x * 3, givens={x: y + 1})
    assert f(np.float32(1)) == 6


def test_keep_on_device_returns_torch_tensors():
    x = th.tensor("x", (2,))
    out = th.function([x], x + 1, keep_on_device=True)(np.zeros(2, "float32"))
    from theon.backend.device import default_device, resolve_device
    assert isinstance(out, torch.Tensor) and out.device == resolve_device(default_device())


def test_elementwise_chain_reuses_dead_buffers_and_frees_them():
    x = th.tensor("x", (1000,))
    f = th.function([x], th.tanh(th.exp(x) * 2 + 1) - 3)
    f(np.zeros(1000, "float32"))
    assert f.source.count("out=") >= 3
    assert "del " in f.source


def test_reused_buffers_never_clobber_values_still_needed():
    x = th.tensor("x", (4,))
    a = th.exp(x)
    b = a * 2          # a is still needed below: it must not be overwritten here
    c = th.sin(a) + b
    got = th.function([x], [c, b])(np.arange(4, dtype="float32"))
    a_ = np.exp(np.arange(4, dtype="float32"))
    np.testing.assert_allclose(got[0], np.sin(a_) + a_ * 2, rtol=1e-6)
    np.testing.assert_allclose(got[1], a_ * 2, rtol=1e-6)


def test_constants_fold_when_compiling():
    x = th.tensor("x", (3,))
    c = th.constant(np.array([1.0, 2.0, 3.0], "float32"))
    f = th.function([x], x + th.exp(c) * 2)
    f(np.zeros(3, "float32"))
    assert "exp" not in f.source
    np.testing.assert_allclose(f(np.zeros(3, "float32")), np.exp([1, 2, 3]) * 2, rtol=1e-6)


def test_stable_rewrites_keep_extreme_values_finite():
    x = th.tensor("x", (3,), "float64")
    f = th.function([x], [th.log(th.sigmoid(x)), th.log(1 + x), th.exp(x) - 1])
    a = np.array([-1000.0, 1e-18, 0.0])
    log_sig, log1p, expm1 = f(a)
    assert np.isfinite(log_sig[0]) and log_sig[0] == pytest.approx(-1000.0)
    assert log1p[1] == pytest.approx(1e-18) and expm1[1] == pytest.approx(1e-18)


def test_default_update_applies_unless_overridden():
    step = th.shared(np.int64(0), name="step")
    step.default_update = step + 1
    x = th.tensor("x", ())
    f = th.function([x], x + step)
    f(np.float32(0))
    f(np.float32(0))
    assert step.get_value() == 2
    g = th.function([x], x + step, updates=[(step, step * 0)])
    g(np.float32(0))
    assert step.get_value() == 0


def test_symbolic_dims_become_constants_when_specialised():
    x = th.tensor("x", (None, 3))
    n = x.shape[0]
    z = th.zeros((n, 2))
    f = th.function([x], [z, th.ones_like(x)])
    zeros, ones = f(np.zeros((5, 3), "float32"))
    assert zeros.shape == (5, 2) and ones.shape == (5, 3)
    assert "shape_of" not in f.source


def test_source_is_readable_python():
    x = th.tensor("x", (None,))
    f = th.function([x], th.exp(x))
    with pytest.raises(RuntimeError, match="not been compiled"):
        f.source  # noqa: B018  (a dim is unknown until a call says it)
    f.compile_for(np.zeros(2, "float32"))
    assert f.source.startswith("def ") and "exp" in f.source
    compile(f.source, "<check>", "exec")
    x2 = th.tensor("x", (2,))
    known = th.function([x2], th.exp(x2))
    assert "exp" in known.source  # declared shapes: compiled on demand


def test_buffer_is_not_overwritten_while_another_input_views_it():
    a = th.tensor("a", (3, 3))
    y = a * 2
    z = y + th.matrix_transpose(y)  # y is dead after this node, but its transpose is read here
    m = np.arange(9, dtype="float32").reshape(3, 3)
    np.testing.assert_allclose(th.function([a], z)(m), m * 2 + (m * 2).T)


def test_log_softmax_rewrites_keep_the_loss_finite():
    x = th.tensor("x", (2, 3), "float64")
    y = th.tensor("y", (2,), "int64")
    p = th.nn.softmax(x, axis=1)
    direct = -th.log(p)                                     # log(softmax)
    picked = -th.log(p[th.arange(2), y])                    # log(softmax[arange, y])
    f = th.function([x, y], [direct, picked])
    a = np.array([[0.0, 800.0, -800.0], [1.0, 2.0, 3.0]])
    d, n = f(a, np.array([2, 0]))
    assert np.isfinite(d).all() and np.isfinite(n).all()
    ref = -(a - a.max(1, keepdims=True) - np.log(np.exp(a - a.max(1, keepdims=True)).sum(1, keepdims=True)))
    np.testing.assert_allclose(d, ref)
    np.testing.assert_allclose(n, [ref[0, 2], ref[1, 0]])
    assert "log_softmax" in f.source


def test_nan_guard_names_the_first_op_and_its_line_forward_and_backward():
    x = th.tensor("x", (3,), "float64")
    y = th.log(x)                      # log(-1) is the first NaN
    f = th.function([x], y * 2, nan_guard=True)
    with pytest.raises(th.errors.NonFiniteError) as info:
        f(np.array([1.0, -1.0, 2.0]))
    assert "log" in str(info.value) and "th.log(x)" in str(info.value)
    z = th.sqrt(x).sum()               # finite at 0, but its gradient is infinite there
    g = th.function([x], th.grad(z, x), nan_guard=True)
    with pytest.raises(th.errors.NonFiniteError) as info:
        g(np.array([0.0, 1.0, 4.0]))
    assert "gradient of sqrt" in str(info.value) and "th.sqrt(x)" in str(info.value)
    # off by default: the same call just returns the values
    assert np.isnan(th.function([x], y)(np.array([-1.0, 1.0, 1.0]))[0])


def test_memory_estimate_from_shapes_before_running():
    x = th.tensor("x", (None, 256))
    w = th.shared(np.zeros((256, 256), "float32"))
    f = th.function([x], th.tanh(th.exp(x @ w) * 2 + 1))
    est = f.estimate_memory(np.zeros((1000, 256), "float32"))
    one = 1000 * 256 * 4
    assert est["inputs"] == one and est["shared"] == 256 * 256 * 4
    # the elementwise chain runs in place in the matmul's buffer: about one buffer alive
    assert one <= est["intermediate_peak"] <= 2 * one
    assert est["total"] == est["inputs"] + est["shared"] + est["intermediate_peak"]


def test_nan_guard_names_an_argument_that_arrives_holding_a_nan():
    x = th.tensor("x", (3,), "float64")
    w = th.shared(np.array([1.0, np.inf, 0.0]), name="w")
    f = th.function([x], th.exp(x) * 2, nan_guard=True)
    with pytest.raises(th.errors.NonFiniteError, match=r"argument 'x' .* holds a NaN before any op ran"):
        f(np.array([1.0, np.nan, 2.0]))
    g = th.function([x], x * w, nan_guard=True)
    with pytest.raises(th.errors.NonFiniteError, match=r"shared variable 'w' .* holds a infinity"):
        g(np.ones(3))


@pytest.mark.parametrize("value", [0.7, 3, True, 1.5])
def test_python_scalars_fill_0d_inputs(value):
    x = th.tensor("x", (), "float64")
    f = th.function([x], x * 2)
    assert f(value) == pytest.approx(2 * float(value))
    k = th.tensor("k", (), "int64")
    assert th.function([k], k + 1)(3) == 4


def test_an_update_that_does_not_cast_safely_is_refused_naming_the_shared_variable():
    w = th.shared(np.zeros(3, "float32"), name="w")
    x64 = th.tensor("x64", (3,), "float64")
    with pytest.raises(InputError, match=r"update of shared 'w' \(float32\) has dtype float64, "
                                         r"which does not cast safely"):
        th.function([x64], [], updates=[(w, x64)])
    n = th.tensor("n", (3,), "int64")
    with pytest.raises(InputError, match="int64, which does not cast safely"):
        th.function([n], [], updates=[(w, n)])
    # Python scalars adapt, and safe casts (int32 into float64) are applied
    th.function([], [], updates=[(w, w + 1)])()
    np.testing.assert_array_equal(w.get_value(), [1, 1, 1])
    d = th.shared(np.zeros(2), name="d")
    i = th.tensor("i", (2,), "int32")
    th.function([i], [], updates=[(d, i)])(np.array([1, 2], "int32"))
    np.testing.assert_array_equal(d.get_value(), [1.0, 2.0])


def test_names_that_are_not_python_identifiers_compile():
    x = th.tensor("x²", (2,))
    y = th.tensor("déjà vu\n", (2,))
    f = th.function([x, y], x + y, name="f(x²)")
    np.testing.assert_array_equal(f(np.ones(2, "float32"), np.ones(2, "float32")), [2, 2])
    header = next(line for line in f.source.splitlines() if line.startswith("def "))
    assert header == "def f_x__(x__0, d_j__vu__1):"


@pytest.mark.parametrize("name", ["mul", "mul_0", "torch", "device", "v0", "c0", "f", "_finite"])
def test_input_names_never_shadow_generated_names(name):
    x = th.tensor(name, (3,), "float64")
    f = th.function([x], [x * 2, th.exp(x) + 1.5], name="f", nan_guard=True)
    got = f(np.ones(3))
    np.testing.assert_array_equal(got[0], [2, 2, 2])
    np.testing.assert_allclose(got[1], np.exp(1) + 1.5)
