"""Which kernel won, measured once per machine.

A generated kernel is timed against the unfused kernels it replaces, on a node's own inputs
(codegen/conv_pool.py). The answer is kept on disk under THEON_CACHE_DIR/choices, keyed by
everything that decides it (the kernel's source, which names the CPU it is tuned for, the
shapes, torch's thread count and version), so a later process starts with the winner: it
never times again, and never sets up the loser (oneDNN's primitives for the unfused
convolution: a few MiB of JIT code and workspace held for the rest of the run) only to
measure it.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import torch

from .. import config


def key(*parts) -> str:
    """The decision's name: a hash of `parts` (JSON-able) with the thread count and torch."""
    text = json.dumps([list(parts), torch.get_num_threads(), torch.__version__], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _path(name: str) -> Path:
    return Path(config.CACHE_DIR) / "choices" / f"{name}.json"


def load(name: str):
    """True (the generated kernel won), False (the unfused kernels won), or None: not measured
    here yet (or the record is unreadable, which only means measuring again)."""
    try:
        value = json.loads(_path(name).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, bool) else None


def save(name: str, generated_won: bool) -> None:
    """Record a measurement; written whole (another process may read it meanwhile). A cache
    that cannot be written costs only a measurement in the next process."""
    path = _path(name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(json.dumps(generated_won))
        tmp.replace(path)
    except OSError:
        pass
