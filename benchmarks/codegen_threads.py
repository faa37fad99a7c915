"""What OpenMP buys a generated elementwise chain (THEON_CODEGEN=cpp): the same compiled
function at 1 and 2 torch threads, and the chain run eagerly in PyTorch at both, in
alternating windows of one process (benchmarks/harness.py).

    python -m benchmarks.codegen_threads [--rounds 15] [--sizes 4194304,131072]

The chain is five ops over a float32 vector x and a scalar s: tanh(x * s + 1) * x - 0.5.
Printed per size: each contender's median time per call, then speed ratios, median
[quartiles] over rounds (above 1: the first named is faster). First, as a control, a
1024x1024 torch.mm at 2 threads over 1: near 1 means the machine has no second core free
(other work on it), and no chain can gain from a thread either.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

import theon as th
from benchmarks.harness import alternate_calls, round_ratios, spread
from theon import config
from theon.codegen import cache
from theon.compile.passes import fuse_elementwise


def chain(x, s, lib=th):
    return lib.tanh(x * s + 1.0) * x - 0.5


def _on_threads(n, fn):
    def run():
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
        return fn()
    return run


def _ratio(times, contender, reference) -> str:
    r = spread(round_ratios(times[contender], times[reference]))
    return f"speed of {contender} over {reference}: {r['median']:.2f} [{r['q1']:.2f}-{r['q3']:.2f}]"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--sizes", default="4194304,131072")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",")]
    fuse_elementwise.MAX_ELEMENTS = max(sizes)   # fuse every size measured here
    threads = torch.get_num_threads()
    config.CODEGEN = "cpp"
    print(f"torch {torch.__version__}; chain: tanh(x * s + 1) * x - 0.5, float32")
    a = torch.randn(1024, 1024)
    control = alternate_calls({"mm 1 thread": _on_threads(1, lambda: torch.mm(a, a)),
                               "mm 2 threads": _on_threads(2, lambda: torch.mm(a, a))}, args.rounds, 10)
    print("control, " + _ratio(control, "mm 2 threads", "mm 1 thread"))
    rng = np.random.default_rng(0)
    for n in sizes:
        x = torch.from_numpy(rng.standard_normal(n).astype(np.float32))
        s = torch.tensor(0.7)
        xv, sv = th.tensor("x", (n,), "float32"), th.tensor("s", (), "float32")
        f = th.function([xv, sv], chain(xv, sv), keep_on_device=True)
        f(x, s)                                   # compiles (THEON_CODEGEN=cpp), starts the build
        assert cache.wait(), "the build did not finish"
        assert "fused_elementwise" in f.source
        fns = {"cpp 1 thread": _on_threads(1, lambda: f(x, s)),
               "cpp 2 threads": _on_threads(2, lambda: f(x, s)),
               "eager 1 thread": _on_threads(1, lambda: chain(x, s, torch)),
               "eager 2 threads": _on_threads(2, lambda: chain(x, s, torch))}
        outputs = {name: fn() for name, fn in fns.items()}
        assert torch.equal(outputs["cpp 1 thread"], outputs["cpp 2 threads"])
        assert all(cache._builds[k].fn is not None for k in cache._builds), "the build failed"
        calls = max(3, int(4e7 // (n * 10)))
        times = alternate_calls(fns, args.rounds, calls)
        print(f"\n{n} elements, {calls} calls a window, {args.rounds} rounds:")
        for name, t in times.items():
            print(f"  {name:<16} {np.median(t) / calls * 1e6:10.1f} us")
        print("  " + _ratio(times, "cpp 2 threads", "cpp 1 thread"))
        print("  " + _ratio(times, "eager 2 threads", "eager 1 thread"))
        print("  " + _ratio(times, "cpp 2 threads", "eager 2 threads"))
        print("  " + _ratio(times, "cpp 1 thread", "eager 1 thread"))
    torch.set_num_threads(threads)


if __name__ == "__main__":
    main()
