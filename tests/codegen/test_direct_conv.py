"""The generated convolution for few input channels per group (theon/codegen/direct_conv.py):
one real build in a cache of this module's own, whose values equal ATen's exactly on integer
data (every sum exact) and to float32 rounding on random data, over depthwise and first-layer
shapes with padding and strides 1 and 2, and each activation; gradients through it equal
torch's autograd; the PP-OCR classifier run on it equals onnxruntime; a generated kernel that
loses its timing is left unused, and a failed build leaves ATen's kernels."""
import time

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

import theon as th
from theon import config
from theon.codegen import cache
from theon.codegen.direct_conv import DirectConv
from theon.ops import extension

from ..onnx.models import ppocr, text_image


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """THEON_CODEGEN=auto with this module's own cache; the kernel built once."""
    saved = config.CODEGEN, config.CACHE_DIR
    config.CODEGEN, config.CACHE_DIR = "auto", str(tmp_path_factory.mktemp("cache"))
    cache.forget()
    DirectConv(groups=2).kernel(torch.zeros(1, 2, 5, 5), torch.zeros(2, 1, 3, 3), torch.zeros(2))  # starts the build
    assert cache.wait(600)
    yield
    cache.forget()
    config.CODEGEN, config.CACHE_DIR = saved


# (x shape, w shape, stride, padding, groups): depthwise 3x3 and 5x5 with every stride the
# build has, planes wider than a register block (32) and narrower, a first layer over 3
# channels, and 2 channels per group
SHAPES = [
    ((2, 8, 24, 96), (8, 1, 3, 3), (2, 1), (1, 1), 8),
    ((1, 24, 12, 45), (24, 1, 3, 3), (1, 1), (1, 1), 24),
    ((1, 32, 6, 70), (32, 1, 5, 5), (2, 1), (2, 2), 32),
    ((2, 6, 9, 11), (6, 1, 3, 3), (1, 2), (0, 0), 6),
    ((1, 5, 10, 13), (5, 1, 5, 5), (2, 2), (2, 2), 5),
    ((1, 4, 7, 40), (4, 1, 7, 7), (1, 1), (3, 3), 4),
    ((1, 3, 48, 192), (8, 3, 3, 3), (2, 2), (1, 1), 1),
    ((2, 4, 9, 33), (6, 2, 3, 3), (1, 2), (1, 0), 2),
]
ACTIVATIONS = {"": lambda y: y, "relu": F.relu, "hard_swish": F.hardswish}


def _integers(rng, *shape, low=-2, high=3):
    return torch.from_numpy(rng.integers(low, high, shape).astype(np.float32))


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,groups", SHAPES)
def test_values_equal_aten_exactly_on_integer_data(built, always_generated, x_shape, w_shape, stride, padding,
                                                   groups):
    rng = np.random.default_rng(0)
    x, w, b = _integers(rng, *x_shape), _integers(rng, *w_shape), _integers(rng, w_shape[0], low=-4, high=5)
    ref = F.conv2d(x, w, b, stride=stride, padding=padding, groups=groups)
    # values in each piece of the activations: below -3, in (-3, 0), in (0, 3), above 3
    assert all(bool(piece.any()) for piece in (ref < -3, (ref < 0) & (ref > -3), (ref > 0) & (ref < 3), ref > 3))
    for activation, fn in ACTIVATIONS.items():
        op = DirectConv(stride=stride, padding=padding, groups=groups, activation=activation)
        got = op.kernel(x, w, b)
        assert got.is_contiguous()
        torch.testing.assert_close(got, fn(ref), rtol=0, atol=0)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,groups", SHAPES[:3] + SHAPES[-2:])
def test_random_data_within_float32_rounding(built, always_generated, x_shape, w_shape, stride, padding, groups):
    rng = np.random.default_rng(1)
    x, w = (torch.from_numpy(rng.standard_normal(s).astype(np.float32)) for s in (x_shape, w_shape))
    b = torch.from_numpy(rng.standard_normal(w_shape[0]).astype(np.float32))
    got = DirectConv(stride=stride, padding=padding, groups=groups, activation="hard_swish").kernel(x, w, b)
    ref = F.hardswish(F.conv2d(x, w, b, stride=stride, padding=padding, groups=groups))
    torch.testing.assert_close(got, ref, rtol=1e-6, atol=1e-5)


