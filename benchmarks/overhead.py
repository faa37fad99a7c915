"""Per-call overhead and compile time of theon functions, against PyTorch eager in one run.

    python -m benchmarks.overhead [--device cpu|cuda] [--rounds 15]

Prints, for a function of 1 and of 100 small elementwise ops: the time of one call with
torch tensors in and out (the framework's own overhead), with NumPy in and out, and the same
ops run eagerly in PyTorch, timed in alternating windows (benchmarks/harness.py) with the
speed ratio's median and quartiles over rounds; then the compile time of a 1,000-node graph.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import theon as th
from benchmarks.harness import alternate_calls, row


def chain(x, n: int):
    """n small elementwise ops, alternating so no rewrite removes them."""
    y = x
    for i in range(n):
        y = y * 1.0001 if i % 2 == 0 else y + 0.5
    return y


def eager_chain(x, n: int):
    y = x
    for i in range(n):
        y = y * 1.0001 if i % 2 == 0 else y + 0.5
    return y


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=64, help="elements per tensor")
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds per comparison")
    args = parser.parse_args(argv)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    print(f"theon {th.__version__} / torch {torch.__version__} on {dev}, tensors of {args.size} float32")

    data = torch.rand(args.size, device=dev)
    host = data.cpu().numpy()
    results = {}
    for n in (1, 100):
        x = th.tensor("x", (args.size,))
        f_dev = th.function([x], chain(x, n), device=args.device, keep_on_device=True)
        f_np = th.function([x], chain(x, n), device=args.device)
        calls = 200 if n == 100 else 2000
        fns = {"theon": lambda f=f_dev: (f(data), sync()), "numpy": lambda f=f_np: f(host),
               "torch": lambda n=n: (eager_chain(data, n), sync())}
        for fn in fns.values():  # compile, warm up
            for _ in range(calls // 20):
                fn()
        times = alternate_calls(fns, args.rounds, calls, sync)
        results[n] = (np.median(times["theon"]) / calls, np.median(times["torch"]) / calls)
        print(row(f"{n:>3} op(s), torch tensors in/out", times["theon"], times["torch"], calls))
        print(row(f"{n:>3} op(s), NumPy in/out", times["numpy"], times["torch"], calls))
    (t1, e1), (t100, e100) = results[1], results[100]
    per_op_theon = (t100 - t1) / 99
    per_op_eager = (e100 - e1) / 99
    print(f"{'per-op cost (100-op minus 1-op, / 99)':<44} theon {per_op_theon * 1e6:9.2f} us   "
          f"torch {per_op_eager * 1e6:9.2f} us")
    print(f"{'per-call overhead (1-op call minus eager op)':<44} {(t1 - e1) * 1e6:9.2f} us")

    x = th.tensor("x", (None, args.size))
    big = chain(x, 1000)
    start = time.perf_counter()
    f = th.function([x], big)
    f.compile_for(np.zeros((2, args.size), "float32"))
    compile_s = time.perf_counter() - start
    print(f"{'compile of a 1,000-node graph':<44} {compile_s * 1e3:9.1f} ms  "
          f"(passes: {', '.join(f'{k} {v * 1e3:.0f} ms' for k, v in f.last_program.report.timings.items())})")


if __name__ == "__main__":
    main()
