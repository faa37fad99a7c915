"""The processes `theon bench` starts (benchmarks/bench.py), one per measurement:

    python -m benchmarks.child timing SPEC.json          # every contender, alternating
    python -m benchmarks.child fresh SPEC.json FRAMEWORK  # first step and peak memory

SPEC.json (written by bench.py) names the workload, the device, the torch threads, the
folder holding the initial weights (weights.npz) and the batches (batches.npz), and the
counts of rounds and steps. Each prints one JSON object as its last line.

A fresh process imports only its own framework's side (theon_steps or torch_steps), so a
peer's start-up and memory never include theon's, nor theon's torch.nn's.
"""
from __future__ import annotations

import gc
import importlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import harness
from .workloads import REFERENCE, WORKLOADS


def _side(framework: str):
    # imported on demand: a torch peer's process must not load theon (its start-up and
    # memory would count against the peer), nor theon's process the torch-side modules
    return importlib.import_module("benchmarks.theon_steps" if framework.startswith("theon")
                                   else "benchmarks.torch_steps")


def _setup(spec: dict):
    if spec["threads"]:
        torch.set_num_threads(spec["threads"])
    folder = Path(spec["folder"])
    with np.load(folder / "weights.npz") as f:
        weights = {k: f[k] for k in f.files}
    with np.load(folder / "batches.npz") as f:
        count = len(f.files) // 2
        batches = [(torch.from_numpy(f[f"x{i}"]).to(spec["device"]), torch.from_numpy(f[f"y{i}"]).to(spec["device"]))
                   for i in range(count)]
    sync = torch.cuda.synchronize if spec["device"].startswith("cuda") else (lambda: None)
    return WORKLOADS[spec["workload"]], weights, batches, sync


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


def timing(spec: dict) -> dict:
    """Build every contender, run its first `check_steps` steps (whose losses, or first
    outputs, and weight updates over those steps are compared with torch eager's), warm it
    up, then time all of them in alternating rounds."""
    workload, weights, batches, sync = _setup(spec)
    k = spec["check_steps"]
    steps, checks, updates, errors = {}, {}, {}, {}
    for name in spec["frameworks"]:
        try:
            # each its own copy: a framework may keep the arrays it is given and train them in place
            own = {key: value.copy() for key, value in weights.items()}
            runner = _side(name).build(name, workload, own, spec["device"])
            values = [runner.first(*batches[0])]
            getattr(_side(name), "settle", lambda: None)()
            if workload.train:
                values += [runner.check(runner.step(*b)) for b in batches[1:k]]
                now = runner.weights()
                updates[name] = {key: now[key] - value for key, value in weights.items()}
            for b in batches[k:k + spec["warmup"]]:
                runner.step(*b)
            sync()
        except Exception as e:  # a peer that cannot run here (no C++ compiler for torch.compile, ...)
            errors[name] = _one_line(e)
            updates.pop(name, None)
            continue
        steps[name] = runner.step
        checks[name] = np.asarray(values, dtype=np.float64).ravel().tolist()
    if REFERENCE not in steps:
        raise RuntimeError(f"torch eager, the reference, failed: {errors.get(REFERENCE)}")
    update_diffs = {fw: harness.update_difference(u, updates[REFERENCE]) for fw, u in updates.items()}
    pool = batches[k:] or batches
    start = time.perf_counter()
    for b in pool[:3]:
        steps[REFERENCE](*b)
    sync()
    per_round = harness.steps_per_round((time.perf_counter() - start) / len(pool[:3]), spec["window_s"])
    times = harness.alternate(steps, pool, spec["rounds"], per_round, sync)
    return {"threads": torch.get_num_threads(), "per_round": per_round, "times": times, "checks": checks,
            "update_differences": update_diffs, "errors": errors}


def fresh(spec: dict, framework: str) -> dict:
    """From nothing to the first finished step, then `memory_steps` more: the wall time of
    the first and the peak memory of the whole. Both start after the framework's modules are
    imported (their time is returned apart, as imports_s): what a process pays once, whatever
    it builds, is not the model's first step."""
    workload, weights, batches, sync = _setup(spec)
    start = time.perf_counter()
    side = _side(framework)
    side.prepare(framework)
    imports = time.perf_counter() - start
    gc.collect()
    baseline = harness.peak_memory_start(spec["device"])
    start = time.perf_counter()
    runner = side.build(framework, workload, weights, spec["device"])
    runner.first(*batches[0])
    sync()
    first = time.perf_counter() - start
    for i in range(spec["memory_steps"]):
        runner.step(*batches[1 + i % (len(batches) - 1)])
    sync()
    return {"first_step_s": first, "peak_mib": harness.peak_memory_mib(spec["device"], baseline),
            "imports_s": imports}


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[1]).read_text())
    result = timing(spec) if argv[0] == "timing" else fresh(spec, argv[2])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
