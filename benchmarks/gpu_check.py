"""Everything a lent GPU machine should run, in one command that fits one device call:

    python benchmarks/gpu_check.py [--device cuda|cpu] [--budget-s 570] [--full] [--steps LIST]
                                   [--workloads LIST] [--tests PATHS]

Steps, each in its own process, each cut off by its share of the time budget (a step cut
off is recorded as such and the later ones still run):
1. build: versions, the device, and one compiled function with its gradient on the device
   checked against torch; a C++ extension built through `th.ops.load_inline`; the generated
   first-layer kernel (Triton on CUDA, its interpreter with --device cpu) checked against a
   float64 reference and timed against the unfused kernels (benchmarks.conv_pool_check);
2. tests: pytest with THEON_DEVICE set (every compiled function and gradient check of the
   op table and the compiler runs on the device; `--full`: the whole suite), in parallel
   where pytest-xdist is installed; --full gives them half the budget (raise --budget-s);
3. overhead: benchmarks.overhead and scan_overhead, per-call and per-scan-step cost against
   torch eager (7 rounds unless --full);
4. cuda-graph: benchmarks.cuda_graph, the LeNet and MLP training steps as th.functions
   captured in a CUDA graph and not, against torch eager and
   torch.compile(mode="reduce-overhead"), after checking that capture leaves the losses as
   they were;
5. bench: `theon bench --device DEVICE` one workload at a time (--quick unless --full), so a
   budget that runs out still leaves the workloads measured so far; on CUDA the peers include
   torch.compile(mode="reduce-overhead"). The workloads come in order of interest.

Where $OUT is set, the results land there (at most 9 files, no folders): summary.json (each
step's status and seconds, the machine), build.txt, tests.txt, overhead.txt,
scan-overhead.txt, cuda-graph.txt, bench.txt (the tables) and bench.json (every workload's results as
`theon bench --json` gives them, under "workloads"). Exits 0 when every step passed, 1 when
one failed or was cut off, 2 when the device is not there.

`--steps` picks steps (a second call can run the bench's remaining workloads alone:
`--steps bench --workloads lstm,lenet-infer,lenet-train-256`). `--device cpu` is the dry run
of the same script on a machine without a GPU.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the checkout's theon and benchmarks

from benchmarks.workloads import WORKLOADS, select  # after the path above

# most telling first: a cut-off budget drops the last ones
ORDER = ("lenet-train-64", "mlp-adam-128", "lstm-lm", "lenet-infer-256", "lenet-train-256")
QUICK_TESTS = ("tests/ops", "tests/compile", "tests/optim")
STEPS = ("build", "tests", "overhead", "cuda-graph", "bench")
CAPS = {"build": 150, "tests": 150, "overhead": 60, "scan-overhead": 60, "cuda-graph": 120}  # seconds;
#                                                                                 bench gets the rest
BENCH_LEAST = 30  # a workload is not started with less time than this left

# The build step's program: one compiled function and its gradient on the device against
# torch, a C++ extension built and called (in a fresh folder: a build cut off by a
# deadline leaves torch's lock file behind, on which the next build of it would wait), and
# the generated conv+ReLU+max-pool kernel checked and timed.
BUILD = r"""
import sys, tempfile, time, numpy as np, torch, theon as th
device = sys.argv[1]
print(f"theon {th.__version__}, torch {torch.__version__}, python {sys.version.split()[0]}")
if device.startswith("cuda"):
    print(f"{torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
rng = np.random.default_rng(0)
xv, wv = rng.standard_normal((64, 32), dtype=np.float32), rng.standard_normal((32, 16), dtype=np.float32)
x, w = th.tensor("x", (None, 32)), th.shared(wv, name="w", device=device)
loss = th.nn.relu(x @ w).sum()
start = time.perf_counter()
f = th.function([x], [loss, th.grad(loss, w)], device=device)
got_loss, got_grad = f(xv)
print(f"compiled and ran a function with its gradient on {device} in {time.perf_counter() - start:.2f} s")
xt = torch.tensor(xv, device=device)
wt = torch.tensor(wv, device=device, requires_grad=True)
ref = torch.relu(xt @ wt).sum()
ref.backward()
for what, a, b in (("loss", got_loss, ref.detach()), ("gradient", got_grad, wt.grad)):
    b = b.cpu().numpy()
    err = float(np.max(np.abs(np.asarray(a) - b)) / np.max(np.abs(b)))
    print(f"  {what}: relative difference to torch {err:.1e}")
    assert err < 1e-5, f"{what} differs from torch's by {err:.1e}"
start = time.perf_counter()
ext = th.ops.load_inline("gpu_check_scale", cpp_source=(
    "torch::Tensor scale(torch::Tensor x, double a) { return x * a; }"), functions=["scale"],
    cache_dir=tempfile.mkdtemp(prefix="gpu-check-extension-"))
v = torch.arange(4.0, device=device)
assert torch.equal(ext.scale(v, 2.0), v * 2), "the C++ extension computed the wrong thing"
print(f"built and called a C++ extension in {time.perf_counter() - start:.2f} s ({ext!r})")
from benchmarks.conv_pool_check import check
start = time.perf_counter()
check(device)
print(f"checked and timed the generated conv+ReLU+max-pool kernel in {time.perf_counter() - start:.2f} s")
print("build: ok")
"""


class Budget:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()


def run_step(name: str, cmd: list, env: dict, timeout: float, log) -> dict:
    """Run `cmd` from the checkout's root for at most `timeout` seconds, echoing its output
    and copying it to `log`. Returns the step's record for summary.json."""
    shown = ["-c", "(the build check)"] if cmd[1] == "-c" else cmd[1:]  # not the whole program
    header = f"gpu_check [{name}]: {' '.join(str(c) for c in shown)} (at most {timeout:.0f} s)"
    print(header, flush=True)
    log.write(header + "\n")
    start = time.monotonic()
    with subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True) as proc:
        # at the deadline the step's whole process group goes (pytest's workers, bench's children)
        deadline = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
        deadline.start()
        try:
            for line in proc.stdout:
                sys.stdout.write(line)
                log.write(line)
            proc.wait()
        finally:
            deadline.cancel()
    seconds = time.monotonic() - start
    timed_out = proc.returncode < 0 and seconds >= timeout - 1
    status = "timed out" if timed_out else ("passed" if proc.returncode == 0 else f"failed (exit {proc.returncode})")
    footer = f"gpu_check [{name}]: {status} after {seconds:.0f} s"
    print(footer, flush=True)
    log.write(footer + "\n")
    log.flush()
    return {"step": name, "status": status, "seconds": round(seconds, 1)}


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu for a dry run (default cuda)")
    parser.add_argument("--budget-s", type=float, default=570,
                        help="seconds for all steps together (default 570: one 10-minute device call)")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help=f"which steps, comma-separated (default all: {','.join(STEPS)}); a second call "
                             f"can run the bench's remaining workloads alone")
    parser.add_argument("--full", action="store_true", help="the whole test suite and the full bench")
    parser.add_argument("--workloads", default=None, help="bench workloads, comma-separated (default all)")
    parser.add_argument("--tests", default=None,
                        help=f"test paths, comma-separated (default {','.join(QUICK_TESTS)}; --full: tests)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"cpu|cuda(:\d+)?", args.device):
        parser.error(f"--device: expected cuda, cuda:N or cpu, got {args.device!r}")
    args.steps = [s.strip() for s in args.steps.split(",")]
    unknown = [s for s in args.steps if s not in STEPS]
    if unknown:
        parser.error(f"--steps: unknown step {unknown[0]!r}; choose from {', '.join(STEPS)}")
    if args.budget_s <= 0:
        parser.error(f"--budget-s: expected seconds > 0, got {args.budget_s}")
    try:
        args.workloads = [w.name for w in select(args.workloads.split(","))] if args.workloads else list(WORKLOADS)
    except ValueError as e:
        parser.error(f"--workloads: {e}")
    args.workloads.sort(key=lambda name: ORDER.index(name) if name in ORDER else len(ORDER))
    args.tests = args.tests.split(",") if args.tests else (["tests"] if args.full else list(QUICK_TESTS))
    return args


def bench(args, env: dict, budget: Budget, out: Path, record) -> None:
    """`theon bench` one workload at a time, while the budget lasts; the tables go to
    bench.txt, the results gathered so far to bench.json after each workload."""
    results = {"workloads": {}}
    py = sys.executable
    with open(out / "bench.txt", "w") as log, tempfile.TemporaryDirectory() as tmp:
        for name in args.workloads:
            if budget.left() < BENCH_LEAST:
                record({"step": f"bench {name}", "status": "not started: the budget ran out", "seconds": 0})
                continue
            saved = Path(tmp) / f"{name}.json"
            cmd = [py, "-m", "theon", "bench", "--device", args.device, "--workloads", name, "--save", saved,
                   *([] if args.full else ["--quick"])]
            record(run_step(f"bench {name}", cmd, env, budget.left(), log))
            if saved.is_file():
                results["workloads"][name] = json.loads(saved.read_text())
                (out / "bench.json").write_text(json.dumps(results, indent=1) + "\n")


def main(argv=None) -> int:
    args = parse(argv)
    if args.device.startswith("cuda"):
        index = int(args.device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            print(f"gpu_check: no CUDA device {args.device} here (torch {torch.__version__}, "
                  f"{torch.cuda.device_count()} device(s)); --device cpu is the dry run")
            return 2
    budget = Budget(args.budget_s)
    out = Path(os.environ["OUT"]) if os.environ.get("OUT") else Path(tempfile.mkdtemp(prefix="gpu-check-"))
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, THEON_DEVICE=args.device, PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    py = sys.executable
    summary = {"device": args.device, "torch": torch.__version__, "budget_s": args.budget_s, "full": args.full,
               "gpu": torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else None,
               "steps": []}

    def record(step):
        summary["steps"].append(step)
        (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")

    def cap(name):
        return max(1.0, min(CAPS[name], budget.left()))

    if "build" in args.steps:
        with open(out / "build.txt", "w") as log:
            record(run_step("build", [py, "-c", BUILD, args.device], env, cap("build"), log))
    if "tests" in args.steps:
        workers = min(8, (os.cpu_count() or 1) // 2)
        xdist = ["-n", str(workers)] if workers > 1 and importlib.util.find_spec("xdist") else []
        with open(out / "tests.txt", "w") as log:
            record(run_step("tests", [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", *xdist, *args.tests], env,
                            budget.left() / 2 if args.full else cap("tests"), log))
    if "overhead" in args.steps:
        rounds = [] if args.full else ["--rounds", "7"]
        for name, module in (("overhead", "benchmarks.overhead"), ("scan-overhead", "benchmarks.scan_overhead")):
            with open(out / f"{name}.txt", "w") as log:
                record(run_step(name, [py, "-m", module, "--device", args.device, *rounds], env, cap(name), log))
    if "cuda-graph" in args.steps:
        rounds = [] if args.full else ["--rounds", "5"]
        with open(out / "cuda-graph.txt", "w") as log:
            record(run_step("cuda-graph", [py, "-m", "benchmarks.cuda_graph", "--device", args.device, *rounds], env,
                            cap("cuda-graph"), log))
    if "bench" in args.steps:
        bench(args, env, budget, out, record)
    failed = [s["step"] for s in summary["steps"] if s["status"] != "passed"]
    print(f"gpu_check: results in {out}; " + (f"not passed: {', '.join(failed)}" if failed else "every step passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
