"""Run a scenario of tests/distributed/workers.py in `world` gloo processes on 127.0.0.1.

Each process is `python -m tests.distributed.workers SCENARIO OUTDIR` with the environment
torchrun would set (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT on a free port); it writes
its results to OUTDIR/rank{r}.npz.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(scenario: str, outdir: Path, world: int = 2, timeout_s: float = 60, extra_env=None) -> list:
    """The started processes, one per rank (stdout and stderr piped)."""
    port = free_port()
    procs = []
    for r in range(world):
        env = dict(os.environ, RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE=str(world),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), THEON_DIST_TIMEOUT=str(timeout_s),
                   THEON_DEVICE="cpu", PYTHONPATH=str(ROOT), **(extra_env or {}))
        procs.append(subprocess.Popen([sys.executable, "-m", "tests.distributed.workers", scenario,
                                       str(outdir)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    return procs


def finish(procs, wait_s: float = 240) -> list:
    """(returncode, output) of each process; kills all if one overruns."""
    results = []
    for p in procs:
        try:
            out, _ = p.communicate(timeout=wait_s)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            out, _ = p.communicate()
            out = f"TIMED OUT after {wait_s}s\n{out}"
        results.append((p.returncode, out))
    return results


def run(scenario: str, outdir: Path, world: int = 2, **kwargs) -> list:
    """Run the scenario on `world` ranks; the arrays each rank saved (asserts all succeeded)."""
    results = finish(start(scenario, outdir, world, **kwargs))
    for r, (code, out) in enumerate(results):
        assert code == 0, f"rank {r} exited with {code}:\n{out}"
    return [dict(np.load(outdir / f"rank{r}.npz")) for r in range(world)]
