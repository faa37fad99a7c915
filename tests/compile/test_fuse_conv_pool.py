"""The fuse_conv_pool pass: max_pool(conv_relu(x, w, b)) of an early layer becomes one
conv_relu_pool node, in inference and training graphs (where the pool's and the ReLU's
gradients become one scatter of the masked pooled gradient, and a first layer's weight
gradients one conv_relu_pool_backward), with the unfused program's results; and it stands
down where the convolution's output has another reader or the layer has many channels or
a large kernel. These run the node's unfused kernels
(THEON_CODEGEN is off in tests); tests/codegen/test_conv_pool.py runs the generated one."""
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import theon as th
from theon import nn
from theon.compile import pipeline

WITHOUT_PASS = [p for p in pipeline.PASSES if p.name != "fuse_conv_pool"]


def _lenet(seed=0, channels=1):
    m = nn.Sequential([nn.Conv2D(6, 5, padding="same", activation="relu", name="conv1"), nn.MaxPool2D(2),
                       nn.Conv2D(16, 5, activation="relu", name="conv2"), nn.MaxPool2D(2), nn.Flatten(),
                       nn.Dense(10, name="out")], input_shape=(channels, 28, 28), seed=seed)
    m.compile(th.optim.SGD(0.05, momentum=0.9), "cross_entropy")
    return m


def _data(channels=1, n=32):
    rng = np.random.default_rng(0)
    return rng.random((n, channels, 28, 28), dtype=np.float32) - 0.3, rng.integers(0, 10, n)


def _fit(monkeypatch, passes, channels=1):
    monkeypatch.setattr(pipeline, "PASSES", passes)
    m = _lenet(channels=channels)
    x, y = _data(channels)
    history = m.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    return m, history.history["loss"], m.predict(x, batch_size=32)


def test_training_and_inference_fuse_both_layers_with_the_same_results(monkeypatch):
    fused, losses, predicted = _fit(monkeypatch, pipeline.PASSES)
    plain, plain_losses, plain_predicted = _fit(monkeypatch, WITHOUT_PASS)
    train, predict = fused.train_function.source, fused.predict_function.source
    assert "conv_relu_pool_with_indices(padding=(2, 2))" in train and "conv_relu_pool_backward(padding=(2, 2))" in train
    assert len(re.findall(r"= conv_relu_pool_with_indices_\d+\(", train)) == 2
    # conv2's input (conv1's pooled output) needs a gradient too: all three from one node;
    # no scatter to a full-size plane is left
    assert "conv_relu_pool_backward_with_input ->" in train and "max_pool_scatter2d(" not in train
    assert "conv_relu_pool(padding=(2, 2))" in predict and len(re.findall(r"= conv_relu_pool_\d+\(", predict)) == 2
    # no full-size output is left: no conv_relu, no pool backward, no conv backward, no
    # relu_grad on a (16, 6, 28, 28) or (16, 16, 10, 10) value
    assert not re.search(r"= conv_relu_\d+\(", train) and "max_pool_backward2d(" not in train
    assert not re.search(r"= conv_backward(_input|_weight)?_\d+\(", train)
    assert "relu_grad -> float32[16, 6, 28, 28]" not in train and "relu_grad -> float32[16, 16, 10, 10]" not in train
    np.testing.assert_allclose(losses, plain_losses, rtol=1e-6)
    np.testing.assert_allclose(predicted, plain_predicted, rtol=1e-6, atol=1e-6)
    for (name, a), b in zip(fused.get_weights().items(), plain.get_weights().values()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7, err_msg=name)


def test_gradients_through_the_fused_node_match_torch():
    """(Finite differences in float64: the op-table row; float64 never takes this pass, whose
    match starts from oneDNN's float32 conv_relu.)"""
    x32 = th.tensor("x", (2, 1, 6, 6), "float32")
    w32, b32 = th.shared(np.random.default_rng(1).standard_normal((3, 1, 3, 3)).astype("float32")), th.shared(
        np.linspace(-0.5, 0.5, 3).astype("float32"))
    y32 = th.nn.max_pool2d(th.relu(th.nn.conv2d(x32, w32, b32, padding=1)), 2)
    loss32 = (y32 * y32).sum()
    g = th.function([x32], th.grad(loss32, [x32, w32, b32]))
    # the input's gradient too: all three from the pooled gradient in one node
    assert "conv_relu_pool_with_indices" in g.source and "conv_relu_pool_backward_with_input" in g.source
    assert "max_pool_scatter2d" not in g.source
    weights_only = th.function([x32], th.grad(loss32, [w32, b32]))
    assert "conv_relu_pool_backward" in weights_only.source and "max_pool_scatter2d" not in weights_only.source
    a = np.random.default_rng(2).standard_normal((2, 1, 6, 6)).astype("float32")
    got = g(a)
    for mine, theirs in zip(weights_only(a), got[1:]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-6)
    # the reference: the same gradient computed by torch autograd in float32
    t = [torch.tensor(v, requires_grad=True) for v in (a, w32.get_value(), b32.get_value())]
    out = F.max_pool2d(F.relu(F.conv2d(t[0], t[1], t[2], padding=1)), 2)
    ref = torch.autograd.grad((out * out).sum(), t)
    for mine, theirs in zip(got, ref):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-5, atol=1e-5)


