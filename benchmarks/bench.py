"""`theon bench`: theon's speed and memory against every installed peer, on this machine.

For each workload (benchmarks/workloads.py) and each torch thread setting:
1. one process builds every contender from the same initial weights, runs its first steps
   on the same batches (their losses, or the first outputs, and the weight updates over
   those steps are compared with torch eager's: "agree" means relative differences below
   AGREE_VALUES and AGREE_UPDATES), warms it up, then times all of them in alternating
   windows (harness.alternate); each contender's speed is the median over rounds, its ratio
   to torch eager the median of the per-round ratios, with quartiles;
2. one fresh process per contender (per --repeat) measures the time from building the model
   to the end of the first step, and the peak memory over that step and a few more.
The first step of torch.compile is measured after step 1 compiled the same graphs, so with
its on-disk cache warm: its best case.

`run(...)` returns everything as one JSON-able dict; `format_table` prints it.
"""
from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import theon as th

from . import harness, theon_steps
from .workloads import PEERS, REFERENCE, THEON, WORKLOADS, applies, labels, make_batches, select

# Agreement with torch eager, relative. Measured here: the first losses and outputs of
# different kernels differ by <= 2e-6, the weight updates of 3 steps by <= 4e-5 (Adam's first
# steps amplify rounding); a weight 1 % off moves the updates by >= 1e-2, LSTM gates in the
# wrong order by 6e-3 (though the losses hardly move: a fresh model's is about log(classes)).
AGREE_VALUES = 1e-4
AGREE_UPDATES = 1e-3

FULL = {"rounds": 15, "window_s": 0.25, "check_steps": 3, "warmup": 3, "memory_steps": 10, "repeat": 1}
QUICK = {"rounds": 5, "window_s": 0.1, "check_steps": 2, "warmup": 1, "memory_steps": 2, "repeat": 1}
POOL = 4  # batches cycled through while timing, after the checked and warm-up ones


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: str) -> dict:
    info = {"theon": th.__version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "device": device, "cpu": _cpu_name(), "cores": os.cpu_count(),
            "default_threads": torch.get_num_threads()}
    if hasattr(os, "getloadavg"):
        info["load_average"] = round(os.getloadavg()[0], 2)  # other jobs on a shared machine show here
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def _cxx_compiler():
    return next((c for c in (os.environ.get("CXX"), "g++", "clang++", "c++") if c and shutil.which(c)), None)


def contenders(peers, device: str) -> tuple:
    """(the torch peers to run, notes on the ones skipped). peers: the names asked for, or
    None for every peer that applies."""
    asked = list(PEERS) if peers is None else list(peers)
    run, notes = [], []
    for peer in asked:
        if peer in ("tensorflow", "jax"):
            name = {"tensorflow": "TensorFlow", "jax": "JAX"}[peer]
            if importlib.util.find_spec(peer) is None:
                notes.append(f"{name}: not installed, skipped")
            else:
                notes.append(f"{name}: installed, but theon bench has no {name} contender yet, skipped")
        elif peer == "torch-compile-reduce-overhead" and not device.startswith("cuda"):
            if peers is not None:  # asked for by name: say why not
                notes.append("torch.compile reduce-overhead: CUDA graphs, on CUDA only, skipped")
        elif peer == "torch-compile" and not device.startswith("cuda") and _cxx_compiler() is None:
            notes.append("torch.compile: on the CPU it needs a C++ compiler (g++, clang++ or $CXX); "
                         "none found, skipped")
        else:
            run.append(peer)
    return run, notes


def _write_inputs(folder: Path, workload, settings: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "weights.npz", **theon_steps.initial_weights(workload))
    count = settings["check_steps"] + settings["warmup"] + POOL
    arrays = {}
    for i, (x, y) in enumerate(make_batches(workload, count)):
        arrays[f"x{i}"], arrays[f"y{i}"] = x, y
    np.savez(folder / "batches.npz", **arrays)


def _agreement(timed: dict, framework: str, settings: dict, train: bool) -> dict:
    """Whether `framework`'s first losses (inference: outputs) and weight updates agree with
    torch eager's."""
    out = {"what": f"first {settings['check_steps']} losses" if train else "first batch's outputs"}
    checks = timed["checks"]
    out["value_diff"] = harness.relative_difference(checks[framework], checks[REFERENCE])
    agrees = out["value_diff"] < AGREE_VALUES
    if train:
        out["losses"] = checks[framework]  # an inference step's outputs are too many to list
        out["update_diff"] = timed["update_differences"][framework]
        agrees = agrees and out["update_diff"] < AGREE_UPDATES
    out["agrees"] = bool(agrees)
    return out


