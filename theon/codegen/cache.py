"""Built kernels, by device: C++ on the CPU, Triton on CUDA (chains, and the conv+ReLU+pool
kernels of conv_pool.py).

A C++ build takes tens of seconds, so it never blocks a call: the first request for a
chain loads a finished build from the disk cache (th.ops.load_inline's, under
THEON_CACHE_DIR, keyed by a hash of the source, so a second process pays nothing) or
starts building it in a background thread and answers None; the caller runs the chain's
own ops meanwhile. A build that fails is logged once and the chain keeps running unfused.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from pathlib import Path

from .. import config
from ..ops.extension import load_inline
from .chain import Chain
from .cpp import CFLAGS, FUNCTION, cpp_source
from .triton import LAUNCHER, triton_source

log = logging.getLogger("theon.codegen")
_NAME = "theon_fused"
_lock = threading.Lock()
_builds: dict = {}      # source hash -> _Build
_triton: dict = {}      # source hash -> function(s) (or None when Triton is missing)


class _Build:
    def __init__(self):
        self.fn = None
        self.error = None
        self.thread = None


def build_cpp(source: str, name: str = _NAME, function=FUNCTION, cflags: tuple = ()):
    """Compile (or load) the C++ source; returns its `function`, or a tuple of functions for
    a tuple of names (one build binds them all). Tests replace this with a slow fake to
    check that no call waits for it."""
    return _functions(load_inline(name, cpp_source=source, functions=_names(function), extra_cflags=cflags,
                                  extra_ldflags=_ldflags(cflags)), function)


def _cached_cpp(source: str, name: str, function, cflags: tuple):
    ext = load_inline(name, cpp_source=source, functions=_names(function), extra_cflags=cflags,
                      extra_ldflags=_ldflags(cflags), build=False)
    return None if ext is None else _functions(ext, function)


def _ldflags(cflags: tuple) -> tuple:
    """OpenMP code needs its runtime linked in too."""
    return ("-fopenmp",) if "-fopenmp" in cflags else ()


def _names(function) -> list:
    return [function] if isinstance(function, str) else list(function)


def _functions(ext, function):
    return getattr(ext, function) if isinstance(function, str) else tuple(getattr(ext, f) for f in function)


def kernel_for(chain: Chain, device):
    """The built kernel `fn(inputs, out)` for this chain on this device, or None while it
    is being built, when it failed, or when code generation is off (THEON_CODEGEN is not cpp)."""
    if config.CODEGEN != "cpp":
        return None
    if device.type == "cuda":
        return _triton_kernel(chain)
    if device.type != "cpu":
        return None
    return cpp_function(cpp_source(chain), cflags=CFLAGS)


def cpp_function(source: str, name: str = _NAME, function=FUNCTION, cflags: tuple = ()):
    """`function` of the C++ `source` built as extension `name` (a tuple of functions for a
    tuple of names): loaded from the disk cache, or None while a background thread builds it
    (or when the build failed)."""
    key = hashlib.sha256("\0".join([name, *_names(function), *cflags, source]).encode()).hexdigest()
    with _lock:
        build = _builds.get(key)
        if build is None:
            build = _builds[key] = _Build()
            build.fn = _cached_cpp(source, name, function, cflags)
            if build.fn is None:
                build.thread = threading.Thread(target=_run_build,
                                                args=(build, source, name, function, cflags),
                                                name="theon-codegen", daemon=True)
                build.thread.start()
    return build.fn


def _run_build(build: _Build, source: str, name: str, function, cflags: tuple) -> None:
    try:
        build.fn = build_cpp(source, name, function, cflags)
    except Exception as e:  # a failed build leaves the chain unfused, never breaks a call
        build.error = e
        log.warning("theon: building a fused kernel failed; running its ops unfused:\n%s", e)


def wait(timeout: float | None = None) -> bool:
    """Wait for every build started so far (benchmarks, tests); True when none is left."""
    with _lock:
        threads = [b.thread for b in _builds.values() if b.thread is not None]
    for t in threads:
        t.join(timeout)
    return not any(t.is_alive() for t in threads)


def forget() -> None:
    """Drop this process's record of builds (tests start from an empty cache; ops already
    holding a built kernel keep it)."""
    wait()
    with _lock:
        _builds.clear()
        _triton.clear()


def _triton_kernel(chain: Chain):
    return triton_function(triton_source(chain))


def triton_function(source: str, name: str = "fused", function=LAUNCHER):
    """`function` of the Triton `source` (a tuple of functions for a tuple of names), imported
    once per process; None without Triton. Triton compiles a kernel on its first launch and
    keeps the binary in its own disk cache."""
    # TRITON_INTERPRET is read when the module's kernels are decorated: part of the key
    interpret = os.environ.get("TRITON_INTERPRET", "")
    key = hashlib.sha256("\0".join([name, *_names(function), interpret, source]).encode()).hexdigest()
    with _lock:
        if key not in _triton:
            _triton[key] = load_triton(source, key, name, function)
        return _triton[key]


def load_triton(source: str, key: str | None = None, name: str = "fused", function=LAUNCHER):
    """Import generated Triton source (Triton reads a kernel's source from its file, so it is
    written under THEON_CACHE_DIR/triton first, as `name`_hash.py); returns its `function` (a
    tuple of functions for a tuple of names), or None without Triton."""
    if importlib.util.find_spec("triton") is None:
        return None
    key = key or hashlib.sha256(source.encode()).hexdigest()
    folder = Path(config.CACHE_DIR) / "triton"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}_{key[:24]}.py"
    if not path.is_file() or path.read_text() != source:
        tmp = path.with_suffix(f".tmp{threading.get_ident()}")
        tmp.write_text(source)
        tmp.replace(path)
    spec = importlib.util.spec_from_file_location(f"theon_triton_{key[:24]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return _functions(module, function)
