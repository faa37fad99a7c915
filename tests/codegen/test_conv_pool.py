"""The generated conv+ReLU+max-pool kernel (theon/codegen/conv_pool.py): one real build in
a cache of this module's own, whose values and argmax equal ATen's (exactly on integer
data, where every sum is exact and ties are many; NaN windows as ATen's scan takes them),
a training run equal to the unfused program, no call waiting for a build, a failed build
leaving the unfused kernels, and a generated kernel that loses its timing left unused. The
weight gradient from the pooled gradient likewise."""
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import theon as th
from theon import config, nn
from theon.codegen import cache, conv_pool, conv_pool_cpp
from theon.codegen.conv_pool import (ConvReluPool, ConvReluPoolBackward, ConvReluPoolBackwardWithInput,
                                     ConvReluPoolWithIndices)
from theon.codegen.conv_pool_spec import BACKWARD, FUNCTION, INPUT_BACKWARD
from theon.ops import extension


FUNCTIONS = (FUNCTION, BACKWARD, INPUT_BACKWARD)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """THEON_CODEGEN=auto with this module's own cache; the kernel for x (8, 1, 28, 28),
    w (6, 1, 5, 5), padding 2, pool 2 built once."""
    saved = config.CODEGEN, config.CACHE_DIR
    config.CODEGEN, config.CACHE_DIR = "auto", str(tmp_path_factory.mktemp("cache"))
    cache.forget()
    op = ConvReluPoolWithIndices((2, 2), (2, 2))
    x, w, b = torch.zeros(8, 1, 28, 28), torch.zeros(6, 1, 5, 5), torch.zeros(6)
    op.kernel(x, w, b)            # starts the build
    assert cache.wait(600)
    yield
    cache.forget()
    config.CODEGEN, config.CACHE_DIR = saved


def _aten(x, w, b, padding=2):
    return F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=padding)), 2, return_indices=True)


def _integers(rng, *shape):
    return torch.from_numpy(rng.integers(-2, 3, shape).astype(np.float32))


def test_values_and_argmax_equal_aten_on_exact_data(built, always_generated):
    rng = np.random.default_rng(0)
    x, w = _integers(rng, 8, 1, 28, 28), _integers(rng, 6, 1, 5, 5)
    b = torch.from_numpy(rng.integers(-9, -3, 6).astype(np.float32))
    values, indices = ConvReluPoolWithIndices((2, 2), (2, 2)).kernel(x, w, b)
    ref_values, ref_indices = _aten(x, w, b)
    assert (ref_values == 0).float().mean() > 0.2      # many all-zero windows: ties resolved alike
    torch.testing.assert_close(values, ref_values, rtol=0, atol=0)
    torch.testing.assert_close(indices, ref_indices, rtol=0, atol=0)
    torch.testing.assert_close(ConvReluPool((2, 2), (2, 2)).kernel(x, w, b), ref_values, rtol=0, atol=0)


