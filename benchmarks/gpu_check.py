"""Everything a lent GPU should run, in one command:

    python benchmarks/gpu_check.py [--quick]

1. the op table and the compiler tests with THEON_DEVICE=cuda (every compiled function and
   gradient check runs on the GPU), 2. the benchmarks with --device cuda. Exits non-zero if
   no CUDA device is present or any test fails.
"""
from __future__ import annotations

import os
import subprocess
import sys

import torch


def main(argv=None) -> int:
    quick = "--quick" in (argv if argv is not None else sys.argv[1:])
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here")
        return 2
    print(f"gpu_check on {torch.cuda.get_device_name()} with torch {torch.__version__}", flush=True)
    env = dict(os.environ, THEON_DEVICE="cuda", PYTHONUNBUFFERED="1")
    tests = ["tests/ops", "tests/compile"] if quick else ["tests"]
    status = subprocess.call([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests], env=env)
    for bench in ("benchmarks.overhead",):
        status |= subprocess.call([sys.executable, "-m", bench, "--device", "cuda"], env=env)
    return status


if __name__ == "__main__":
    sys.exit(main())