def test_the_op_with_an_activation_taken_in_applies_it_after_the_plain_op_has_run(built, always_generated):
    """with_activation (the pass's rewrite) makes an op of its own: the plain op's kernel,
    already chosen for these shapes, is not taken over without the activation."""
    rng = np.random.default_rng(2)
    x, w, b = _integers(rng, 1, 6, 9, 11), _integers(rng, 6, 1, 3, 3), _integers(rng, 6)
    plain = DirectConv(padding=(1, 1), groups=6)
    ref = F.conv2d(x, w, b, padding=1, groups=6)
    torch.testing.assert_close(plain.kernel(x, w, b), ref, rtol=0, atol=0)
    for activation in ("relu", "hard_swish"):
        op = plain.with_activation(activation)
        assert op.activation == activation and op.padding == (1, 1) and op.groups == 6
        torch.testing.assert_close(op.kernel(x, w, b), ACTIVATIONS[activation](ref), rtol=0, atol=0)


def test_gradients_through_the_generated_kernel_equal_torch(built, always_generated):
    """A depthwise layer and a hard-swish, compiled with their gradients: the pass makes a
    direct_conv node that runs the generated kernel, and the gradients (the unfused graph's)
    equal autograd's."""
    rng = np.random.default_rng(2)
    xv, wv, bv = (rng.standard_normal(s).astype(np.float32) for s in ((2, 6, 10, 40), (6, 1, 3, 3), (6,)))
    x, w, b = th.tensor("x", (2, 6, 10, 40)), th.tensor("w", (6, 1, 3, 3)), th.tensor("b", (6,))
    y = th.nn.conv2d(x, w, b, stride=(2, 1), padding=1, groups=6)
    y = y * th.clip(y + 3.0, 0.0, 6.0) / 6.0
    loss = th.sum(y * y)
    f = th.function([x, w, b], [y, *th.grad(loss, [x, w, b])])
    outs = f(xv, wv, bv)
    assert "# direct_conv(" in f.source
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (xv, wv, bv))
    yt = F.hardswish(F.conv2d(xt, wt, bt, stride=(2, 1), padding=1, groups=6))
    want = [yt.detach(), *torch.autograd.grad((yt * yt).sum(), [xt, wt, bt])]
    for got, ref in zip(outs, want):
        np.testing.assert_allclose(np.asarray(got), ref.numpy(), rtol=1e-5, atol=1e-4)


def test_ppocr_classifier_on_the_generated_kernel_equals_onnxruntime(built):
    path = ppocr("ch_ppocr_mobile_v2.0_cls_infer.onnx")
    model = th.onnx.load(path)
    f = th.function(model.inputs, model.outputs)
    x = text_image(1, 48, 192)
    ref = ort.InferenceSession(path).run(None, {"x": x})[0]
    for _ in range(3):      # the first call runs the generated kernels, the second times them
        ours = np.asarray(f(x)[0])
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
    assert f.source.count("# direct_conv(") == 12   # 11 depthwise and the first layer


def test_a_generated_kernel_that_loses_its_timing_is_not_used(built, monkeypatch):
    real = cache.cpp_function
    calls = []

    def slow(*args):
        fn = real(*args)

        def run(*a):
            calls.append(1)
            time.sleep(0.05)
            return fn(*a)
        return run
    monkeypatch.setattr(cache, "cpp_function", slow)
    op = DirectConv(padding=(1, 1), groups=8, activation="relu")
    x, w, b = torch.rand(1, 8, 12, 40), torch.rand(8, 1, 3, 3), torch.rand(8)
    first = op.kernel(x, w, b)
    assert len(calls) == 1                    # the first call runs it, untimed
    op.kernel(x, w, b)
    assert 1 < len(calls) <= 4                # timed once (three runs), then left alone
    n = len(calls)
    again = op.kernel(x, w, b)
    assert len(calls) == n
    ref = F.relu(F.conv2d(x, w, b, padding=1, groups=8))
    torch.testing.assert_close(first, ref, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(again, ref, rtol=1e-6, atol=1e-6)


def test_no_call_waits_for_the_build_and_a_failed_build_keeps_aten(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "CODEGEN", "auto")
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    cache.forget()

    def broken(source, *build_args):
        time.sleep(0.5)
        raise extension.ExtensionError("no compiler here")
    monkeypatch.setattr(cache, "build_cpp", broken)
    monkeypatch.setattr(cache, "_cached_cpp", lambda *args: None)  # nothing built in this process or on disk
    op = DirectConv(stride=(2, 2), padding=(1, 1), groups=4, activation="hard_swish")
    x, w, b = torch.rand(1, 4, 9, 9), torch.rand(4, 1, 3, 3), torch.rand(4)
    start = time.perf_counter()
    first = op.kernel(x, w, b)
    assert time.perf_counter() - start < 0.4            # the build runs in the background
    assert cache.wait(60)
    ref = F.hardswish(F.conv2d(x, w, b, stride=2, padding=1, groups=4))
    torch.testing.assert_close(first, ref)
    torch.testing.assert_close(op.kernel(x, w, b), ref)  # still ATen's kernels
    assert op._choice == {}                               # and no generated function was taken
    cache.forget()