def test_no_fusion_when_the_convolution_output_has_another_reader():
    x = th.tensor("x", (4, 1, 12, 12), "float32")
    w = th.shared(np.random.default_rng(0).standard_normal((6, 1, 3, 3)).astype("float32"))
    b = th.shared(np.zeros(6, "float32"))
    r = th.relu(th.nn.conv2d(x, w, b))
    f = th.function([x], [th.nn.max_pool2d(r, 2), r.mean()])
    assert "conv_relu_pool" not in f.source
    assert "conv_relu" in f.source or "direct_conv(activation='relu')" in f.source  # fuse_direct_conv's


def test_no_fusion_beyond_a_few_input_channels_or_a_small_kernel(monkeypatch):
    x = th.tensor("x", (4, 20, 12, 12), "float32")
    w = th.shared(np.random.default_rng(0).standard_normal((6, 20, 3, 3)).astype("float32"))
    b = th.shared(np.zeros(6, "float32"))
    f = th.function([x], th.nn.max_pool2d(th.relu(th.nn.conv2d(x, w, b)), 2))
    assert "conv_relu_pool" not in f.source
    g = th.function([x], th.nn.max_pool2d(th.relu(th.nn.conv2d(x[:, :16], w[:, :16], b)), 2))
    assert "conv_relu_pool" in g.source
    w9 = th.shared(np.zeros((6, 1, 9, 9), "float32"))
    h = th.function([x], th.nn.max_pool2d(th.relu(th.nn.conv2d(x[:, :1], w9, b)), 2))
    assert "conv_relu_pool" not in h.source and "conv_relu" in h.source


@pytest.mark.parametrize("pool", [(3, 3), (2, 3)])
def test_other_non_overlapping_windows_fuse_with_the_same_values(pool):
    rng = np.random.default_rng(3)
    x = th.tensor("x", (3, 2, 13, 14), "float32")
    w = th.shared(rng.standard_normal((5, 2, 3, 3)).astype("float32"))
    b = th.shared(rng.standard_normal(5).astype("float32"))
    y = th.nn.max_pool2d(th.relu(th.nn.conv2d(x, w, b, padding=1)), pool)
    f = th.function([x], y)
    assert "conv_relu_pool" in f.source
    a = rng.standard_normal((3, 2, 13, 14)).astype("float32")
    t = [torch.from_numpy(v) for v in (a, w.get_value(), b.get_value())]
    ref = F.max_pool2d(F.relu(F.conv2d(*t, padding=1)), pool).numpy()
    np.testing.assert_allclose(f(a), ref, rtol=1e-5, atol=1e-5)


def test_padding_wider_than_the_kernel_keeps_the_scatter_for_the_input_gradient():
    """The input gradient's generated kernel frames the planes with kernel - 1 zeros."""
    x = th.tensor("x", (2, 1, 6, 6), "float32")
    w = th.shared(np.random.default_rng(1).standard_normal((3, 1, 2, 2)).astype("float32"))
    b = th.shared(np.zeros(3, "float32"))
    y = th.nn.max_pool2d(th.relu(th.nn.conv2d(x, w, b, padding=2)), 2)
    g = th.function([x], th.grad((y * y).sum(), [x, w]))
    assert "conv_relu_pool_with_indices" in g.source and "max_pool_scatter2d" in g.source
    assert "conv_relu_pool_backward" not in g.source
    a = np.random.default_rng(2).standard_normal((2, 1, 6, 6)).astype("float32")
    t = [torch.tensor(v, requires_grad=True) for v in (a, w.get_value(), b.get_value())]
    out = F.max_pool2d(F.relu(F.conv2d(t[0], t[1], t[2], padding=2)), 2)
    for mine, theirs in zip(g(a), torch.autograd.grad((out * out).sum(), t[:2])):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-5, atol=1e-5)
