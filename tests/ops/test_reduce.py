"""Reductions beyond the op table: NumPy dtype rules, tie and zero gradients against torch
autograd, second derivatives, unknown dims, signatures and errors."""
import numpy as np
import pytest
import torch

import theon as th
from theon.errors import ShapeError
from theon.testing import verify_grad


def run(inputs, outputs, *arrays):
    return th.function(inputs, outputs)(*arrays)


@pytest.mark.parametrize("dtype", ["bool", "int8", "int32", "int64", "float16", "float32"])
def test_dtypes_follow_numpy(dtype):
    a = (np.arange(12) % 3).reshape(3, 4).astype(dtype)
    x = th.tensor("x", (3, 4), dtype)
    fns = {"sum": 0, "prod": 1, "mean": 0, "var": 1, "std": 0, "max": 1, "min": 0, "argmax": 1,
           "argmin": 0, "any": 1, "all": 0, "cumsum": 1, "cumprod": 0}
    outs = [getattr(th, name)(x, axis=axis) for name, axis in fns.items()]
    got = run([x], outs, a)
    for (name, axis), y, g in zip(fns.items(), outs, got):
        want = getattr(np, name)(a, axis=axis)
        assert y.dtype == g.dtype.name == want.dtype.name, name
        np.testing.assert_allclose(g.astype("float64"), want.astype("float64"), rtol=1e-3, err_msg=name)


def test_uint8_sums_in_int64():
    # NumPy gives uint64, which theon does not have; int64 holds the same sums
    assert th.sum(th.tensor("x", (3,), "uint8")).dtype == "int64"


def test_methods_match_numpy_signatures():
    x = th.tensor("x", (3, 4), "float64")
    a = np.random.default_rng(0).standard_normal((3, 4))
    outs = [x.sum(0), x.sum(axis=1, keepdims=True), x.mean(), x.max(1), x.min(), x.argmax(1),
            x.var(ddof=1), x.std(0), x.prod(1), x.cumsum(), x.cumprod(1), x.sum(0, "float32")]
    want = [a.sum(0), a.sum(axis=1, keepdims=True), a.mean(), a.max(1), a.min(), a.argmax(1),
            a.var(ddof=1), a.std(0), a.prod(1), a.cumsum(), a.cumprod(1), a.sum(0, "float32")]
    for g, w in zip(run([x], outs, a), want):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-6)
    with pytest.raises(TypeError):
        th.sum(x, 0, None, True)  # keepdims is keyword-only (NumPy's 4th is out=)


@pytest.mark.parametrize("name", ["max", "min"])
def test_ties_share_the_gradient_like_torch(name):
    a = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [5.0, -1.0, 5.0, 5.0]])
    if name == "min":
        a = -a
    x = th.tensor("x", (3, 4), "float64")
    w = np.arange(1.0, 4.0)
    ours, = run([x], [th.grad(th.sum(getattr(th, name)(x, 1) * w), x)], a)
    t = torch.tensor(a, requires_grad=True)
    (getattr(torch, f"a{name}")(t, 1) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ours, t.grad.numpy())
    whole, = run([x], [th.grad(getattr(th, name)(x), x)], a)
    assert whole.sum() == pytest.approx(1.0)


def test_prod_and_cumprod_gradients_with_zeros_match_torch():
    a = np.array([[0.5, 0.0, 2.0, 3.0], [0.0, 1.5, 0.0, 2.0], [1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 3.0, 0.5]])
    x = th.tensor("x", (4, 4), "float64")
    w = np.random.default_rng(0).standard_normal((4, 4))
    grads = [th.grad(th.sum(th.prod(x, 1) * th.constant(w[:, 0])), x),
             th.grad(th.sum(th.cumprod(x, 1) * th.constant(w)), x),
             th.grad(th.sum(th.cumprod(x, 0) * th.constant(w)), x)]
    ours = run([x], grads, a)
    refs = [lambda t: (t.prod(1) * torch.tensor(w[:, 0])).sum(),
            lambda t: (t.cumprod(1) * torch.tensor(w)).sum(),
            lambda t: (t.cumprod(0) * torch.tensor(w)).sum()]
    for got, ref in zip(ours, refs):
        t = torch.tensor(a, requires_grad=True)
        ref(t).backward()
        np.testing.assert_allclose(got, t.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("fn", [
    lambda x: th.sum(x, 1) ** 2, lambda x: th.mean(x, 0, keepdims=True) ** 3,
    lambda x: th.max(x, 1) ** 2, lambda x: th.sum(x) * th.max(x), lambda x: th.var(x, 1) ** 2,
    lambda x: th.logsumexp(x, 0) ** 2])
def test_second_derivatives(fn):
    verify_grad(fn, [np.random.default_rng(3).standard_normal((3, 4))], order=2, rtol=1e-3, atol=1e-5)


def test_hessian_of_squared_sum_is_constant():
    x = th.tensor("x", (3,), "float64")
    h, = run([x], [th.hessian(th.sum(x) ** 2, x)], np.array([1.0, -2.0, 0.5]))
    np.testing.assert_allclose(h, np.full((3, 3), 2.0))


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "max", "logsumexp", "prod"])
def test_gradients_with_unknown_dims_match_known_dims(name):
    a = np.random.default_rng(4).uniform(0.5, 2.0, (3, 4, 2))
    grads = []
    for shape in [(3, 4, 2), (None, None, 2)]:
        x = th.tensor("x", shape, "float64")
        y = getattr(th, name)(x, axis=(0, 1))
        g = th.grad(th.sum(y * th.constant(np.array([1.0, -2.0]))), x)
        assert g.type == x.type
        grads.append(run([x], [g], a)[0])
    np.testing.assert_allclose(grads[1], grads[0])


def test_logsumexp_is_stable():
    x = th.tensor("x", (2, 3), "float64")
    a = np.array([[1000.0, 1000.0, -1000.0], [-np.inf, -np.inf, -np.inf]])
    out, = run([x], [th.logsumexp(x, 1)], a)
    np.testing.assert_allclose(out, [1000.0 + np.log(2.0), -np.inf])


def test_reduce_over_no_axes_and_rank_zero():
    x, s = th.tensor("x", (2, 3), "float64"), th.tensor("s", (), "float64")
    a = np.arange(6.0).reshape(2, 3)
    outs = run([x, s], [th.sum(x, ()), th.var(x, ()), th.max(x, ()), th.any(x, ()), th.sum(s, 0),
                        th.argmax(s), th.cumsum(s)], a, np.float64(4.0))
    want = [np.sum(a, ()), np.var(a, ()), np.max(a, ()), np.any(a, ()), np.sum(4.0, 0), np.argmax(4.0),
            np.cumsum(4.0)]
    for g, w in zip(outs, want):
        np.testing.assert_array_equal(g, w)


def test_errors_name_axes_shapes_and_line():
    x = th.tensor("x", (None, 4))
    with pytest.raises(ShapeError, match=r"axis 2 is out of range for a tensor of shape \(\?, 4\)") as info:
        th.sum(x, axis=(0, 2))
    assert "test_reduce.py" in str(info.value)
    with pytest.raises(ShapeError, match="zero-size"):
        th.argmin(th.tensor("e", (3, 0)), axis=1)
    with pytest.raises(ShapeError, match="out of range"):
        th.cumsum(x, axis=-3)
