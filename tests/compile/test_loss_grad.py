"""The share_log_softmax pass: cross_entropy and its gradient over the same logits become
one node, whose loss equals the unfused program's and whose gradient differs only by
float32 rounding; weighted, smoothed or ignore_index losses keep their own backward."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import theon as th
from theon import config

RNG = np.random.default_rng(5)


def _step(monkeypatch, fuse, loss_of, dtype="float32", classes=7, batch=6):
    """(source, loss, gradient of the logits) of a classifier's loss."""
    monkeypatch.setattr(config, "FUSE", fuse)
    z = th.tensor("z", (batch, classes), dtype)
    y = th.tensor("y", (batch,), "int64")
    loss = loss_of(z, y)
    f = th.function([z, y], [loss, th.grad(loss, z)])
    out = f(_Z[dtype][:batch, :classes], _Y[:batch] % classes)
    return f.source, out[0], out[1]


_Z = {d: (3 * RNG.standard_normal((64, 1000))).astype(d) for d in ("float32", "float64")}
_Y = RNG.integers(0, 1000, 64)


def _mean(z, y):
    return th.nn.cross_entropy(z, y).mean()


def _squared(z, y):  # the gradient reaching the backward is made from the loss's value
    return (th.nn.cross_entropy(z, y) ** 2).sum()


@pytest.mark.parametrize("loss_of", [_mean, _squared])
@pytest.mark.parametrize("dtype,classes,batch", [("float32", 1000, 64), ("float64", 7, 6)])
def test_fused_loss_and_gradient_equal_the_unfused_program(monkeypatch, loss_of, dtype, classes, batch):
    src, loss, grad = _step(monkeypatch, True, loss_of, dtype, classes, batch)
    plain_src, plain_loss, plain_grad = _step(monkeypatch, False, loss_of, dtype, classes, batch)
    assert "cross_entropy(with_grad=True)" in src and "cross_entropy_backward" not in src
    assert "with_grad" not in plain_src and "cross_entropy_backward" in plain_src
    np.testing.assert_array_equal(loss, plain_loss)
    np.testing.assert_allclose(grad, plain_grad, rtol=2e-6 if dtype == "float32" else 1e-12, atol=0)


def test_fused_gradient_matches_torch(monkeypatch):
    _, loss, grad = _step(monkeypatch, True, _mean, "float64", 1000, 64)
    z = torch.tensor(_Z["float64"], requires_grad=True)
    ref = F.cross_entropy(z, torch.tensor(_Y))
    ref.backward()
    np.testing.assert_allclose(loss, ref.item(), rtol=1e-12)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-10, atol=1e-18)


@pytest.mark.parametrize("kwargs", [{"label_smoothing": 0.1}, {"ignore_index": 2},
                                    {"weight": np.linspace(0.5, 1.5, 7).astype("float32")}])
def test_weighted_smoothed_or_ignoring_losses_keep_their_backward(monkeypatch, kwargs):
    def loss_of(z, y):
        return th.nn.cross_entropy(z, y, **kwargs).mean()
    src, _, _ = _step(monkeypatch, True, loss_of, "float32", 7, 6)
    assert "with_grad" not in src and "cross_entropy_backward" in src


def test_a_loss_without_its_gradient_is_left_alone(monkeypatch):
    monkeypatch.setattr(config, "FUSE", True)
    z = th.tensor("z", (4, 3))
    y = th.tensor("y", (4,), "int64")
    f = th.function([z, y], th.nn.cross_entropy(z, y))
    zs, ys = RNG.standard_normal((4, 3)).astype("float32"), np.array([0, 2, 1, 2])
    np.testing.assert_allclose(f(zs, ys), F.cross_entropy(torch.tensor(zs), torch.tensor(ys), reduction="none"),
                               rtol=1e-6)
    assert "with_grad" not in f.source


def test_differentiating_the_fused_op_is_refused():
    from theon.ops.nn_loss import CrossEntropy
    z = th.tensor("z", (4, 3))
    y = th.tensor("y", (4,), "int64")
    loss, _ = CrossEntropy(with_grad=True)(z, y)
    with pytest.raises(NotImplementedError, match="differentiate the plain op"):
        th.grad(loss.sum(), z)
