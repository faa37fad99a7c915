"""Everything a lent GPU should run, in one command:

    python benchmarks/gpu_check.py [--quick] [--workloads LIST]

1. the op table and the compiler tests with THEON_DEVICE=cuda (every compiled function and
   gradient check runs on the GPU); --quick: tests/ops and tests/compile only;
2. `theon bench --device cuda` (theon against torch eager, torch.compile and
   torch.compile(mode="reduce-overhead")); --quick passes --quick; --workloads is passed on;
3. the per-call overhead and scan benchmarks with --device cuda.

Where $OUT is set, the results land there: bench-cuda.json (the bench's JSON), and the
printed output of each step (tests.txt, bench-cuda.txt, overhead-cuda.txt,
scan-overhead-cuda.txt). Exits non-zero if no CUDA device is present or any step fails.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def _step(name: str, cmd: list, env: dict, out: Path | None) -> int:
    """Run `cmd` from the checkout's root, showing its output as it comes, and keeping a
    copy in out/name when out is set."""
    print(f"gpu_check: {' '.join(cmd[1:])}", flush=True)
    with subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc, open(out / name if out else os.devnull, "w") as log:
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
    return proc.returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer tests, a short bench")
    parser.add_argument("--workloads", default=None, help="passed to theon bench")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here")
        return 2
    print(f"gpu_check on {torch.cuda.get_device_name()} with torch {torch.__version__}", flush=True)
    out = Path(os.environ["OUT"]) if os.environ.get("OUT") else None
    if out:
        out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, THEON_DEVICE="cuda", PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    py = sys.executable
    tests = ["tests/ops", "tests/compile"] if args.quick else ["tests"]
    status = _step("tests.txt", [py, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests], env, out)
    bench = [py, "-m", "theon", "bench", "--device", "cuda", *(["--quick"] if args.quick else []),
             *(["--workloads", args.workloads] if args.workloads else []),
             *(["--save", str(out / "bench-cuda.json")] if out else [])]
    status |= _step("bench-cuda.txt", bench, env, out)
    for module, name in (("benchmarks.overhead", "overhead-cuda.txt"), ("benchmarks.scan_overhead",
                                                                        "scan-overhead-cuda.txt")):
        status |= _step(name, [py, "-m", module, "--device", "cuda"], env, out)
    return status


if __name__ == "__main__":
    sys.exit(main())
