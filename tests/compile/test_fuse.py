"""The fuse pass on whole training graphs: each rewrite gives the unfused program's values,
and every layer is still computed once."""
import numpy as np

import theon as th
from theon import config
from theon.compile.passes import fuse as fuse_pass
from theon.graph import toposort
from theon.ops.nn_norm import BatchNormEval


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


def test_hard_swish_chain_becomes_one_op_with_the_chains_values_to_the_bit(monkeypatch):
    """x * clip(x + 3, 0, 6) / 6, as PaddlePaddle and TensorFlow exports write hardswish,
    either operand order of the product; values at and around the kinks +-3, NaN and inf."""
    xs = np.concatenate([np.linspace(-5, 5, 41), [-3, 3, 0, np.nan, np.inf, -np.inf]]).astype("float32")
    results = []
    for fuse in (False, True):
        monkeypatch.setattr(config, "FUSE", fuse)
        x = th.tensor("x", (None,))
        a = x * th.clip(x + 3.0, 0.0, 6.0) / 6.0
        b = th.clip(3.0 + x * 2.0, 0.0, 6.0) * (x * 2.0) / 6.0
        f = th.function([x], [a, b])
        results.append(f(xs))
        assert f.source.count("= hard_swish_") == (2 if fuse else 0), f.source
    for got, want in zip(results[1], results[0]):
        np.testing.assert_array_equal(got, want)


def test_hard_swish_chain_whose_parts_are_read_elsewhere_stays(monkeypatch):
    monkeypatch.setattr(config, "FUSE", True)
    x = th.tensor("x", (None,))
    c = th.clip(x + 3.0, 0.0, 6.0)
    f = th.function([x], [x * c / 6.0, c])
    xs = np.linspace(-4, 4, 9).astype("float32")
    got = f(xs)
    np.testing.assert_allclose(got[0], xs * np.clip(xs + 3, 0, 6) / 6, rtol=1e-6)
    assert "hard_swish" not in f.source


def test_a_rewrite_that_finds_nothing_hands_back_the_graph_and_its_order_unwalked(monkeypatch):
    _, outputs = _two_conv_layers()
    nodes = toposort(outputs)
    walks = []
    monkeypatch.setattr(fuse_pass, "toposort", lambda outs: walks.append(1) or toposort(outs))
    # no batch norm here: the same outputs and the same order, and no walk of the graph
    same, order = fuse_pass.rewrite_each(outputs, BatchNormEval, fuse_pass._fold_batch_norm, (), nodes)
    assert same is outputs and order is nodes and walks == []
    # relu(conv) of a forward graph fuses: new outputs, given back with their own order
    x = th.tensor("x", (2, 1, 12, 12))
    w, b = th.shared(np.ones((3, 1, 3, 3), "float32")), th.shared(np.zeros(3, "float32"))
    forward = [th.nn.relu(th.nn.conv2d(x, w, b)).sum()]
    fused, order = fuse_pass.rewrite_each(forward, type(forward[0].owner.inputs[0].owner.op),
                                          fuse_pass._conv_relu, (), toposort(forward))
    assert fused[0] is not forward[0] and order == toposort(fused)
    assert [type(n.op).__name__ for n in order] == ["ConvRelu", "Sum"]
