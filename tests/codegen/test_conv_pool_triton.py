"""The Triton backend of the conv+ReLU+max-pool ops (theon/codegen/conv_pool_triton.py), the
one CUDA runs, here run by Triton's interpreter on CPU tensors through the ops themselves
(the "cpu" backend pointed at Triton): values and argmax equal ATen's exactly on integer
data (ties everywhere, NaN windows), the weight and bias gradients equal the unfused
kernels', the same one-time timed choice as on the CPU, and the unfused kernels where Triton
is missing or cannot compile. Shapes are tiny: the interpreter runs each op in NumPy.

The interpreter must be on when Triton is imported (it decorates its own library then), so
the interpreted checks run together in one fresh process (`run_checks`) and each test
asserts its check's result."""
import importlib.util
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import theon as th
from theon import config, nn
from theon.codegen import cache, conv_pool, timed
from theon.codegen.conv_pool import ConvReluPool, ConvReluPoolBackward, ConvReluPoolWithIndices

pytest.importorskip("triton", reason="Triton has wheels for Linux x86-64 only")
ROOT = Path(__file__).resolve().parents[2]

# (x shape, w shape, padding, pool): a LeNet-like layer; two input channels, a kernel that is
# not square, a row left over by the pool; three input channels, 1x1, a column left over;
# LeNet's second layer (6 -> 16 channels, 5x5) on a small plane
SHAPES = [((2, 1, 6, 6), (3, 1, 3, 3), (1, 1), (2, 2)),
          ((3, 2, 8, 9), (2, 2, 2, 3), (0, 1), (2, 3)),
          ((2, 3, 5, 5), (5, 3, 1, 1), (0, 0), (1, 2)),
          ((1, 6, 8, 8), (16, 6, 5, 5), (0, 0), (2, 2))]


@pytest.fixture(scope="module")
def interpreted(tmp_path_factory):
    """{check: "passed" or its traceback}, every interpreted check run once."""
    folder = tmp_path_factory.mktemp("triton")
    code = f"from tests.codegen.test_conv_pool_triton import run_checks; run_checks({str(folder)!r})"
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads((folder / "results.json").read_text())


def _passed(results, name):
    assert results[name] == "passed", results[name]


@pytest.mark.parametrize("shape", range(len(SHAPES)))
def test_values_and_argmax_equal_aten(interpreted, shape):
    _passed(interpreted, f"values {shape}")


@pytest.mark.parametrize("shape", range(len(SHAPES)))
def test_weight_and_bias_gradients_equal_the_unfused_kernels(interpreted, shape):
    _passed(interpreted, f"gradients {shape}")


def test_random_data_within_float32_rounding(interpreted):
    _passed(interpreted, "random")


def test_the_generated_kernel_is_timed_once_against_the_unfused_kernels(interpreted):
    _passed(interpreted, "timed once")


def test_training_with_the_triton_kernels_equals_the_unfused_program(interpreted):
    _passed(interpreted, "training")


def run_checks(folder):
    """In a process with TRITON_INTERPRET=1: each check with the ops' CPU kernels pointed at
    the Triton source and a cache of its own; results.json in `folder`."""
    checks = {**{f"values {i}": (check_values, s) for i, s in enumerate(SHAPES)},
              **{f"gradients {i}": (check_gradients, s) for i, s in enumerate(SHAPES)},
              "random": (check_random, SHAPES[1]), "timed once": (check_timed_once, SHAPES[0]),
              "training": (check_training, ())}
    results = {}
    for name, (check, shape) in checks.items():
        with pytest.MonkeyPatch.context() as mp:
            mp.setitem(conv_pool.BACKENDS, "cpu", "triton")
            mp.setattr(config, "CODEGEN", "auto")
            mp.setattr(config, "CACHE_DIR", str(Path(folder) / "cache"))
            cache.forget()
            try:
                check(mp, *shape)
                results[name] = "passed"
            except Exception:
                results[name] = traceback.format_exc()
    (Path(folder) / "results.json").write_text(json.dumps(results))


def _generated_only(mp):
    """The generated kernel on every call, and no unfused kernel run by the ops (so a value
    that matches ATen's came from Triton)."""
    mp.setattr(timed.TimedChoice, "pick", lambda self, aten, *args: self.fn)
    for cls in (conv_pool._ConvReluPoolAttrs, ConvReluPoolBackward):
        mp.setattr(cls, "unfused", _unfused_ran)


def _unfused_ran(self, *args):
    raise AssertionError("the unfused kernels ran")


def _integers(rng, shape, low=-2, high=3):
    return torch.from_numpy(rng.integers(low, high, shape).astype(np.float32))


def _layer(rng, x_shape, w_shape):
    """Integer data: every sum exact, so the generated kernel must equal ATen bit for bit;
    biases negative by about the number of taps make many all-zero windows (ties)."""
    taps = int(np.prod(w_shape[1:]))
    return _integers(rng, x_shape), _integers(rng, w_shape), _integers(rng, w_shape[:1], -taps, -(taps // 3))


def _aten(x, w, b, padding, pool):
    return F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=padding)), pool, return_indices=True)


