"""`th.ops.load_inline`: C++ (and CUDA) kernels compiled at run time, once.

    cpp = th.ops.load_inline("my_ops", cpp_source=SOURCE, functions=["fused_gelu"])

    @th.op(kernel=cpp.fused_gelu)      # the C++ function runs on the CPU and CUDA ...
    def fused_gelu(x):                 # ... this body on any other device (and as a reference)
        return torch.nn.functional.gelu(x, approximate="tanh")

This wraps `torch.utils.cpp_extension.load_inline` (which needs a C++ compiler and
`ninja`, `pip install ninja`; CUDA sources also need the CUDA toolkit). The build is kept
on disk under THEON_CACHE_DIR (default ~/.cache/theon), in a folder named by a hash of
everything that decides the binary (sources, functions, flags, torch and Python
versions): the first process compiles, and every later process with the same sources
imports the built library directly, without starting the compiler or ninja.

The functions take and return torch tensors; bound with `functions=`, they take their
arguments by position only (which is how `th.op` calls a `kernel=`: tensors first, then
the attribute values in order).
"""
from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from .. import config
from ..errors import TheonError

__all__ = ["Extension", "ExtensionError", "load_inline"]

_LIB_SUFFIX = ".pyd" if sys.platform == "win32" else ".so"
_MARKER = "theon-build.json"   # written once a build has imported: the folder is complete
_OWNER = "theon-builder.json"  # the process building in the folder (pid, host)
_LOCK = "lock"                 # torch's FileBaton: held while a build runs, waited on by others
_loaded: dict = {}              # module name -> Extension, for this process
_building: set = set()          # folders this process is building in (background threads too)


class ExtensionError(TheonError, RuntimeError):
    """A C++/CUDA extension that could not be built or loaded."""


class Extension:
    """A built extension: its functions are attributes (`cpp.fused_gelu`).

    module: the Python module; path: its build folder; compiled: whether this process
    compiled it (False when the disk cache had it); seconds: how long loading took."""

    def __init__(self, module, path: Path, compiled: bool, seconds: float):
        self.module = module
        self.path = path
        self.compiled = compiled
        self.seconds = seconds

    def __getattr__(self, name):
        try:
            return getattr(self.__dict__["module"], name)
        except AttributeError:
            raise AttributeError(f"extension {self.module.__name__!r} has no function {name!r}; "
                                 f"list it in functions=") from None

    def __dir__(self):
        return sorted(set(dir(self.module)) | set(self.__dict__))

    def __repr__(self) -> str:
        how = "compiled" if self.compiled else "loaded from the cache"
        return f"<theon extension {self.module.__name__} ({how} in {self.seconds:.2f} s) at {self.path}>"


