"""The formulate pass on 2-D convolutions (ops/nn_conv_formulations.py): grouped ones take
their input in channels-last order (a depthwise one with a bias becomes direct_conv first, by
the fuse_direct_conv pass, whose ATen path takes the same order), 1x1 ones with stride 1 and no padding become a matrix
product; each shown in the program and equal to the unrewritten program (THEON_FUSE=0)."""
import numpy as np
import pytest

import theon as th
from theon import config


def _conv_fn(monkeypatch, fuse, x_shape, w, b, **kw):
    monkeypatch.setattr(config, "FUSE", fuse)
    x = th.tensor("x", (None,) * len(x_shape), str(w.dtype))
    y = th.nn.conv2d(x, w, b, **kw)
    return th.function([x], [y, th.relu(y) * 2.0])  # an op after the convolution reads its layout


def _both(monkeypatch, x, w, b=None, **kw):
    plain = _conv_fn(monkeypatch, False, x.shape, w, b, **kw)
    want = plain(x)
    formulated = _conv_fn(monkeypatch, True, x.shape, w, b, **kw)
    got = formulated(x)
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)
    assert "formulation=" not in plain.source
    return formulated.source


@pytest.mark.parametrize("batch,stride,padding", [(1, 1, 1), (3, (2, 1), 2), (2, 2, 0)])
def test_grouped_convolution_runs_on_a_channels_last_input(monkeypatch, batch, stride, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 12, 9, 14)).astype("float32")
    w = rng.standard_normal((12, 1, 3, 3)).astype("float32")  # depthwise
    b = rng.standard_normal(12).astype("float32")
    source = _both(monkeypatch, x, w, b, stride=stride, padding=padding, groups=12)
    assert "direct_conv(" in source
    w2 = rng.standard_normal((12, 4, 3, 3)).astype("float32")  # grouped, no bias
    assert "formulation='channels_last'" in _both(monkeypatch, x, w2, None, padding=1, groups=3)


@pytest.mark.parametrize("batch", [1, 4])
def test_pointwise_convolution_is_a_matrix_product(monkeypatch, batch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, 6, 5, 7)).astype("float32")
    w = rng.standard_normal((10, 6, 1, 1)).astype("float32")
    b = rng.standard_normal(10).astype("float32")
    assert "formulation='matmul'" in _both(monkeypatch, x, w, b)
    assert "formulation='matmul'" in _both(monkeypatch, x, w)


def test_pointwise_after_a_grouped_convolution_reads_channels_last(monkeypatch):
    """The depthwise convolution's channels-last output reaches the 1x1 convolution: its
    matrix product runs on the channels-last rows, with the same values."""
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((2, 8, 6, 6)).astype("float32")
    dw = th.shared(rng.standard_normal((8, 1, 3, 3)).astype("float32"))
    pw = th.shared(rng.standard_normal((5, 8, 1, 1)).astype("float32"))
    pb = th.shared(rng.standard_normal(5).astype("float32"))
    results = []
    for fuse in (False, True):
        monkeypatch.setattr(config, "FUSE", fuse)
        x = th.tensor("x", (None, 8, 6, 6))
        y = th.nn.conv2d(th.relu(th.nn.conv2d(x, dw, padding=1, groups=8)), pw, pb)
        f = th.function([x], y)
        results.append(f(xs))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5, atol=1e-5)
    assert "formulation='channels_last'" in f.source and "formulation='matmul'" in f.source


def test_strided_padded_and_float64_pointwise_convolutions_keep_atens_path(monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 6, 6)).astype("float32")
    w = rng.standard_normal((3, 4, 1, 1)).astype("float32")
    assert "formulation=" not in _both(monkeypatch, x, w, stride=2)
    assert "formulation=" not in _both(monkeypatch, x, w, padding=1)
    assert "formulation=" not in _both(monkeypatch, x.astype("float64"), w.astype("float64"))
