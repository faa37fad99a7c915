"""The fuse pass on whole training graphs: each rewrite gives the unfused program's values,
and every layer is still computed once."""
import numpy as np

import theon as th
from theon import config


def _two_conv_layers():
    rng = np.random.default_rng(0)
    x = th.tensor("x", (None, 1, 12, 12))
    w1 = th.shared(rng.standard_normal((3, 1, 3, 3)).astype("float32"), name="w1")
    b1 = th.shared(rng.standard_normal(3).astype("float32"), name="b1")
    w2 = th.shared(rng.standard_normal((4, 3, 3, 3)).astype("float32"), name="w2")
    b2 = th.shared(rng.standard_normal(4).astype("float32"), name="b2")
    h = th.nn.max_pool2d(th.nn.relu(th.nn.conv2d(x, w1, b1, padding=1)), 2)
    h = th.nn.max_pool2d(th.nn.relu(th.nn.conv2d(h, w2, b2)), 2)
    loss = (h * h).sum()
    params = [w1, b1, w2, b2]
    return x, [loss, *th.grad(loss, params)]


def _compile(monkeypatch, fuse: bool):
    monkeypatch.setattr(config, "FUSE", fuse)
    x, outputs = _two_conv_layers()
    return th.function([x], outputs)


def test_fused_conv_layers_are_each_computed_once_with_the_unfused_values(monkeypatch):
    x = np.random.default_rng(1).random((2, 1, 12, 12), dtype=np.float32)
    plain = _compile(monkeypatch, False)
    want = plain(x)
    fused = _compile(monkeypatch, True)
    got = fused(x)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
    source = fused.source
    # both layers fused with their pools (fuse_conv_pool: each has at most 4 input
    # channels), and neither computed a second time for the gradient
    assert source.count("= conv_relu_pool_with_indices_") == 2, source
    assert "= conv_" not in source.replace("= conv_relu_pool_", "").replace("= conv_backward", ""), source
    assert "max_pool_with_indices2d" not in source and "max_pool_backward2d" not in source, source