def test_nan_windows_as_aten_takes_them(built, always_generated):
    rng = np.random.default_rng(1)
    x, w, b = _integers(rng, 8, 1, 28, 28), _integers(rng, 6, 1, 5, 5), _integers(rng, 6)
    x[0, 0, 3, 4] = x[2, 0, 27, 27] = float("nan")
    values, indices = ConvReluPoolWithIndices((2, 2), (2, 2)).kernel(x, w, b)
    ref_values, ref_indices = _aten(x, w, b)
    assert torch.isnan(ref_values).sum() > 20
    torch.testing.assert_close(values, ref_values, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(indices, ref_indices, rtol=0, atol=0)
    torch.testing.assert_close(ConvReluPool((2, 2), (2, 2)).kernel(x, w, b), ref_values, rtol=0, atol=0,
                               equal_nan=True)


def test_weight_gradients_equal_the_unfused_kernels_on_exact_data(built, always_generated):
    rng = np.random.default_rng(4)
    x, w = _integers(rng, 8, 1, 28, 28), _integers(rng, 6, 1, 5, 5)
    b = torch.from_numpy(rng.integers(-9, 3, 6).astype(np.float32))
    pooled, indices = ConvReluPoolWithIndices((2, 2), (2, 2)).kernel(x, w, b)
    g = _integers(rng, *pooled.shape)
    g[0, 0, 0, 0] = float("nan")     # a NaN gradient reaches the sums as in ATen's
    op = ConvReluPoolBackward((2, 2), (2, 2))
    gw, gb = op.kernel(g, pooled, indices, x, w)
    ref_w, ref_b = op.unfused(g, pooled, indices, x, w)
    torch.testing.assert_close(gw, ref_w, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(gb, ref_b, rtol=0, atol=0, equal_nan=True)
    # against torch autograd through the unfused layer
    xt, wt, bt = x.clone(), w.clone().requires_grad_(), b.clone().requires_grad_()
    g[0, 0, 0, 0] = 1.0
    out = F.max_pool2d(F.relu(F.conv2d(xt, wt, bt, padding=2)), 2)
    want = torch.autograd.grad(out, [wt, bt], g)
    got = op.kernel(g, pooled, indices, x, w)
    torch.testing.assert_close(got[0], want[0], rtol=0, atol=0)
    torch.testing.assert_close(got[1], want[1], rtol=0, atol=0)


def test_random_data_within_float32_rounding(built, always_generated):
    rng = np.random.default_rng(2)
    x = torch.from_numpy(rng.standard_normal((8, 1, 28, 28)).astype(np.float32))
    w = torch.from_numpy(rng.standard_normal((6, 1, 5, 5)).astype(np.float32))
    b = torch.from_numpy(rng.standard_normal(6).astype(np.float32))
    values, _ = ConvReluPoolWithIndices((2, 2), (2, 2)).kernel(x, w, b)
    torch.testing.assert_close(values, _aten(x, w, b)[0], rtol=1e-5, atol=1e-5)


def test_training_with_the_generated_kernel_equals_the_unfused_program(built, always_generated, monkeypatch):
    rng = np.random.default_rng(3)
    data, labels = rng.random((16, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 16)

    def fit():
        m = nn.Sequential([nn.Conv2D(6, 5, padding="same", activation="relu"), nn.MaxPool2D(2),
                           nn.Conv2D(16, 5, activation="relu"), nn.MaxPool2D(2), nn.Flatten(),
                           nn.Dense(10)], input_shape=(1, 28, 28), seed=0)
        m.compile(th.optim.SGD(0.05, momentum=0.9), "cross_entropy")
        losses = m.fit(data, labels, epochs=4, batch_size=8, shuffle=False, verbose=0).history["loss"]
        return m, losses

    # the second layer's kernel built first, so that every step runs generated kernels
    ConvReluPoolWithIndices((0, 0), (2, 2)).kernel(torch.zeros(8, 6, 14, 14), torch.zeros(16, 6, 5, 5), torch.zeros(16))
    assert cache.wait(600)
    generated, losses = fit()
    source = generated.train_function.source
    assert source.count("= conv_relu_pool_with_indices_") == 2 and "conv_relu_pool_backward" in source
    monkeypatch.setattr(config, "CODEGEN", "off")
    unfused, unfused_losses = fit()
    np.testing.assert_allclose(losses, unfused_losses, rtol=1e-6)
    for a, b in zip(generated.get_weights().values(), unfused.get_weights().values()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_generated_kernel_that_loses_its_timing_is_not_used(built, monkeypatch, tmp_path):
    # verdicts are kept under THEON_CACHE_DIR: an empty one, so this node measures (the kernel
    # itself stays loaded in this process)
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    op = ConvReluPoolWithIndices((2, 2), (2, 2))
    x, w, b = torch.rand(8, 1, 28, 28), torch.rand(6, 1, 5, 5), torch.rand(6)
    real = cache.cpp_function
    calls = []

    def slow(*args):
        forward, *backwards = real(*args)

        def run(*a):
            calls.append(1)
            time.sleep(0.3)  # far slower than the unfused kernels even on a loaded 2-core machine,
            return forward(*a)  # where OpenMP's two threads can take 100 ms a call
        return run, *backwards
    monkeypatch.setattr(cache, "cpp_function", slow)
    values, _ = op.kernel(x, w, b)
    assert len(calls) == 1                    # the first call runs it, untimed
    op.kernel(x, w, b)
    assert 1 < len(calls) <= 4                # timed once (three runs), then left alone
    n = len(calls)
    op.kernel(x, w, b)
    assert len(calls) == n
    torch.testing.assert_close(values, _aten(x, w, b)[0], rtol=1e-5, atol=1e-5)
    # a later process (a new node, as it would build) takes the verdict from the disk: the
    # unfused kernels from its first call, and no timing
    later = ConvReluPoolWithIndices((2, 2), (2, 2))
    for _ in range(3):
        values, indices = later.kernel(x, w, b)
    assert len(calls) == n
    ref_values, ref_indices = _aten(x, w, b)
    torch.testing.assert_close(values, ref_values, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(indices, ref_indices, rtol=0, atol=0)


def test_a_saved_win_runs_the_generated_kernel_without_timing_the_unfused_ones(built, monkeypatch, tmp_path):
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    x, w, b = torch.rand(8, 1, 28, 28), torch.rand(6, 1, 5, 5), torch.rand(6)
    unfused = []
    real_unfused = ConvReluPoolWithIndices.unfused

    def counted(self, *args):
        unfused.append(1)
        return real_unfused(self, *args)
    monkeypatch.setattr(ConvReluPoolWithIndices, "unfused", counted)
    first = ConvReluPoolWithIndices((2, 2), (2, 2))
    first.kernel(x, w, b)
    first.kernel(x, w, b)                     # the measurement: three runs of the unfused kernels
    assert len(unfused) == 3
    won = next(iter(first._choice.values())).use
    later = ConvReluPoolWithIndices((2, 2), (2, 2))   # what a later process builds
    for _ in range(3):
        values, indices = later.kernel(x, w, b)
    assert len(unfused) == (3 if won else 6)  # the saved winner only, from the first call
    ref_values, ref_indices = _aten(x, w, b)
    torch.testing.assert_close(values, ref_values, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(indices, ref_indices, rtol=0, atol=0)


def test_no_call_waits_for_the_build_and_a_failed_build_keeps_the_unfused_kernels(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "CODEGEN", "auto")
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    cache.forget()

    def broken(source, *build_args):
        time.sleep(0.5)
        raise extension.ExtensionError("no compiler here")
    monkeypatch.setattr(cache, "build_cpp", broken)
    op = ConvReluPool((1, 1), (2, 2))
    x, w, b = torch.rand(2, 1, 9, 9), torch.rand(3, 1, 3, 3), torch.rand(3)
    start = time.perf_counter()
    first = op.kernel(x, w, b)
    assert time.perf_counter() - start < 0.4            # the build runs in the background
    assert cache.wait(60)
    ref = F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=1)), 2)
    torch.testing.assert_close(first, ref)
    torch.testing.assert_close(op.kernel(x, w, b), ref)  # still the unfused kernels
    cache.forget()


def _exact_case(rng, x_shape, w_shape, bias_range=(-9, 3)):
    x, w = _integers(rng, *x_shape), _integers(rng, *w_shape)
    b = torch.from_numpy(rng.integers(*bias_range, w_shape[0]).astype(np.float32))
    return x, w, b


def test_a_second_layer_blocked_over_output_channels_equals_aten(built, always_generated):
    """LeNet's 6 -> 16 channel layer: more output channels than one register block holds."""
    rng = np.random.default_rng(5)
    x, w, b = _exact_case(rng, (4, 6, 14, 14), (16, 6, 5, 5))
    op = ConvReluPoolWithIndices((0, 0), (2, 2))
    op.kernel(x, w, b)                 # starts this shape's build
    assert cache.wait(600)
    values, indices = op.kernel(x, w, b)
    ref_values, ref_indices = _aten(x, w, b, padding=0)
    torch.testing.assert_close(values, ref_values, rtol=0, atol=0)
    torch.testing.assert_close(indices, ref_indices, rtol=0, atol=0)
    torch.testing.assert_close(ConvReluPool((0, 0), (2, 2)).kernel(x, w, b), ref_values, rtol=0, atol=0)
    # all three gradients from the pooled gradient, exactly the unfused kernels'
    g = _integers(rng, *values.shape)
    op = ConvReluPoolBackwardWithInput((0, 0), (2, 2))
    for got, want in zip(op.kernel(g, values, indices, x, w), op.unfused(g, values, indices, x, w)):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_narrow_vectors_chunk_a_wide_row_and_pool_odd_windows_as_aten(built):
    """The source blocked for 4-lane vectors and 12 registers (a CPU without AVX): a row of
    40 outputs in chunks of two vectors, one output channel per block, 3x3 windows whose
    last row and column of the plane no window covers; the weight gradient likewise."""
    spec = conv_pool.ConvPoolSpec(3, 41, 40, 5, (3, 3), (1, 1), (3, 3))
    assert conv_pool_cpp.blocking(spec, 4, 12) == {"CHANNELS": "false", "TW": 1, "L": 4, "NVC": 2, "NCH": 5,
                                                   "OB": 1, "NVB": 2, "NCHB": 5, "OBW": 1, "NVXC": 5, "NCHX": 2,
                                                   "CB": 1}
    fns = cache.cpp_function(conv_pool_cpp.cpp_source(spec, "narrow test", 4, 12), "theon_conv_pool_narrow",
                             FUNCTIONS, ())
    assert fns is None and cache.wait(600)
    forward, backward, with_input = cache.cpp_function(conv_pool_cpp.cpp_source(spec, "narrow test", 4, 12),
                                                       "theon_conv_pool_narrow", FUNCTIONS, ())
    rng = np.random.default_rng(6)
    x, w, b = _exact_case(rng, (3, 3, 41, 40), (5, 3, 3, 3))
    values, indices = forward(x, w, b, True)
    ref_values, ref_indices = F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=1)), 3, return_indices=True)
    torch.testing.assert_close(values, ref_values, rtol=0, atol=0)
    torch.testing.assert_close(indices, ref_indices, rtol=0, atol=0)
    torch.testing.assert_close(forward(x, w, b, False)[0], ref_values, rtol=0, atol=0)
    g = _integers(rng, *values.shape)
    unfused = ConvReluPoolBackwardWithInput((1, 1), (3, 3)).unfused(g, values, indices, x, w)
    for got, want in zip(backward(g, values, indices, x), unfused):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    for got, want in zip(with_input(g, values, indices, x, w), unfused):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_narrow_vectors_put_output_channels_along_the_lanes_as_aten(built):
    """The channel schedule (8 output channels: two 4-lane vectors) in tiles of 4 columns and
    a last tile of 2, a row of the plane no window covers; the gradients of the same build."""
    spec = conv_pool.ConvPoolSpec(3, 21, 39, 8, (3, 3), (1, 1), (2, 2))
    blocking = conv_pool_cpp.blocking(spec, 4, 12)
    assert blocking["CHANNELS"] == "true" and blocking["TW"] == 4
    source = conv_pool_cpp.cpp_source(spec, "narrow channels test", 4, 12)
    assert cache.cpp_function(source, "theon_conv_pool_narrow", FUNCTIONS, ()) is None and cache.wait(600)
    forward, backward, with_input = cache.cpp_function(source, "theon_conv_pool_narrow", FUNCTIONS, ())
    rng = np.random.default_rng(7)
    x, w, b = _exact_case(rng, (3, 3, 21, 39), (8, 3, 3, 3))
    x[1, 2, 5, 7] = float("nan")
    values, indices = forward(x, w, b, True)
    ref_values, ref_indices = F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=1)), 2, return_indices=True)
    torch.testing.assert_close(values, ref_values, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(indices, ref_indices, rtol=0, atol=0)
    torch.testing.assert_close(forward(x, w, b, False)[0], ref_values, rtol=0, atol=0, equal_nan=True)
    x[1, 2, 5, 7] = 1.0
    values, indices = forward(x, w, b, True)
    g = _integers(rng, *values.shape)
    unfused = ConvReluPoolBackwardWithInput((1, 1), (2, 2)).unfused(g, values, indices, x, w)
    for got, want in zip(with_input(g, values, indices, x, w), unfused):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("lanes, registers", [(16, 28), (8, 14), (4, 12)])
@pytest.mark.parametrize("shape", [(1, 28, 28, 6, 5, 2, 2), (6, 14, 14, 16, 5, 0, 2), (3, 64, 300, 32, 3, 1, 3),
                                   (16, 9, 9, 7, 7, 3, 2)])
def test_blocking_fits_the_registers_and_covers_the_row(lanes, registers, shape):
    c, h, w, o, k, pad, pool = shape
    spec = conv_pool.ConvPoolSpec(c, h, w, o, (k, k), (pad, pad), (pool, pool))
    got = conv_pool_cpp.blocking(spec, lanes, registers)
    width = w + 2 * pad - k + 1
    assert got["NCH"] * got["NVC"] * lanes >= width > (got["NCH"] - 1) * got["NVC"] * lanes
    assert o % got["OB"] == 0
    # accumulators and one row's input vectors within the registers (a single block of one
    # channel is allowed to spill: nothing smaller exists)
    assert got["OB"] == 1 or got["OB"] * pool * got["NVC"] + min(got["NVC"] * got["NCH"], 4) <= registers
    # the weight gradient's chunks: OBW x KW x NVB accumulators, OBW x NVB gradient vectors
    assert got["NCHB"] * got["NVB"] * lanes >= width > (got["NCHB"] - 1) * got["NVB"] * lanes
    assert got["NVB"] == 1 or (k + 1) * got["NVB"] <= registers - 2
    assert o % got["OBW"] == 0 and (got["OBW"] == 1 or got["OBW"] * got["NVB"] * (k + 1) + 1 <= registers)
    # the forward's channel schedule: whole vectors of output channels, whole windows per tile
    if got["CHANNELS"] == "true":
        assert o % lanes == 0 and got["TW"] % pool == 0 and pool * got["TW"] + 2 <= registers
    else:
        assert o % lanes or pool * pool + 2 > registers
    # the input gradient's: CB input channels x NVXC vectors of an input row, NVXC shared
    assert got["NCHX"] * got["NVXC"] * lanes >= w > (got["NCHX"] - 1) * got["NVXC"] * lanes
    assert c % got["CB"] == 0 and (got["CB"] == 1 or (got["CB"] + 1) * got["NVXC"] <= registers)


def test_the_kernels_are_built_with_openmp(built):
    """at::parallel_for compiles to a serial loop without OpenMP: the kernels then ignored
    torch's thread count. Built with it, the library needs OpenMP's runtime (the libgomp
    torch has loaded) and calls it."""
    libraries = [lib for lib in (Path(config.CACHE_DIR) / "extensions").glob("theon_conv_pool_*/*.so")
                 if "narrow" not in lib.name]      # the tests' own builds for other CPUs
    assert libraries
    for library in libraries:
        binary = library.read_bytes()
        assert b"libgomp.so" in binary and b"GOMP_parallel" in binary, library
