"""The fuse_squeeze_excite pass: a squeeze-and-excitation block with a hard-sigmoid gate, as
PP-OCR's classifier writes it, becomes one squeeze_excite node with the unfused program's
values and gradients (THEON_FUSE=0); a block whose intermediate has another reader stays
apart. Here the node's ATen path runs (THEON_CODEGEN is off in tests)."""
import numpy as np
import pytest

import theon as th
from theon import config


def _weights(rng, c=8, r=3):
    return [th.shared(rng.standard_normal(s).astype("float32")) for s in ((r, c, 1, 1), (r,), (c, r, 1, 1), (c,))]


def _block(x, w1, b1, w2, b2, reversed_operands=False):
    s = th.mean(x, axis=(2, 3), keepdims=True)
    g = th.nn.conv2d(th.relu(th.nn.conv2d(s, w1, b1)), w2, b2)
    g = th.clip((0.2 * g if reversed_operands else g * 0.2) + 0.5, 0.0, 1.0)
    return g * x if reversed_operands else x * g


def _compiled(monkeypatch, fuse, build):
    monkeypatch.setattr(config, "FUSE", fuse)
    x = th.tensor("x", (2, 8, 5, 6))
    return th.function([x], build(x)).compile_for(np.zeros((2, 8, 5, 6), "float32"))  # compiled under this FUSE


@pytest.mark.parametrize("reversed_operands", [False, True])
def test_the_block_becomes_one_node_with_equal_values(monkeypatch, reversed_operands):
    rng = np.random.default_rng(0)
    w = _weights(rng)
    xv = rng.standard_normal((2, 8, 5, 6)).astype("float32")
    build = lambda x: [th.relu(_block(x, *w, reversed_operands=reversed_operands))]  # noqa: E731
    fused, plain = _compiled(monkeypatch, True, build), _compiled(monkeypatch, False, build)
    np.testing.assert_allclose(fused(xv)[0], plain(xv)[0], rtol=1e-5, atol=1e-6)
    names = [n.op.name for n in fused.last_program.schedule]
    assert "squeeze_excite" in names and "mean" not in names and "clip" not in names


def test_a_block_whose_mean_has_another_reader_stays_apart(monkeypatch):
    rng = np.random.default_rng(1)
    w = _weights(rng)
    f = _compiled(monkeypatch, True, lambda x: [_block(x, *w), th.mean(x, axis=(2, 3), keepdims=True) * 2.0])
    assert "squeeze_excite" not in [n.op.name for n in f.last_program.schedule]


def test_gradients_equal_the_unfused_program(monkeypatch):
    rng = np.random.default_rng(2)
    w = _weights(rng)
    xv = rng.standard_normal((2, 8, 5, 6)).astype("float32")

    def build(x):
        y = _block(x, *w)
        return [y, *th.grad(th.sum(y * y), [x, *w])]
    fused, plain = _compiled(monkeypatch, True, build), _compiled(monkeypatch, False, build)
    for got, want in zip(fused(xv), plain(xv)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
