"""What generated elementwise kernels (THEON_CODEGEN=cpp) buy, against PyTorch eager.

    python -m benchmarks.codegen [--rounds 15] [--threads N]

For each chain (tanh-GELU, swish written as x * sigmoid(x), an LSTM cell's pointwise part)
and size, times the same graph compiled with code generation off and on (after its kernels
are built: the build's own time is printed first) and the chain run eagerly in PyTorch, in
alternating windows (benchmarks/harness.py); ratios above 1 mean theon is faster.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import theon as th
from benchmarks.harness import alternate_calls, relative_difference, row
from theon import config
from theon.codegen import cache
from theon.compile.passes import fuse_elementwise

C = 0.7978845608028654


def gelu(x):
    return 0.5 * x * (1 + th.tanh(C * (x + 0.044715 * x * x * x)))


def gelu_eager(x):
    return 0.5 * x * (1 + torch.tanh(C * (x + 0.044715 * x * x * x)))


def swish(x):
    return x * th.sigmoid(x)


def swish_eager(x):
    return x * torch.sigmoid(x)


def lstm_pointwise(i, f, g, o, c, lib=th):
    c_new = lib.sigmoid(f) * c + lib.sigmoid(i) * lib.tanh(g)
    return c_new, lib.sigmoid(o) * lib.tanh(c_new)


WORKLOADS = {   # name -> (theon fn, eager fn, number of inputs)
    "gelu (tanh)": (gelu, gelu_eager, 1),
    "swish x*sigmoid(x)": (swish, swish_eager, 1),
    "LSTM cell pointwise": (lstm_pointwise, lambda *a: lstm_pointwise(*a, lib=torch), 5),
}


def _compile(fn, data, mode):
    """The function, compiled now (the flag is read when compiling) with THEON_CODEGEN=mode;
    with 'cpp' its kernels' builds start."""
    config.CODEGEN = mode
    xs = [th.tensor(f"x{k}", tuple(d.shape)) for k, d in enumerate(data)]
    out = fn(*xs)
    f = th.function(xs, list(out) if isinstance(out, tuple) else out, keep_on_device=True)
    f(*data)
    config.CODEGEN = "off"
    return f


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--sizes", default="64x1024,256x4096")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [tuple(int(d) for d in s.split("x")) for s in args.sizes.split(",")]
    # measure the generated kernels at every size: this is what sets the pass's size limit
    fuse_elementwise.MAX_ELEMENTS = max(int(np.prod(s)) for s in sizes)
    print(f"theon {th.__version__} / torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"float32")
    rng = np.random.default_rng(0)
    fns = {}
    for name, (fn, eager, n) in WORKLOADS.items():
        for shape in sizes:
            data = [torch.from_numpy(rng.standard_normal(shape).astype(np.float32)) for _ in range(n)]
            off, on = _compile(fn, data, "off"), _compile(fn, data, "cpp")
            assert "fused_elementwise" in on.source and "fused_elementwise" not in off.source
            fns[name, shape] = (off, on, eager, data)
    start = time.perf_counter()
    assert cache.wait(), "a build did not finish"
    failed = [b.error for b in cache._builds.values() if b.error is not None]
    print(f"kernels built (or loaded from the disk cache) in {time.perf_counter() - start:.1f} s"
          + (f"; {len(failed)} failed: {failed[0]}" if failed else ""))
    for (name, shape), (off, on, eager, data) in fns.items():
        calls = max(5, int(2e7 // (np.prod(shape) * 10)))
        timed = {"off": lambda: off(*data), "cpp": lambda: on(*data), "torch": lambda: eager(*data)}
        for f in timed.values():
            f()
        times = alternate_calls(timed, args.rounds, calls)
        label = f"{name} {shape[0]}x{shape[1]}"
        print(row(f"{label}: codegen off", times["off"], times["torch"], calls))
        print(row(f"{label}: codegen cpp", times["cpp"], times["torch"], calls))
        check = [torch.as_tensor(v) for v in (on(*data) if isinstance(on(*data), list) else [on(*data)])]
        ref = [torch.as_tensor(v) for v in (off(*data) if isinstance(off(*data), list) else [off(*data)])]
        err = max(relative_difference(a.numpy(), b.numpy()) for a, b in zip(check, ref))
        print(f"{'':<8}max |cpp - off| / max |off|: {err:.2e}")


if __name__ == "__main__":
    main()