def load_inline(name: str, cpp_source: str, cuda_source: str | None = None, functions=None,
                extra_cflags=(), extra_cuda_cflags=(), extra_ldflags=(), verbose: bool = False,
                cache_dir=None, build: bool = True) -> Extension | None:
    """Compile (or load from the disk cache) C++ source, and CUDA source if given.

    functions: names (or {name: docstring}) of the C++ functions to bind; omit when the
    source has its own PYBIND11_MODULE. cache_dir: where builds are kept (default
    THEON_CACHE_DIR/extensions). Returns an `Extension`; its functions are attributes.
    build=False: only load a finished build from the disk cache; None when there is none.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"load_inline: name must be a Python identifier, got {name!r}")
    if not isinstance(cpp_source, str):
        raise TypeError(f"load_inline: cpp_source must be a string of C++, got {type(cpp_source).__name__}")
    if isinstance(functions, str):
        functions = [functions]
    key = _build_key(name, cpp_source, cuda_source, functions, extra_cflags, extra_cuda_cflags,
                     extra_ldflags)
    module_name = f"{name}_{key[:16]}"
    if module_name in _loaded:
        return _loaded[module_name]
    root = Path(cache_dir) if cache_dir is not None else Path(config.CACHE_DIR) / "extensions"
    folder = root / module_name
    start = time.perf_counter()
    library = folder / f"{module_name}{_LIB_SUFFIX}"
    if (folder / _MARKER).is_file() and library.is_file():
        module, compiled = _import_library(module_name, library), False
    elif not build:
        return None
    else:
        module, compiled = _compile(module_name, folder, cpp_source, cuda_source, functions,
                                    extra_cflags, extra_cuda_cflags, extra_ldflags, verbose), True
        (folder / _MARKER).write_text(json.dumps({"name": name, "key": key,
                                                  "torch": torch.__version__}) + "\n")
    ext = Extension(module, folder, compiled, time.perf_counter() - start)
    _loaded[module_name] = ext
    return ext


def _build_key(*parts) -> str:
    """What decides the binary: sources, functions, flags, and the torch/Python ABI."""
    text = json.dumps([[list(p) if isinstance(p, (list, tuple)) else p for p in parts],
                       torch.__version__, sys.version, platform.machine(), platform.system()],
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _import_library(module_name: str, library: Path):
    spec = importlib.util.spec_from_file_location(module_name, library)
    if spec is None or spec.loader is None:
        raise ExtensionError(f"cannot import the extension library {library}")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as e:
        raise ExtensionError(f"the cached extension {library} does not import ({e}); delete its "
                             f"folder to rebuild it") from None
    return module


def _compile(module_name, folder, cpp_source, cuda_source, functions, extra_cflags,
             extra_cuda_cflags, extra_ldflags, verbose):
    # imported here, not at the top: it pulls in setuptools (a few tenths of a second on
    # every `import theon`), and only the first build of an extension needs it
    from torch.utils import cpp_extension  # optional: needs setuptools (0.4 s to import) and ninja
    if not cpp_extension.is_ninja_available():
        raise ExtensionError("load_inline needs ninja to build C++ extensions: pip install ninja "
                             "(Debian: apt-get install ninja-build)")
    if cuda_source is not None and cpp_extension.CUDA_HOME is None:
        raise ExtensionError("load_inline: cuda_source needs the CUDA toolkit (nvcc), which was "
                             "not found; set CUDA_HOME or build on a machine with CUDA")
    folder.mkdir(parents=True, exist_ok=True)
    # another process building the same source: wait for it here, where a killed builder
    # is noticed, rather than in torch's wait, which would never end
    while (folder / _LOCK).exists() and not clear_stale_lock(folder):
        time.sleep(0.2)
    library = folder / f"{module_name}{_LIB_SUFFIX}"
    if (folder / _MARKER).is_file() and library.is_file():
        return _import_library(module_name, library)
    (folder / _OWNER).write_text(json.dumps({"pid": os.getpid(), "host": platform.node()}))
    _building.add(folder)
    try:
        return cpp_extension.load_inline(
            name=module_name, cpp_sources=[cpp_source],
            cuda_sources=[cuda_source] if cuda_source is not None else None,
            functions=functions, extra_cflags=["-O3", *extra_cflags],
            extra_cuda_cflags=["-O3", *extra_cuda_cflags], extra_ldflags=list(extra_ldflags),
            build_directory=os.fspath(folder), verbose=verbose)
    except (RuntimeError, OSError) as e:
        raise ExtensionError(f"load_inline: building {module_name} in {folder} failed:\n{e}") from None
    finally:
        _building.discard(folder)


@atexit.register
def hand_over_builds() -> None:
    """At exit, a build still running in a background thread (a generated kernel's) goes on
    in its ninja process, which outlives this one: name that process as the builder, so
    that other processes wait for it (running the unfused kernels meanwhile) instead of
    taking its lock for stale and building the same source again in the same folder, one
    more compiler per short-lived process (Linux: found through /proc)."""
    for folder in list(_building):
        pid = _child_in(folder)
        if pid is not None:
            (folder / _OWNER).write_text(json.dumps({"pid": pid, "host": platform.node()}))


def _child_in(folder: Path) -> int | None:
    """A child process of this one working in `folder` (torch runs ninja there), or None."""
    me = str(os.getpid())
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            ppid = stat[stat.rindex(")") + 2:].split()[1]   # after "pid (command) state"
            if ppid == me and os.path.realpath(entry / "cwd") == os.path.realpath(folder):
                return int(entry.name)
        except (OSError, ValueError, IndexError):
            continue
    return None


def clear_stale_lock(folder: Path) -> bool:
    """Remove torch's build lock when the process that took it is gone (a killed build
    leaves the lock behind, and torch's next build of the same source would wait for it
    forever). The lock is stale when the builder recorded in the folder no longer runs on
    this host, or when no theon builder was recorded. Returns whether a lock was removed;
    a lock whose builder still runs is left alone (torch waits for it)."""
    lock = folder / _LOCK
    if not lock.exists():
        return False
    try:
        owner = json.loads((folder / _OWNER).read_text())
        pid, host = int(owner["pid"]), owner["host"]
    except (OSError, ValueError, KeyError, TypeError):
        pid, host = None, platform.node()
    if host != platform.node() or (pid is not None and _running(pid)):
        return False
    lock.unlink(missing_ok=True)
    return True


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # alive, owned by another user
        return True
    return True
