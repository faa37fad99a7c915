"""theon's training steps with and without CUDA-graph capture, against torch eager and
torch.compile(mode="reduce-overhead"), timed in one process (benchmarks/harness.py).

    python -m benchmarks.cuda_graph [--device cuda] [--rounds 7] [--workloads lenet-train-64,mlp-adam-128]

For each workload: the step written with th.function, captured (`cuda_graph=True`, theon's
default on CUDA) and not (`cuda_graph=False`), from the same weights on the same batches.
First their losses over the first steps are checked equal (a capture must not change what a
step computes) and each function's capture status is printed; then every contender runs in
alternating windows, and each line gives the time per step and the speed ratio (median
[quartiles] over rounds; above 1: the first named is faster).

With --device cpu (the dry run, on a machine without a GPU) there is nothing to capture:
both theon variants run plainly, the reduce-overhead peer is left out, and the ratios only
show that the script works.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks import theon_steps, torch_steps
from benchmarks.harness import alternate, relative_difference, round_ratios, spread, steps_per_round
from benchmarks.workloads import make_batches, select

DEFAULT_WORKLOADS = "lenet-train-64,mlp-adam-128"
CHECK_STEPS = 4  # steps whose losses the captured and the plain step must agree on


def contenders(workload, weights: dict, device: str) -> dict:
    steps = {"theon captured": theon_steps.FunctionStep(workload, weights, device, cuda_graph=True),
             "theon plain": theon_steps.FunctionStep(workload, weights, device, cuda_graph=False),
             "torch eager": torch_steps.build("torch-eager", workload, weights, device)}
    if device.startswith("cuda"):
        torch_steps.prepare("torch-compile-reduce-overhead")
        steps["torch reduce-overhead"] = torch_steps.build("torch-compile-reduce-overhead", workload, weights,
                                                            device)
    return steps


def measure(workload, device: str, rounds: int, window_s: float) -> list:
    """The lines printed for one workload."""
    weights = theon_steps.initial_weights(workload)
    batches = [(torch.as_tensor(x, device=device), torch.as_tensor(y, device=device))
               for x, y in make_batches(workload, 8)]
    steps = contenders(workload, weights, device)
    lines = [f"{workload.title} on {device}"]
    losses = {name: [] for name in ("theon captured", "theon plain")}
    for x, y in batches[:CHECK_STEPS]:
        for name in losses:
            losses[name].append(float(steps[name].step(x, y)))
    diff = relative_difference(losses["theon captured"], losses["theon plain"])
    lines.append(f"  losses of the first {CHECK_STEPS} steps, captured against plain: relative difference "
                 f"{diff:.1e}")
    if not diff < 1e-4:
        raise SystemExit(f"cuda_graph: the captured step's losses differ from the plain step's by {diff:.1e}")
    for name in losses:
        lines.append(f"  {name}: {steps[name].fn.cuda_graph_status()}")
    start = time.perf_counter()
    for name, step in steps.items():  # first steps (torch.compile compiles here) outside the timing
        step.first(*batches[0])
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    lines.append(f"  first steps of all contenders: {time.perf_counter() - start:.1f} s")
    t0 = time.perf_counter()
    steps["theon plain"].step(*batches[1])
    sync()
    per_round = steps_per_round(time.perf_counter() - t0, window_s)
    times = alternate({n: s.step for n, s in steps.items()}, batches, rounds, per_round, sync)
    pairs = [("theon captured", "theon plain"), ("theon captured", "torch eager"), ("theon plain", "torch eager")]
    if "torch reduce-overhead" in steps:
        pairs.append(("theon captured", "torch reduce-overhead"))
    for a, b in pairs:
        lines.append("  " + compare(a, b, times, per_round))
    return lines


def compare(a: str, b: str, times: dict, per_round: int) -> str:
    """`a` against `b`: the median time per step of each and a's speed ratio over b's
    (median [quartiles] of the per-round ratios; above 1: a is faster)."""
    ta, tb = (float(np.median(times[n])) / per_round * 1e6 for n in (a, b))
    r = spread(round_ratios(times[a], times[b]))
    return (f"{a:<15} {ta:9.1f} us/step   {b:<22} {tb:9.1f} us/step   "
            f"speed {r['median']:5.2f} [{r['q1']:.2f}-{r['q3']:.2f}]")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--window-s", type=float, default=0.2, help="seconds per contender per round")
    parser.add_argument("--workloads", default=DEFAULT_WORKLOADS)
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"cuda_graph: no CUDA device here (torch {torch.__version__}); --device cpu is the dry run")
        return 2
    torch.manual_seed(0)
    np.random.seed(0)
    if not args.device.startswith("cuda"):
        print("cuda_graph: on the CPU nothing is captured (both theon steps run plainly) and "
              "torch.compile(mode='reduce-overhead') is left out: a dry run of the script")
    for workload in select(args.workloads.split(",")):
        if not workload.train:
            raise SystemExit(f"cuda_graph: {workload.name} is not a training workload")
        print("\n".join(measure(workload, args.device, args.rounds, args.window_s)), flush=True)
    print("cuda_graph: ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
