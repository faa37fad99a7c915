"""LeNet-5 training (batch 64 and 256) and inference (batch 256): `theon bench --workloads lenet`.

    python benchmarks/lenet.py [any `theon bench` option: --quick, --threads 1, --device cuda, --json]

Kept as a script for habit; the measurement is benchmarks/bench.py's (see `theon bench --help`).
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout: theon_cli lives at the top
    sys.path.insert(0, str(ROOT))

import theon_cli


def main(argv=None) -> int:
    return theon_cli.main(["bench", "--workloads", "lenet", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
