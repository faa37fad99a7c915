"""The formulate pass: max-pooling as maxima of strided views where the shape rule allows,
shown in the program and equal to ATen's pooling."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import theon as th
from theon import config
from theon.ops.nn_pool import MaxPool


def _pool_fn(monkeypatch, fuse, shape, kernel, stride=None, padding=0, ceil_mode=False, dtype="float32"):
    monkeypatch.setattr(config, "FUSE", fuse)
    x = th.tensor("x", (None,) * len(shape), dtype)
    return th.function([x], th.nn.max_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode))


@pytest.mark.parametrize("shape,kernel,ceil_mode", [
    ((4, 6, 28, 28), 2, False),
    ((2, 3, 9, 7), (3, 2), False),     # odd sizes: the last partial row/column is dropped
    ((3, 8, 6), 2, False),             # unbatched (C, H, W)
    ((2, 2, 6, 9), 3, True),           # ceil mode where the windows tile the input
    ((2, 2, 7, 7), 2, True),           # ceil mode with partial windows: ATen's kernel
    ((1, 5, 2, 96), 2, False),         # the PP-OCR classifier's pool: one row of windows
    ((2, 3, 8, 9), (1, 3), False),     # windows of one row: the column pass alone
    ((2, 3, 9, 8), (3, 1), False),     # windows of one column: the row pass alone
])
def test_strided_max_pool_equals_atens_and_is_shown(monkeypatch, shape, kernel, ceil_mode):
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal(shape), 0).astype("float32")  # ReLU-like: many ties at 0
    x.reshape(-1)[::17] = np.nan
    x.reshape(-1)[5::23] = np.inf
    f = _pool_fn(monkeypatch, True, shape, kernel, ceil_mode=ceil_mode)
    got = f(x)
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    want = F.max_pool2d(torch.from_numpy(x), k, ceil_mode=ceil_mode).numpy()
    np.testing.assert_array_equal(got, want)
    assert "formulation='strided'" in f.source


def test_float64_and_every_layout_equal_the_unrewritten_pool(monkeypatch):
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8))
    plain = _pool_fn(monkeypatch, False, x.shape, 2, dtype="float64")
    want = plain(x)
    assert "strided" not in plain.source
    fused = _pool_fn(monkeypatch, True, x.shape, 2, dtype="float64")
    np.testing.assert_array_equal(fused(x), want)
    # a channels-last tensor and a strided view take the same path
    op = MaxPool((2, 2), (2, 2), formulation="strided")
    t = torch.from_numpy(x)
    np.testing.assert_array_equal(op.kernel(t.contiguous(memory_format=torch.channels_last)).numpy(), want)
    np.testing.assert_array_equal(op.kernel(t.transpose(2, 3)).numpy(),
                                  F.max_pool2d(t.transpose(2, 3), 2).numpy())


@pytest.mark.parametrize("kernel,stride,padding", [(2, 1, 0), (2, 2, 1), (4, 4, 0)])
def test_overlapping_padded_or_large_windows_keep_atens_pool(monkeypatch, kernel, stride, padding):
    x = np.random.default_rng(2).random((1, 2, 8, 8), dtype=np.float32)
    f = _pool_fn(monkeypatch, True, x.shape, kernel, stride, padding)
    np.testing.assert_array_equal(f(x), F.max_pool2d(torch.from_numpy(x), kernel, stride, padding).numpy())
    assert "strided" not in f.source


def test_training_graph_pool_keeps_its_argmax_kernel_and_values(monkeypatch):
    x = np.random.default_rng(3).random((2, 2, 6, 6), dtype=np.float32)

    def build(fuse):
        monkeypatch.setattr(config, "FUSE", fuse)
        xv = th.tensor("x", (None, 2, 6, 6))
        y = th.nn.max_pool2d(xv, 2)
        return th.function([xv], [y, th.grad((y * y).sum(), xv)])
    want, fused = build(False)(x), build(True)
    for g, w in zip(fused(x), want):
        np.testing.assert_array_equal(g, w)
    assert "strided" not in fused.source


def test_many_channel_training_pool_runs_channels_last_with_equal_values_and_gradient(monkeypatch):
    x = np.maximum(np.random.default_rng(4).standard_normal((3, 16, 6, 6)), 0).astype("float32")

    def build(fuse):
        monkeypatch.setattr(config, "FUSE", fuse)
        xv = th.tensor("x", (None, 16, 6, 6))
        y = th.nn.max_pool2d(xv, 2)
        return th.function([xv], [y, th.grad((y * th.arange(9.0).reshape((3, 3))).sum(), xv)])
    want, fused = build(False)(x), build(True)
    for g, w in zip(fused(x), want):
        np.testing.assert_array_equal(g, w)
    assert "formulation='channels_last'" in fused.source


def _ops(f):
    return [n.op.name for n in f.last_program.schedule]


def test_a_global_pool_flattened_is_the_mean_without_kept_dims(monkeypatch):
    monkeypatch.setattr(config, "FUSE", True)
    x = th.tensor("x", (None, 5, 2, 3), "float64")
    pooled = th.mean(x, axis=(2, 3), keepdims=True)
    f = th.function([x], pooled.reshape((x.shape[0], 5)))
    v = np.random.default_rng(5).standard_normal((4, 5, 2, 3))
    got = f(v)
    monkeypatch.setattr(config, "FUSE", False)
    unfused = th.function([x], pooled.reshape((x.shape[0], 5)))
    np.testing.assert_array_equal(got, unfused(v))   # the same reduction: the same values
    np.testing.assert_allclose(got, v.mean(axis=(2, 3)), rtol=1e-12)
    monkeypatch.setattr(config, "FUSE", True)
    assert _ops(f) == ["mean"] and "mean(axes=(2, 3))" in f.source
    assert _ops(unfused) == ["mean", "reshape"]
    # left alone: the kept-dims mean is read twice, or the reshape does more than drop its unit dims
    both = th.function([x], [pooled.reshape((x.shape[0], 5)), pooled * 2.0])
    got = both(v)
    np.testing.assert_allclose(got[0], v.mean(axis=(2, 3)), rtol=1e-12)
    assert "reshape" in _ops(both)
    other = th.function([x], pooled.reshape((x.shape[0] * 5,)))
    np.testing.assert_allclose(other(v), v.mean(axis=(2, 3)).reshape(-1), rtol=1e-12)
    assert "reshape" in _ops(other)
