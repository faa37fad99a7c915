"""The generated first-layer kernel (conv+ReLU+max-pool, theon/codegen/conv_pool.py) on a
device, checked and timed; gpu_check.py's build step runs it:

    python -m benchmarks.conv_pool_check [--device cuda|cpu]

On CUDA: the Triton kernels on LeNet's first layer (x (B, 1, 28, 28), w (6, 1, 5, 5), padding
2, pool 2; B = 64 and 256) against a float64 reference computed on the CPU, on integer data
(every sum exact): pooled values and argmax (ties and a NaN window included) and the weight
and bias gradients must be equal. Then each is timed against the unfused kernels (cuDNN's
convolution, ReLU, ATen's pool; the pool's scatter and cuDNN's weight gradient): alternating
windows, each ended by a synchronize, the median ratio with its spread; and the ops' own
one-time choice is reported. With --device cpu (the dry run) the same source runs in Triton's
interpreter on a tiny layer, whose timing says nothing about speed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from theon import config
from theon.codegen import conv_pool
from theon.codegen.conv_pool import ConvReluPoolBackward, ConvReluPoolWithIndices
from theon.codegen.conv_pool_spec import BACKWARD, FUNCTION

LENET = [((64, 1, 28, 28), (6, 1, 5, 5), (2, 2), (2, 2)), ((256, 1, 28, 28), (6, 1, 5, 5), (2, 2), (2, 2))]
TINY = [((2, 1, 6, 6), (3, 1, 3, 3), (1, 1), (2, 2))]


def _integers(rng, shape, low=-2, high=3, device="cpu"):
    return torch.from_numpy(rng.integers(low, high, shape).astype(np.float32)).to(device)


def _reference(x, w, b, g, padding, pool):
    """Pooled values, argmax, weight and bias gradients in float64 on the CPU."""
    x, w, b, g = (t.detach().cpu().double() for t in (x, w, b, g))
    pooled, idx = F.max_pool2d(F.relu(F.conv2d(x, w, b, padding=padding)), pool, return_indices=True)
    gw, gb = ConvReluPoolBackward(padding, pool).unfused(g, pooled, idx, x, w)
    return pooled, idx, gw, gb


def _ratio(fused, unfused, device, windows: int, reps: int) -> tuple:
    """fused time / unfused time: (median, lowest, highest) over alternating windows."""
    sync = (lambda: torch.cuda.synchronize(device)) if device.startswith("cuda") else (lambda: None)

    def timed(fn):
        sync()
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        sync()
        return time.perf_counter() - start

    timed(fused), timed(unfused)   # warm: compiled, cuDNN's algorithm chosen
    ratios = []
    for _ in range(windows):
        ratios.append(timed(fused) / timed(unfused))
    return statistics.median(ratios), min(ratios), max(ratios)


def check(device: str) -> None:
    cuda = device.startswith("cuda")
    if not cuda:   # the dry run: the CUDA source, interpreted (read when Triton is imported)
        assert "triton" not in sys.modules, "--device cpu needs a process that has not imported Triton"
        os.environ["TRITON_INTERPRET"] = "1"
        conv_pool.BACKENDS["cpu"] = "triton"
    config.CODEGEN = "auto"
    rng = np.random.default_rng(0)
    for layer in (LENET if cuda else TINY):
        check_layer(device, rng, *layer)
    print("conv_pool: ok")


def check_layer(device, rng, x_shape, w_shape, padding, pool) -> None:
    """One layer's Triton kernels: equal to the reference, then timed."""
    cuda = device.startswith("cuda")
    op, backward_op = ConvReluPoolWithIndices(padding, pool), ConvReluPoolBackward(padding, pool)
    x, w = _integers(rng, x_shape, device=device), _integers(rng, w_shape, device=device)
    b = _integers(rng, w_shape[:1], -int(np.prod(w_shape[1:])) // 2, 1, device=device)
    forward = conv_pool.built(op, x.shape, w.shape, FUNCTION, "triton", x.device)
    grad = conv_pool.built(op, x.shape, w.shape, BACKWARD, "triton", x.device)
    assert forward is not None and grad is not None, "Triton is missing or did not compile (see the log)"
    nan_x = x.clone()
    nan_x[0, 0, 3, 4] = float("nan")   # NaN windows (not in the gradient's check: see ConvReluPoolBackward)
    pooled, idx = forward(x, w, b, True)
    g = _integers(rng, pooled.shape, device=device)
    got = [*forward(nan_x, w, b, True), *grad(g, pooled, idx, x)]
    want = [*_reference(nan_x, w, b, g, padding, pool)[:2], *_reference(x, w, b, g, padding, pool)[2:]]
    for what, a, ref in zip(("pooled values", "argmax", "weight gradient", "bias gradient"), got, want):
        a = a.cpu().to(ref.dtype)
        assert torch.equal(a.isnan(), ref.isnan()) and torch.equal(a.nan_to_num(), ref.nan_to_num()), \
            f"{what} differs from the float64 reference"
    print(f"conv_relu_pool on {device} (Triton{'' if cuda else ', interpreted'}), x {x_shape}, "
          f"w {w_shape}: values, argmax and weight and bias gradients equal the float64 reference")
    windows, reps = (7, 20) if cuda else (2, 1)
    pairs = {"forward with argmax": (lambda: forward(x, w, b, True), lambda: op.unfused(x, w, b, True)),
             "forward": (lambda: forward(x, w, b, False), lambda: op.unfused(x, w, b, False)),
             "weight gradient": (lambda: grad(g, pooled, idx, x),
                                 lambda: backward_op.unfused(g, pooled, idx, x, w))}
    for what, (fused, unfused) in pairs.items():
        median, low, high = _ratio(fused, unfused, device, windows, reps)
        print(f"  {what}: Triton / unfused time {median:.2f} ({low:.2f}-{high:.2f}, {windows} windows)")
    for _ in range(2):           # the second call times once and decides
        op.kernel(x, w, b)
    choice = op._choice[("triton", tuple(x.shape), tuple(w.shape))]
    print(f"  the op's one-time choice: {'Triton' if choice.use else 'the unfused kernels'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu (Triton's interpreter)")
    check(parser.parse_args(argv).device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
