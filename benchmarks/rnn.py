"""The LSTM language-model step: `theon bench --workloads lstm` (theon's nn.LSTM layer and a
hand-written th.scan cell against torch.nn.LSTM, an eager LSTMCell loop and torch.compile).

    python -m benchmarks.rnn [any `theon bench` option: --quick, --threads 1, --device cuda, --json]
"""
from __future__ import annotations

import sys

import theon_cli


def main(argv=None) -> int:
    return theon_cli.main(["bench", "--workloads", "lstm", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
