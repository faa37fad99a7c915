"""Gradients through complex values follow torch's convention for a real loss L of a
complex z: the gradient is dL/dRe(z) + i dL/dIm(z) (so a holomorphic f pulls g back as
g * conj(f'(z))). Each case is checked against torch.autograd."""
import numpy as np
import pytest
import torch

import theon as th

rng = np.random.default_rng(0)


def _c(*shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


Z, W = _c(3), _c(3)
CASES = {
    "multiply_abs_conj": (lambda z, w: th.sum(th.abs(z * w + th.conj(z)) ** 2),
                          lambda z, w: (torch.abs(z * w + torch.conj(z)) ** 2).sum()),
    "exp_divide_real_imag": (lambda z, w: th.sum(th.real(th.exp(z) * w)) + th.sum(th.imag(z / w)),
                             lambda z, w: (torch.exp(z) * w).real.sum() + (z / w).imag.sum()),
    "sin_log_power_sqrt": (lambda z, w: th.sum(th.abs(th.sin(z) + th.log(w) + z ** 2 + th.sqrt(w))),
                           lambda z, w: torch.abs(torch.sin(z) + torch.log(w) + z ** 2 + torch.sqrt(w)).sum()),
    "tanh_square_scalar": (lambda z, w: th.sum(th.real(th.tanh(z) * th.square(w) - 1j * z)),
                           lambda z, w: (torch.tanh(z) * torch.square(w) - 1j * z).real.sum()),
    "mean_subtract_reciprocal": (lambda z, w: th.abs(th.mean(z - th.reciprocal(w))),
                                 lambda z, w: torch.abs((z - torch.reciprocal(w)).mean())),
}


def _torch_grads(fn, *arrays):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    loss = fn(*ts)
    return [loss.detach().numpy()] + [g.numpy() for g in torch.autograd.grad(loss, ts)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_elementwise_gradients_match_torch(name):
    fn, ref = CASES[name]
    z, w = th.tensor("z", (3,), "complex128"), th.tensor("w", (3,), "complex128")
    loss = fn(z, w)
    got = th.function([z, w], [loss, *th.grad(loss, [z, w])])(Z, W)
    for g, want in zip(got, _torch_grads(ref, Z, W)):
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["matmul", "einsum", "tensordot"])
def test_products_conjugate_the_other_factor(kind):
    fns = {"matmul": (lambda a, b: th.sum(th.abs(a @ b)), lambda a, b: torch.abs(a @ b).sum()),
           "einsum": (lambda a, b: th.sum(th.real(th.einsum("ij,jk->ik", a, b) * 2j)),
                      lambda a, b: (torch.einsum("ij,jk->ik", a, b) * 2j).real.sum()),
           "tensordot": (lambda a, b: th.abs(th.sum(th.tensordot(a, b, 1))),
                         lambda a, b: torch.abs(torch.tensordot(a, b, 1).sum()))}
    fn, ref = fns[kind]
    a0, b0 = _c(2, 3), _c(3, 2)
    a, b = th.tensor("a", (2, 3), "complex128"), th.tensor("b", (3, 2), "complex128")
    loss = fn(a, b)
    got = th.function([a, b], [loss, *th.grad(loss, [a, b])])(a0, b0)
    for g, want in zip(got, _torch_grads(ref, a0, b0)):
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12)


def test_real_to_complex_and_back():
    x0 = np.array([1.0, -2.0, 3.0])
    x = th.tensor("x", (3,), "float64")
    loss = th.sum(th.abs(th.cast(x, "complex128") * (1 + 2j))) + th.sum(th.cast(th.cast(x, "complex128") * 1j, "float64"))
    got = th.function([x], th.grad(loss, x))(x0)
    want = _torch_grads(lambda t: torch.abs(t.to(torch.complex128) * (1 + 2j)).sum()
                        + (t.to(torch.complex128) * 1j).real.sum(), x0)[1]
    np.testing.assert_allclose(got, want, rtol=1e-12)
