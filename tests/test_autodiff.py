"""th.grad, vjp, jvp, jacobian, hessian: values against closed forms and torch.autograd."""
import numpy as np
import pytest
import torch

import theon as th
from theon.errors import GradientError


def test_grad_of_a_simple_expression():
    x = th.tensor("x", (3,), "float64")
    g = th.grad((x * x * x).sum(), x)
    a = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(th.function([x], g)(a), 3 * a * a)


def test_second_derivative_is_grad_of_grad():
    x = th.tensor("x", (), "float64")
    y = th.sin(x) * x
    d1 = th.grad(y, x)
    d2 = th.grad(d1, x)
    d3 = th.grad(d2, x)
    f = th.function([x], [d1, d2, d3])
    v = 0.7
    got = f(np.float64(v))
    np.testing.assert_allclose(got[0], np.cos(v) * v + np.sin(v))
    np.testing.assert_allclose(got[1], 2 * np.cos(v) - v * np.sin(v))
    np.testing.assert_allclose(got[2], -3 * np.sin(v) - v * np.cos(v))


def test_gradient_sums_over_broadcast_dims_even_when_unknown():
    x = th.tensor("x", (None, 4), "float64")
    b = th.tensor("b", (None,), "float64")  # broadcast along rows, length unknown
    g = th.grad((x * b).sum(), b)
    a = np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(th.function([x, b], g)(a, np.ones(4)), a.sum(axis=0))


def test_disconnected_inputs_raise_unless_asked():
    x, y = th.tensor("x", (), "float64"), th.tensor("y", (), "float64")
    with pytest.raises(GradientError, match="does not depend on y"):
        th.grad(x * 2, [x, y])
    gx, gy = th.grad(x * 2, [x, y], disconnected="zero")
    assert th.function([x, y], gy)(np.float64(1), np.float64(1)) == 0
    assert th.grad(x * 2, [x, y], disconnected="none")[1] is None


def test_integer_variables_take_no_gradient():
    i = th.tensor("i", (3,), "int64")
    x = th.tensor("x", (3,), "float64")
    with pytest.raises(GradientError, match="int64 values are discrete"):
        th.grad((x * i).sum(), i)
    g = th.grad((x * i).sum(), x)  # flows to x, stops at i
    np.testing.assert_allclose(th.function([x, i], g)(np.ones(3), np.array([1, 2, 3])), [1, 2, 3])


def test_comparisons_stop_gradients():
    x = th.tensor("x", (3,), "float64")
    g = th.grad(th.where(x > 0, x * 3, x * 0.5).sum(), x)
    np.testing.assert_allclose(th.function([x], g)(np.array([-1.0, 2.0, 3.0])), [0.5, 3, 3])


def test_stop_gradient_treats_its_argument_as_a_constant():
    a, b = th.tensor("a", (3,), "float64"), th.tensor("b", (3,), "float64")
    ga, gb = th.grad((th.stop_gradient(a * b) * a).sum(), [a, b], disconnected="zero")
    f = th.function([a, b], [ga, gb])
    av, bv = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
    got_a, got_b = f(av, bv)
    np.testing.assert_allclose(got_a, av * bv)   # d/da of c*a with c = a*b held fixed
    np.testing.assert_allclose(got_b, 0.0)
    assert "stop_gradient" not in f.source      # the compiler drops the bookkeeping node


def test_a_path_through_argmax_is_named_as_not_differentiable():
    x = th.tensor("x", (3,), "float64")
    cost = th.argmax(x).astype("float64") * 2.0
    with pytest.raises(GradientError, match=r"only through ops that carry no gradient \(argmax\) "
                                            r"at .*test_autodiff.py"):
        th.grad(cost, x)
    y = th.tensor("y", (3,), "float64")
    with pytest.raises(GradientError, match="the cost does not depend on y"):
        th.grad((x * 2).sum(), y)


def test_cost_must_be_a_float_scalar():
    x = th.tensor("x", (3,), "float64")
    with pytest.raises(GradientError, match="must be a scalar"):
        th.grad(x * 2, x)


def test_known_grads_seed_an_intermediate():
    x = th.tensor("x", (3,), "float64")
    h = th.exp(x)
    g = th.grad(None, x, known_grads={h: th.constant(np.array([1.0, 2.0, 3.0]))})
    a = np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(th.function([x], g)(a), np.exp(a) * [1, 2, 3])


def _torch_jacobian(fn, a):
    return torch.autograd.functional.jacobian(fn, torch.tensor(a)).numpy()


def test_jacobian_vjp_jvp_agree_with_torch():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 4))
    a = rng.standard_normal(4)
    x = th.tensor("x", (4,), "float64")
    y = th.tanh(th.constant(A) @ x) * 2
    J = th.function([x], th.jacobian(y, x))(a)
    want = _torch_jacobian(lambda t: torch.tanh(torch.tensor(A) @ t) * 2, a)
    np.testing.assert_allclose(J, want, rtol=1e-10)
    u, v = rng.standard_normal(3), rng.standard_normal(4)
    vjp = th.function([x], th.vjp(y, x, th.constant(u)))(a)
    jvp = th.function([x], th.jvp(y, x, th.constant(v)))(a)
    np.testing.assert_allclose(vjp, u @ want, rtol=1e-10)
    np.testing.assert_allclose(jvp, want @ v, rtol=1e-10)


def test_hessian_matches_torch():
    a = np.array([0.3, -0.2, 0.9])
    x = th.tensor("x", (3,), "float64")
    cost = (th.sin(x) * x[::-1]).sum() + (x * x).sum() ** 2
    H = th.function([x], th.hessian(cost, x))(a)

    def f(t):
        return (torch.sin(t) * t.flip(0)).sum() + (t * t).sum() ** 2
    want = torch.autograd.functional.hessian(f, torch.tensor(a)).numpy()
    np.testing.assert_allclose(H, want, rtol=1e-9, atol=1e-12)
