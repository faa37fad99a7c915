"""The fuse_direct_conv pass: a convolution with few input channels per group and a bias
becomes a direct_conv node, taking in the ReLU or hard-swish that alone reads it; values and
gradients equal the unfused program's (THEON_FUSE=0). Here its ATen path runs (THEON_CODEGEN
is off in tests; tests/codegen/test_direct_conv.py runs the generated kernel)."""
import numpy as np
import pytest

import theon as th
from theon import config
from theon.codegen.direct_conv import DirectConv


def _ops(f) -> list:
    return [n.op for n in f.last_program.schedule]


def _program(monkeypatch, fuse, build):
    monkeypatch.setattr(config, "FUSE", fuse)
    x = th.tensor("x", (2, 6, 9, 20))
    return th.function([x], build(x)).compile_for(np.zeros((2, 6, 9, 20), "float32"))  # compiled under this FUSE


def _both(monkeypatch, build, xv):
    plain, fused = _program(monkeypatch, False, build), _program(monkeypatch, True, build)
    for got, want in zip(fused(xv), plain(xv)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert not any(op.name == "direct_conv" for op in _ops(plain))
    return [op for op in _ops(fused) if op.name == "direct_conv"], _ops(fused)


def _w(rng, *shape):
    return th.shared(rng.standard_normal(shape).astype("float32"))


def test_depthwise_and_first_layer_convolutions_take_their_activations(monkeypatch):
    rng = np.random.default_rng(0)
    first, fb = _w(rng, 6, 3, 3, 3), _w(rng, 6)
    dw, db = _w(rng, 6, 1, 5, 5), _w(rng, 6)
    dw2, db2 = _w(rng, 6, 1, 3, 3), _w(rng, 6)

    def build(x):
        y = th.relu(th.nn.conv2d(x[:, :3], first, fb, stride=2, padding=1))
        y = th.nn.conv2d(y, dw, db, padding=2, groups=6)
        y = y * th.clip(y + 3.0, 0.0, 6.0) / 6.0              # hard-swish, as imported models write it
        return [th.nn.conv2d(y, dw2, db2, stride=(1, 2), groups=6)]   # no activation
    xv = rng.standard_normal((2, 6, 9, 20)).astype("float32")
    direct, ops = _both(monkeypatch, build, xv)
    assert [op.activation for op in direct] == ["relu", "hard_swish", ""]
    assert [op.groups for op in direct] == [1, 6, 6]
    assert not any(op.name in ("relu", "hard_swish", "conv", "conv_relu") for op in ops)


def test_an_activation_with_another_reader_of_the_convolution_stays_apart(monkeypatch):
    rng = np.random.default_rng(1)
    dw, db = _w(rng, 6, 1, 3, 3), _w(rng, 6)

    def build(x):
        y = th.nn.conv2d(x, dw, db, padding=1, groups=6)
        return [th.relu(y), y.sum()]
    direct, ops = _both(monkeypatch, build, rng.standard_normal((2, 6, 9, 20)).astype("float32"))
    assert [op.activation for op in direct] == [""] and any(op.name == "relu" for op in ops)


@pytest.mark.parametrize("case", ["many channels per group", "no bias", "dilated", "kernel 2", "stride 3"])
def test_other_convolutions_are_left_to_aten(monkeypatch, case):
    rng = np.random.default_rng(2)
    w = {"many channels per group": _w(rng, 6, 6, 3, 3), "kernel 2": _w(rng, 6, 1, 2, 2)}.get(case, _w(rng, 6, 1, 3, 3))
    groups = 1 if case == "many channels per group" else 6
    b = None if case == "no bias" else _w(rng, 6)
    kw = {"dilated": {"dilation": 2}, "stride 3": {"stride": 3}}.get(case, {})
    direct, _ = _both(monkeypatch, lambda x: [th.relu(th.nn.conv2d(x, w, b, groups=groups, **kw))],
                      rng.standard_normal((2, 6, 9, 20)).astype("float32"))
    assert direct == []


def test_gradients_through_direct_conv_equal_the_unfused_program(monkeypatch):
    """A graph differentiated after the pass made direct_conv (its gradient is the unfused
    graph's), against the same graph compiled without the pass."""
    rng = np.random.default_rng(3)
    wv, bv = rng.standard_normal((6, 1, 3, 3)), rng.standard_normal(6)
    xv = rng.standard_normal((2, 6, 9, 20))
    x, w, b = th.tensor("x", (2, 6, 9, 20), "float64"), th.tensor("w", (6, 1, 3, 3), "float64"), th.tensor("b", (6,), "float64")
    for activation in ("relu", "hard_swish"):
        y = DirectConv(stride=(2, 1), padding=(1, 1), groups=6, activation=activation)(x, w, b)
        loss = th.sum(y * y)
        got = th.function([x, w, b], th.grad(loss, [x, w, b]))(xv, wv, bv)
        y0 = th.nn.conv2d(x, w, b, stride=(2, 1), padding=1, groups=6)
        y0 = th.relu(y0) if activation == "relu" else y0 * th.clip(y0 + 3.0, 0.0, 6.0) / 6.0
        want = th.function([x, w, b], th.grad(th.sum(y0 * y0), [x, w, b]))(xv, wv, bv)
        for g, e in zip(got, want):
            np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10)