def measure_workload(workload, frameworks: list, device: str, threads: int, settings: dict, folder: Path,
                     progress) -> dict:
    spec = {"workload": workload.name, "device": device, "threads": threads, "folder": str(folder),
            "frameworks": frameworks, **settings}
    spec_path = folder / f"spec-{threads}.json"
    spec_path.write_text(json.dumps(spec))
    progress(f"{workload.name}: timing {len(frameworks)} contenders in alternating rounds")
    timed = harness.run_fresh("benchmarks.child", ["timing", spec_path])
    names = labels(workload)
    ref_times = timed["times"][REFERENCE]
    out = []
    for fw in frameworks:
        entry = {"id": fw, "label": names[fw], "error": timed["errors"].get(fw)}
        if fw in timed["times"]:
            times = timed["times"][fw]
            entry["examples_per_s"] = workload.batch * timed["per_round"] / float(np.median(times))
            entry["ratio"] = harness.spread(harness.round_ratios(times, ref_times))
            entry["window_s"] = times
            entry["check"] = _agreement(timed, fw, settings, workload.train)
            runs = []
            for _ in range(settings["repeat"]):
                progress(f"{workload.name}: first step and memory of {names[fw]} in a fresh process")
                try:
                    runs.append(harness.run_fresh("benchmarks.child", ["fresh", spec_path, fw]))
                except harness.ChildFailed as e:
                    entry["error"] = str(e).splitlines()[-1]
                    break
            if runs:
                entry["first_step_s"] = float(np.median([r["first_step_s"] for r in runs]))
                entry["peak_mib"] = float(np.median([r["peak_mib"] for r in runs]))
                entry["fresh_runs"] = runs
        out.append(entry)
    return {"name": workload.name, "title": workload.title, "batch": workload.batch, "unit": workload.unit,
            "train": workload.train, "threads": timed["threads"], "rounds": settings["rounds"],
            "per_round": timed["per_round"], "frameworks": out}


def run(workloads=None, peers=None, device: str = "cpu", threads=(0,), quick: bool = False,
        rounds: int | None = None, repeat: int | None = None, progress=None) -> dict:
    """Measure `workloads` (names or prefixes; default all) with theon's two contenders,
    torch eager and `peers` (default: every peer that applies), once per entry of `threads`
    (0: torch's default). Returns the results as a JSON-able dict."""
    started = time.perf_counter()
    progress = progress or (lambda message: print(f"[{time.perf_counter() - started:4.0f} s] {message}",
                                                  file=sys.stderr, flush=True))
    settings = dict(QUICK if quick else FULL)
    if rounds is not None:
        settings["rounds"] = rounds
    if repeat is not None:
        settings["repeat"] = repeat
    chosen = select(workloads) if workloads else list(WORKLOADS.values())
    torch_peers, notes = contenders(peers, device)
    result = {"machine": machine(device), "settings": settings, "notes": notes, "runs": [],
              "agree_below": {"values": AGREE_VALUES, "updates": AGREE_UPDATES}}
    with tempfile.TemporaryDirectory(prefix="theon-bench-") as tmp:
        for w in chosen:
            _write_inputs(Path(tmp) / w.name, w, settings)
        for n in threads:
            progress(f"-- torch threads: {n or 'default'}")
            measured = []
            for w in chosen:
                frameworks = [*THEON, REFERENCE, *(p for p in torch_peers if applies(w, p, device))]
                measured.append(measure_workload(w, frameworks, device, n, settings, Path(tmp) / w.name, progress))
            result["runs"].append({"threads": measured[0]["threads"] if measured else n, "workloads": measured})
    result["seconds"] = time.perf_counter() - started
    return result


# ---- the table ----------------------------------------------------------------------------

def _ratio(entry: dict) -> str:
    if entry["id"] == REFERENCE:
        return "1 (reference)"
    r = entry["ratio"]
    return f"{r['median']:.2f} [{r['q1']:.2f}-{r['q3']:.2f}]"


def _agrees(entry: dict) -> str:
    c = entry["check"]
    if entry["id"] == REFERENCE:
        return c["what"] + (" and updates" if "update_diff" in c else "") + ": reference"
    values = f"{'losses' if 'update_diff' in c else 'outputs'} {c['value_diff']:.0e}"
    updates = f", updates {c['update_diff']:.0e}" if "update_diff" in c else ""
    return f"{'agree' if c['agrees'] else 'DIFFER'} ({values}{updates})"


def format_table(result: dict) -> str:
    m = result["machine"]
    where = m.get("gpu") or f"{m['cpu']}, {m['cores']} cores"
    lines = [f"theon bench: theon {m['theon']}, torch {m['torch']}, on {m['device']} ({where})"
             + (f", load average {m['load_average']} at the start" if "load_average" in m else "")]
    s = result["settings"]
    lines.append(f"speed: median over {s['rounds']} rounds of alternating windows in one process; ratio to torch "
                 f"eager: median [quartiles] of per-round ratios (above 1: faster). First step and peak memory: "
                 f"one fresh process per contender" + (f" (median of {s['repeat']})" if s["repeat"] > 1 else "")
                 + "; peak memory is " + ("CUDA memory allocated" if m["device"].startswith("cuda")
                                          else "the growth of peak resident memory") + ".")
    lines += result["notes"]
    for run in result["runs"]:
        lines.append("")
        lines.append(f"== torch threads: {run['threads']}")
        for w in run["workloads"]:
            lines.append("")
            lines.append(f"{w['title']}: {w['rounds']} rounds of {w['per_round']} step(s)")
            lines.append(f"  {'':<34}{w['unit'] + '/s':>12}  {'vs torch eager':<20}{'first step':>11}"
                         f"{'peak MiB':>10}  check")
            for e in w["frameworks"]:
                if "examples_per_s" not in e:
                    lines.append(f"  {e['label']:<34}failed: {e['error']}")
                    continue
                first = f"{e['first_step_s']:.3f} s" if "first_step_s" in e else "-"
                peak = f"{e['peak_mib']:.1f}" if "peak_mib" in e else "-"
                lines.append(f"  {e['label']:<34}{e['examples_per_s']:12,.0f}  {_ratio(e):<20}{first:>11}"
                             f"{peak:>10}  {_agrees(e)}")
                if e.get("error"):
                    lines.append(f"  {'':<34}fresh process failed: {e['error']}")
    lines.append("")
    lines.append(f"({result['seconds']:.0f} s in all)")
    return "\n".join(lines)
