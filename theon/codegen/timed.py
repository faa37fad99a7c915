"""What the kernels generated for one op (conv_pool.py, direct_conv.py, squeeze_excite.py)
share: whether a C++ build is possible here, the CPU the source is tuned for and its vector
registers, and the one-time timed choice between the built function and ATen's kernels on a
node's own inputs (`generated`, `cpu_kernel`)."""
from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
import time
from pathlib import Path

import torch

from .. import config
from . import cache, choices

# tuned for this CPU (cpu_signature() goes into the source's hash), and with OpenMP: without it
# at::parallel_for, a header template, compiles to a serial loop (the kernels then ran on one
# thread whatever torch's setting); linked against libgomp.so.1, which resolves to the copy torch
# has loaded, so torch.set_num_threads governs them as it does ATen's kernels
CFLAGS = ("-march=native", "-fopenmp")   # cache.py links OpenMP's runtime for "-fopenmp"

# a verdict is kept on disk only when the winner took at most 1/DECISIVE of the loser's time:
# a close call (or one a busy machine blurred) is timed again by the next process rather than
# fixed for good; within this process the measured winner runs either way
DECISIVE = 1.15


class TimedChoice:
    """Generated or ATen, decided once per node and shape by timing both on the call's own
    inputs (three alternating runs each, the best of each): on the second call, so a first
    training step never pays for the timing (it runs the generated kernel, which also skips
    oneDNN's one-time set-up of the convolution). With a `verdict` (choices.key of what
    decides it) the result is kept on disk: a later process finds it, runs the winner from
    its first call, and times nothing (nor sets up the loser, a few MiB of oneDNN state);
    only a clear win is kept (DECISIVE)."""

    def __init__(self, fn, verdict: str | None = None):
        self.fn = fn
        self.verdict = verdict
        self.use = None if verdict is None else choices.load(verdict)
        self.calls = 0

    def pick(self, aten, *args):
        """self.fn when it is (or, on a first call, may be) the faster one, else None;
        `aten(*args)` is the other candidate."""
        self.calls += 1
        if self.use is None:
            if self.calls == 1:
                return self.fn
            # a GPU runs asynchronously: each timed run ends when the device has finished it
            device = args[0].device
            sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
            generated = lambda: self.fn(*args)  # noqa: E731
            unfused = lambda: aten(*args)  # noqa: E731
            best = {generated: float("inf"), unfused: float("inf")}
            for _ in range(3):
                for run in best:
                    sync()
                    start = time.perf_counter()
                    run()
                    sync()
                    best[run] = min(best[run], time.perf_counter() - start)
            self.use = best[generated] < best[unfused]
            fast, slow = sorted(best.values())
            if self.verdict is not None and slow >= DECISIVE * fast:
                choices.save(self.verdict, self.use)
        return self.fn if self.use else None


def generated(choice: dict, key, build, adapt, unfused, *args, verdict=None):
    """The generated function of one node, taking and returning what `unfused` does, when it
    is built and is (or, on a first call, may be) the faster for `key` (what decides its
    speed: the shapes); else None, and the caller runs `unfused(*args)`.

    choice: the node's TimedChoice per key. build(): the built function, or None (or False)
    while a background thread builds it, when the build failed or none is possible here: the
    unfused kernels meanwhile, and build() is asked again on the next call. adapt(fn): fn
    taking `unfused`'s arguments. verdict(): the choices.key under which the decision is
    kept on disk (omitted: kept by this node only)."""
    timing = choice.get(key)
    if timing is None:
        fn = build()
        if not fn:
            return None
        timing = choice[key] = TimedChoice(adapt(fn), None if verdict is None else verdict())
    return timing.pick(unfused, *args)


def cpu_kernel(choice: dict, source, name: str, function, adapt, unfused, *args):
    """`generated` for the C++ `source(cpu_signature())` built as extension `name` binding
    `function`, on args whose first is a float32 CPU tensor (keyed by its shape); None for
    any other input, with THEON_CODEGEN=off, and where nothing can be built."""
    x = args[0]
    if config.CODEGEN == "off" or not x.is_cpu or x.dtype != torch.float32 or not can_build():
        return None

    def build():
        return cpp_function(source(cpu_signature()), name, function)
    return generated(choice, tuple(x.shape), build, adapt, unfused, *args)


def cpp_function(source: str, name: str, function):
    """cache.cpp_function with CFLAGS: loaded from the disk cache, or None while it builds."""
    return cache.cpp_function(source, name, function, CFLAGS)


@functools.lru_cache(maxsize=None)
def can_build() -> bool:
    """A C++ compiler and ninja (th.ops.load_inline's build tool) are here: without them ATen's
    kernels run, silently (generated kernels are an optimisation, not a feature)."""
    return shutil.which("ninja") is not None and shutil.which(os.environ.get("CXX", "c++")) is not None


@functools.lru_cache(maxsize=None)
def cpu_info() -> str:
    """The CPU's model and instruction sets (Linux), else what platform knows."""
    info = Path("/proc/cpuinfo")
    if info.is_file():
        lines = [ln for ln in info.read_text().splitlines() if ln.startswith(("model name", "flags"))]
        return "\n".join(dict.fromkeys(lines))
    return platform.processor() or platform.machine()


def cpu_signature() -> str:
    """The CPU the source is compiled for (-march=native), as a comment in the source."""
    return "cpu " + hashlib.sha256(cpu_info().encode()).hexdigest()[:16]


def vector_registers() -> tuple:
    """(floats per vector register, registers a kernel's accumulators may take) of this CPU:
    AVX-512's 32 registers of 16, AVX's 16 of 8, else 128-bit vectors (NEON has 32)."""
    flags = set(cpu_info().split())
    if "avx512f" in flags:
        return 16, 28
    if "avx" in flags:
        return 8, 14
    return 4, 12
