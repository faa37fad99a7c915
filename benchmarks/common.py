"""Timing helpers shared by the benchmarks: best-of-repeats medians, peers in the same run."""
from __future__ import annotations

import statistics
import time


def per_call(fn, number: int = 2000, repeat: int = 7, warmup: int = 50) -> float:
    """Seconds per call: the median over `repeat` batches of `number` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def row(label: str, theon_s: float, peer_s: float, unit: float = 1e-6, unit_name: str = "us") -> str:
    ratio = theon_s / peer_s if peer_s else float("inf")
    return f"{label:<44} theon {theon_s / unit:9.2f} {unit_name}   torch {peer_s / unit:9.2f} {unit_name}   ratio {ratio:5.2f}"
