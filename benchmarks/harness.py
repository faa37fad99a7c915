"""How every benchmark here measures: shared by `theon bench` and the scripts in benchmarks/.

This machine class (a few shared cores) drifts by +-30 % between processes started minutes
apart, so a speed ratio is never taken between two processes. Instead the contenders run in
ONE process, in alternating short windows (`alternate`): round r runs each of them for the
same number of steps, starting from a different one each round, and the ratio of each round
is taken within that round. The median of the per-round ratios is the figure; their
quartiles show how much it can be trusted.

What a warm process cannot show (the time from nothing to the first finished step, and the
peak memory of a run) is measured in a fresh process per contender (`run_fresh`), with
`peak_memory_start` / `peak_memory_mib` around the work.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def spread(values) -> dict:
    """The median, quartiles and extremes of `values` (per-round ratios or times)."""
    v = np.asarray(list(values), dtype=np.float64)
    q1, median, q3 = np.percentile(v, [25, 50, 75])
    return {"median": float(median), "q1": float(q1), "q3": float(q3), "min": float(v.min()),
            "max": float(v.max()), "n": int(v.size)}


def round_ratios(times: list, reference: list) -> list:
    """Per-round speed ratios: reference time / contender time of the same round (above 1:
    the contender is faster). Both lists hold one window time per round."""
    if len(times) != len(reference):
        raise ValueError(f"{len(times)} rounds against {len(reference)} rounds of the reference")
    return [r / t for t, r in zip(times, reference)]


def alternate(steps: dict, batches: list, rounds: int, per_round: int, sync=lambda: None) -> dict:
    """Time each step function of `steps` (name -> fn(x, y)) in alternating windows.

    Each of `rounds` rounds runs every contender for `per_round` steps, over `batches` in
    turn, the order rotated by one each round (so no contender always follows the same
    one). Returns name -> the list of window times in seconds, one per round."""
    names = list(steps)
    times = {n: [] for n in names}
    cursor = 0
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = steps[name]
            todo = [batches[(cursor + i) % len(batches)] for i in range(per_round)]
            sync()
            start = time.perf_counter()
            for xb, yb in todo:
                fn(xb, yb)
            sync()
            times[name].append(time.perf_counter() - start)
        cursor += per_round
    return times


def alternate_calls(fns: dict, rounds: int, per_round: int, sync=lambda: None) -> dict:
    """`alternate` for functions of no arguments (the micro-benchmarks' calls)."""
    def ignoring_batch(f):
        return lambda x, y: f()

    return alternate({name: ignoring_batch(f) for name, f in fns.items()}, [(None, None)], rounds, per_round, sync)


def row(label: str, theon_times: list, peer_times: list, per_round: int, unit: float = 1e-6,
        unit_name: str = "us", peer: str = "torch") -> str:
    """One line comparing theon with a peer from alternating window times: the median time
    per call of each, and theon's speed ratio (median [quartiles] over rounds, above 1:
    theon is faster)."""
    t = float(np.median(theon_times)) / per_round
    e = float(np.median(peer_times)) / per_round
    r = spread(round_ratios(theon_times, peer_times))
    return (f"{label:<44} theon {t / unit:9.2f} {unit_name}   {peer} {e / unit:9.2f} {unit_name}   "
            f"speed {r['median']:5.2f} [{r['q1']:.2f}-{r['q3']:.2f}]")


def steps_per_round(step_time: float, target: float, most: int = 200) -> int:
    """Steps that make a window of about `target` seconds at `step_time` per step."""
    return int(min(most, max(1, round(target / max(step_time, 1e-9)))))


def relative_difference(values, reference) -> float:
    """max |a - b| / max |b|: how far a contender's check values (losses or outputs) are
    from the reference's, relative to the reference's size."""
    a = np.asarray(values, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"check values of shape {a.shape} against {b.shape}")
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    if not np.all(np.isfinite(a)):
        return float("inf")
    return diff / scale if scale > 0 else diff


def update_difference(update: dict, reference: dict) -> float:
    """How far a contender's weight updates (name -> after - before, over the same steps) are
    from the reference's: the largest over the parameters of |a - b| / |b| (Euclidean
    norms). The first losses alone barely see the weights (a fresh model's loss is about
    log(classes) whatever they are); the updates are the gradients, which see every one."""
    def norm(v):
        return float(np.sqrt(np.sum(np.square(v, dtype=np.float64))))

    if update.keys() != reference.keys():
        raise ValueError(f"updates of {sorted(update)} against {sorted(reference)}")
    return max(norm(update[k] - reference[k]) / max(norm(reference[k]), 1e-30) for k in reference)


# ---- memory -------------------------------------------------------------------------------

def _status_kib(field: str):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_memory_start(device: str) -> int:
    """Start a peak-memory measurement; returns the baseline in KiB: the memory allocated on
    a CUDA device (whose peak counter is reset), else the process's resident memory.

    On Linux the process's peak-RSS mark is reset to the current RSS first (a child inherits
    its parent's high-water mark through fork and exec, which would hide its own)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated() // 1024
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kib("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS


def peak_memory_mib(device: str, baseline_kib: int) -> float:
    """MiB above the baseline at the peak since `peak_memory_start`: on CUDA the memory
    allocated on the device (torch's allocator holds every tensor of theon and torch alike);
    on the CPU the peak resident set, so it includes the allocator's caches and the
    framework's own Python objects."""
    if device.startswith("cuda"):
        return (torch.cuda.max_memory_allocated() / 1024 - baseline_kib) / 1024
    peak = _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (peak - baseline_kib) / 1024


# ---- fresh processes ----------------------------------------------------------------------

class ChildFailed(RuntimeError):
    """A benchmark subprocess exited with an error."""


def run_fresh(module: str, args: list, timeout: float | None = None) -> dict:
    """Run `python -m module args` from this checkout in a new process and return the JSON
    object it prints on its last line of stdout."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    cmd = [sys.executable, "-m", module, *map(str, args)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ChildFailed(f"{' '.join(cmd)} took more than {timeout:.0f} s") from None
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise ChildFailed(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{tail}")
    return json.loads(lines[-1])
