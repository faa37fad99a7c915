"""Data-parallel training steps: what communication costs, what the overlap hides, how
throughput scales from 1 to 2 processes, and a model of it for more.

    python -m benchmarks.distributed [--batch 64] [--steps 20] [--models lenet lstm] [--threads 1]
                                     [--bucket-bytes 26214400]

For each model (theon train's LeNet-5 and LSTM on 1x28x28 inputs, random batches), in
fresh processes (gloo on 127.0.0.1; NCCL when every rank has its own GPU):
- 1 process, global batch B: examples/s;
- 1 process, batch B/2: the compute one rank does in a 2-process step (t_compute);
- 2 processes, B/2 each, with the gradient all-reduces overlapping the backward pass and
  without (each bucket launched just before the optimiser waits for it): examples/s and
  the share of the step not explained by compute, (t_step - t_compute) / t_step;
- the all-reduce alone of one step's gradient bytes (t_comm), giving an effective bandwidth.

The model printed at the end: a ring all-reduce moves 2(N-1)/N of the gradient bytes per
rank, so t_comm(N) = 2(N-1)/N * bytes / link + 2(N-1) * latency; with overlap the step
takes about max(t_compute, t_comm) instead of their sum. It is evaluated for 8 GPUs on one
NVLink machine and 64 over InfiniBand, with the link speeds stated (assumptions, not
measurements).

The processes share the machine's cores: on a small, busy CPU machine the two ranks and
gloo's threads compete for them, and the numbers measure that contention more than the
network; the same command on a machine with a core (or GPU) per rank measures the method.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout without installing theon
    sys.path.insert(0, str(ROOT))

LINKS = {8: ("NVLink, one machine", 150e9, 5e-6), 64: ("InfiniBand HDR, 8 machines", 25e9, 10e-6)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(model_name: str, batch: int, steps: int, threads: int, bucket_bytes: int) -> dict:
    """Time `steps` training steps in this process (a rank when the environment says so)."""
    import numpy as np
    import torch
    import torch.distributed as dist

    import theon as th
    from theon.cli import build_model, make_optimizer

    torch.set_num_threads(threads)
    th.distributed.init()
    world, rank = th.distributed.world_size(), th.distributed.rank()
    rng = np.random.default_rng(rank)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    result = {"world": world, "batch": batch}
    variants = [("overlap", True), ("no_overlap", False)] if world > 1 else [("single", True)]
    for label, overlap in variants:
        model = build_model(model_name, (1, 28, 28))
        model.compile(make_optimizer(model_name, None), "cross_entropy",
                      distributed=th.distributed.DataParallel(bucket_bytes, overlap))
        step = model.make_train_function(x, y)
        for _ in range(3):
            step(x, y)
        th.distributed.barrier()
        start = time.perf_counter()
        for _ in range(steps):
            step(x, y)
        result[label] = (time.perf_counter() - start) / steps
        result["grad_bytes"] = int(sum(p.get_value().nbytes for p in model.trainable_params))
    if world > 1:
        flat = torch.zeros(result["grad_bytes"] // 4, dtype=torch.float32)
        for _ in range(3):
            dist.all_reduce(flat)
        start = time.perf_counter()
        for _ in range(steps):
            dist.all_reduce(flat)
        result["comm"] = (time.perf_counter() - start) / steps
    th.distributed.shutdown()
    return result


def _run(model_name, batch, steps, threads, bucket_bytes, world) -> dict:
    args = [sys.executable, "-m", "benchmarks.distributed", "--worker", model_name, "--batch", str(batch),
            "--steps", str(steps), "--threads", str(threads), "--bucket-bytes", str(bucket_bytes)]
    env = dict(os.environ, PYTHONPATH=str(ROOT), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()),
               WORLD_SIZE=str(world))
    if world == 1:
        env.pop("RANK", None)
        env.pop("WORLD_SIZE", None)
    procs = [subprocess.Popen(args, cwd=ROOT, env=dict(env, RANK=str(r), LOCAL_RANK=str(r)) if world > 1
                              else env, stdout=subprocess.PIPE, text=True) for r in range(world)]
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"a benchmark process failed:\n{outs}")
    return json.loads(outs[0].strip().splitlines()[-1])


def predicted(grad_bytes, t_compute, n) -> tuple:
    name, link, latency = LINKS[n]
    t_comm = 2 * (n - 1) / n * grad_bytes / link + 2 * (n - 1) * latency
    return name, t_comm, max(t_compute, t_comm), t_compute + t_comm


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["lenet", "lstm"], choices=["lenet", "mlp", "lstm"])
    p.add_argument("--batch", type=int, default=64, help="the global batch (default 64)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    p.add_argument("--bucket-bytes", type=int, default=25 * 2**20,
                   help="gradient bucket size (default 25 MB: one bucket for these models)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.batch, args.steps, args.threads, args.bucket_bytes)), flush=True)
        return
    for name in args.models:
        run = (args.steps, args.threads, args.bucket_bytes)
        one = _run(name, args.batch, *run, 1)
        half = _run(name, args.batch // 2, *run, 1)
        two = _run(name, args.batch // 2, *run, 2)
        t_compute, nbytes = half["single"], two["grad_bytes"]
        print(f"\n{name}: {nbytes / 1e6:.2f} MB of gradients per step, global batch {args.batch}, "
              f"{args.threads} thread(s) per process")
        print(f"  1 process : {args.batch / one['single']:8.0f} examples/s")
        for label in ("overlap", "no_overlap"):
            t = two[label]
            print(f"  2 processes, {label.replace('_', ' '):10s}: {args.batch / t:8.0f} examples/s "
                  f"({one['single'] / t:.2f}x one process); step {t * 1e3:.2f} ms, of which not "
                  f"compute {max(t - t_compute, 0) / t:.0%}")
        print(f"  all-reduce alone: {two['comm'] * 1e3:.2f} ms ({nbytes / two['comm'] / 1e9:.2f} GB/s "
              f"effective); compute per rank {t_compute * 1e3:.2f} ms; the overlap changed the step "
              f"by {(two['overlap'] - two['no_overlap']) * 1e3:+.2f} ms (noise included)")
        for n in LINKS:
            link, t_comm, t_overlap, t_serial = predicted(nbytes, t_compute, n)
            print(f"  predicted {n} GPUs ({link}, {LINKS[n][1] / 1e9:.0f} GB/s): all-reduce "
                  f"{t_comm * 1e3:.3f} ms; step with overlap ~{t_overlap * 1e3:.2f} ms vs "
                  f"{t_serial * 1e3:.2f} ms without, at this per-rank compute time")


if __name__ == "__main__":
    main()