def check_values(mp, x_shape, w_shape, padding, pool):
    _generated_only(mp)
    rng = np.random.default_rng(0)
    x, w, b = _layer(rng, x_shape, w_shape)
    x[0, 0, 1, 2] = x[-1, -1, -1, -1] = float("nan")
    values, indices = ConvReluPoolWithIndices(padding, pool).kernel(x, w, b)
    ref_values, ref_indices = _aten(x, w, b, padding, pool)
    assert (ref_values == 0).float().mean() > 0.2 and torch.isnan(ref_values).any()
    torch.testing.assert_close(values, ref_values, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(indices, ref_indices, rtol=0, atol=0)
    torch.testing.assert_close(ConvReluPool(padding, pool).kernel(x, w, b), ref_values, rtol=0, atol=0,
                               equal_nan=True)


def check_gradients(mp, x_shape, w_shape, padding, pool):
    rng = np.random.default_rng(1)
    x, w, b = _layer(rng, x_shape, w_shape)
    b += int(np.prod(w_shape[1:])) // 2               # windows on both sides of the ReLU
    op = ConvReluPoolBackward(padding, pool)
    pooled, indices = ConvReluPoolWithIndices(padding, pool).unfused(x, w, b, True)
    g = _integers(rng, pooled.shape)
    g[0, 0, 0, 0] = float("nan")        # reaches the sums where the ReLU passed it (not through padding)
    ref_w, ref_b = op.unfused(g, pooled, indices, x, w)
    assert (pooled > 0).any() and (pooled == 0).any()
    _generated_only(mp)
    gw, gb = op.kernel(g, pooled, indices, x, w)
    torch.testing.assert_close(gw, ref_w, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(gb, ref_b, rtol=0, atol=0, equal_nan=True)


def check_random(mp, x_shape, w_shape, padding, pool):
    _generated_only(mp)
    rng = np.random.default_rng(2)
    x, w, b = (torch.from_numpy(rng.standard_normal(s).astype(np.float32))
               for s in (x_shape, w_shape, w_shape[:1]))
    values, indices = ConvReluPoolWithIndices(padding, pool).kernel(x, w, b)
    ref_values, ref_indices = _aten(x, w, b, padding, pool)
    torch.testing.assert_close(values, ref_values, rtol=1e-5, atol=1e-5)
    assert (indices == ref_indices).float().mean() > 0.95   # a near tie may round either way


def check_timed_once(mp, x_shape, w_shape, padding, pool):
    op = ConvReluPoolWithIndices(padding, pool)
    x, w, b = torch.rand(x_shape), torch.rand(w_shape), torch.rand(w_shape[:1])
    real = cache.triton_function
    calls = []

    def counted(*args):
        forward, backward = real(*args)

        def run(*a):
            calls.append(1)
            time.sleep(0.02)      # slower than the unfused kernels, whatever the machine
            return forward(*a)
        return run, backward
    mp.setattr(cache, "triton_function", counted)
    values, _ = op.kernel(x, w, b)
    assert len(calls) == 3              # two compile checks (with and without indices), the call
    op.kernel(x, w, b)
    assert len(calls) == 6              # timed once: three runs against the unfused kernels...
    op.kernel(x, w, b)
    assert len(calls) == 6              # ...which it loses: the unfused kernels from then on
    torch.testing.assert_close(values, _aten(x, w, b, padding, pool)[0], rtol=1e-5, atol=1e-5)


def check_training(mp):
    rng = np.random.default_rng(3)
    data, labels = rng.random((8, 1, 8, 8), dtype=np.float32), rng.integers(0, 4, 8)

    def fit():
        m = nn.Sequential([nn.Conv2D(3, 3, padding="same", activation="relu"), nn.MaxPool2D(2), nn.Flatten(),
                           nn.Dense(4)], input_shape=(1, 8, 8), seed=0)
        m.compile(th.optim.SGD(0.1, momentum=0.9), "cross_entropy")
        losses = m.fit(data, labels, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"]
        return m, losses

    with pytest.MonkeyPatch.context() as generated:
        _generated_only(generated)
        model, losses = fit()
    assert "conv_relu_pool_with_indices" in model.train_function.source
    assert "conv_relu_pool_backward" in model.train_function.source
    mp.setattr(config, "CODEGEN", "off")
    unfused, unfused_losses = fit()
    np.testing.assert_allclose(losses, unfused_losses, rtol=1e-6)
    for a, b in zip(model.get_weights().values(), unfused.get_weights().values()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ---- in this process: no interpreter needed --------------------------------------------------

@pytest.fixture
def triton_backend(monkeypatch, tmp_path):
    monkeypatch.setitem(conv_pool.BACKENDS, "cpu", "triton")
    monkeypatch.setattr(config, "CODEGEN", "auto")
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path / "cache"))
    cache.forget()
    yield
    cache.forget()


def test_without_triton_the_unfused_kernels_run(triton_backend, monkeypatch, tmp_path):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "triton" else
                        find_spec(name, *a))
    x, w, b = torch.rand(2, 1, 6, 6), torch.rand(3, 1, 3, 3), torch.rand(3)
    got = ConvReluPoolWithIndices((1, 1), (2, 2)).kernel(x, w, b)
    for a, ref in zip(got, _aten(x, w, b, 1, 2)):
        torch.testing.assert_close(a, ref, rtol=0, atol=0)
    assert not (tmp_path / "cache" / "triton").exists()    # no source was even written


def test_a_kernel_triton_cannot_compile_leaves_the_unfused_kernels(triton_backend, monkeypatch, caplog):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)   # compiled for a GPU: there is none here
    x, w, b = torch.rand(2, 1, 6, 6), torch.rand(3, 1, 3, 3), torch.rand(3)
    op = ConvReluPool((1, 1), (2, 2))
    with caplog.at_level("WARNING", logger="theon.codegen"):
        first = op.kernel(x, w, b)
        second = op.kernel(x, w, b)
    assert sum("failed to compile" in r.message for r in caplog.records) == 1
    ref = _aten(x, w, b, 1, 2)[0]
    torch.testing.assert_close(first, ref, rtol=0, atol=0)
    torch.testing.assert_close(second, ref, rtol=0, atol=0)
