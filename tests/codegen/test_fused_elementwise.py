"""Generated kernels for chains of elementwise ops (theon/codegen and the compiler's
fuse_elementwise pass): which chains fuse, that the generated C++ (one real build, reused
from disk by a second process) and Triton (run by its CPU interpreter) equal the unfused
program, that no call waits for a build, and that a killed build's lock does not block."""
import json
import os
import platform
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils import cpp_extension

import theon as th
from theon import config
from theon.codegen import cache
from theon.codegen.chain import eager
from theon.codegen.cpp import GRAIN
from theon.codegen.op import FusedElementwise
from theon.codegen.triton import triton_source
from theon.compile.passes.fuse_elementwise import MAX_ELEMENTS, fuse_elementwise
from theon.graph import toposort
from theon.ops import extension

ROOT = Path(__file__).resolve().parents[2]
NO_INTERPRETER = ("tanh", "log1p", "expm1")   # Triton's libdevice: GPU only


@pytest.fixture
def codegen(monkeypatch, tmp_path):
    """THEON_CODEGEN=cpp with an empty cache of this test's own."""
    monkeypatch.setattr(config, "CODEGEN", "cpp")
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path / "cache"))
    cache.forget()
    yield tmp_path / "cache"
    cache.forget()


def _every_op(dtype, interpretable=False):
    """One chain (a tree: each intermediate read once) through every op code generation
    knows, full-size inputs x, y, a scalar s and a one-element b of shape (1, 1)."""
    x, y = th.tensor("x", (4, 33), dtype), th.tensor("y", (4, 33), dtype)
    s, b = th.tensor("s", (), dtype), th.tensor("b", (1, 1), dtype)
    terms = [th.exp(-x), th.log(x), th.sqrt(x), th.rsqrt(x), th.sigmoid(x), th.relu(x - 1),
             th.abs(y), th.erf(y), th.sin(y), th.cos(y), th.square(y), th.reciprocal(x),
             th.maximum(x, y), th.minimum(x, y), x / y, -y, x * s, b - y]
    if not interpretable:
        terms += [th.tanh(x), th.log1p(x), th.expm1(x * 0.5)]
    out = terms[0]
    for t in terms[1:]:
        out = out + t
    return [x, y, s, b], out


def _values(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.1, 2, (4, 33)).astype(dtype), rng.uniform(-2, 2, (4, 33)).astype(dtype),
            np.asarray(rng.uniform(-1, 1), dtype), rng.uniform(-1, 1, (1, 1)).astype(dtype)]


def _fused_nodes(outputs):
    return [n for n in toposort(outputs) if isinstance(n.op, FusedElementwise)]


def _gelu(x, s):
    return 0.5 * x * (1 + th.tanh(0.7978845608 * (x + 0.044715 * x * x * x))) * s


# ---- the pass -----------------------------------------------------------------------------

def test_a_chain_of_every_op_becomes_one_node(codegen):
    inputs, out = _every_op("float32")
    (new,) = fuse_elementwise([out])
    assert new.owner is not None and isinstance(new.owner.op, FusedElementwise)
    assert new.owner.inputs == tuple(inputs) or set(new.owner.inputs) == set(inputs)
    chain = new.owner.op.chain
    assert chain.scalar_inputs.count(True) == 2   # s and b: read once, outside the loop
    assert len(chain.steps) == len(toposort([out]))


def test_shared_intermediates_and_true_broadcasts_stay_outside(codegen):
    x, r = th.tensor("x", (4, 3), "float32"), th.tensor("r", (3,), "float32")
    h = th.exp(x)                    # read twice: computed once, by its own kernel
    z = (h * 2 + 1) * h
    w = th.tanh(x + r) * 3           # x + r broadcasts a row: not a flat loop
    new = fuse_elementwise([z, w])
    fused = _fused_nodes(new)
    assert sorted(n.op.chain.describe() for n in fused) == [
        "multiply(add(multiply(x0, 2.0), 1.0), x0)", "multiply(tanh(x0), 3.0)"]
    assert {type(n.op).__name__ for n in toposort(new)} == {"Exp", "Add", "FusedElementwise"}


def test_codegen_off_changes_nothing(monkeypatch):
    monkeypatch.setattr(config, "CODEGEN", "off")
    _, out = _every_op("float32")
    assert fuse_elementwise([out]) == [out]


# ---- the first call does not wait; the built kernel takes over --------------------------

class SlowCompiler:
    """Stands for the C++ compiler: blocks until released; its 'kernel' fills the output
    with 42, so a test sees which path ran."""

    def __init__(self):
        self.release = threading.Event()
        self.sources = []

    def __call__(self, source, *build_args):
        self.sources.append(source)
        assert self.release.wait(60)
        return lambda inputs, out: out.fill_(42.0)


def test_first_calls_run_the_unfused_ops_until_the_build_is_ready(codegen, monkeypatch):
    slow = SlowCompiler()
    monkeypatch.setattr(cache, "build_cpp", slow)
    x, s = th.tensor("x", (None, 64), "float32"), th.tensor("s", (), "float32")
    a = np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32)
    f = th.function([x, s], _gelu(x, s))
    try:
        first = f(a, np.float32(2.0))
        assert "fused_elementwise" in f.source and "tanh" in f.source
        assert len(slow.sources) == 1 and "std::tanh" in slow.sources[0]
        monkeypatch.setattr(config, "CODEGEN", "off")
        unfused = th.function([x, s], _gelu(x, s))(a, np.float32(2.0))
        monkeypatch.setattr(config, "CODEGEN", "cpp")
        np.testing.assert_allclose(first, unfused, rtol=1e-6)
        np.testing.assert_array_equal(f(a, np.float32(2.0)), first)   # still building
    finally:
        slow.release.set()
    assert cache.wait(60)
    np.testing.assert_array_equal(f(a, np.float32(2.0)), np.full((8, 64), 42.0, np.float32))
    assert len(slow.sources) == 1   # built once


def test_a_failed_build_leaves_the_chain_unfused(codegen, monkeypatch):
    def broken(source, *build_args):
        raise extension.ExtensionError("no compiler here")
    monkeypatch.setattr(cache, "build_cpp", broken)
    x, s = th.tensor("x", (5,), "float64"), th.tensor("s", (), "float64")
    f = th.function([x, s], _gelu(x, s))
    a = np.linspace(-2, 2, 5)
    f(a, 1.0)
    assert cache.wait(60)
    expected = 0.5 * a * (1 + np.tanh(0.7978845608 * (a + 0.044715 * a ** 3)))
    np.testing.assert_allclose(f(a, 1.0), expected, rtol=1e-12)


# ---- generated C++: one real build, equal to the unfused program; a second process loads it

SECOND_PROCESS = textwrap.dedent("""
    import json, sys, numpy as np, theon as th
    from theon.codegen import cache
    sys.path.insert(0, sys.argv[1])
    from tests.codegen.test_fused_elementwise import _every_op, _values
    inputs, out = _every_op("float32")
    f = th.function(inputs, out)
    y = f(*_values("float32"))   # the first call already runs the built kernel
    builds = list(cache._builds.values())
    print(json.dumps({"from_disk": [b.thread is None and b.fn is not None for b in builds],
                      "y": y.tolist()}))
""")


def test_generated_cpp_equals_the_unfused_program_and_is_reused_from_disk(codegen, monkeypatch):
    if not cpp_extension.is_ninja_available():
        pytest.skip("building C++ needs ninja (pip install ninja)")
    inputs, out = _every_op("float32")
    values = _values("float32")
    f = th.function(inputs, out)
    first = f(*values)                  # runs unfused while the kernel builds
    assert cache.wait(900)
    (build,) = cache._builds.values()
    assert build.error is None and build.fn is not None
    fused = f(*values)
    monkeypatch.setattr(config, "CODEGEN", "off")
    unfused = th.function(inputs, out)(*values)
    np.testing.assert_allclose(first, unfused, rtol=1e-6)
    np.testing.assert_allclose(fused, unfused, rtol=1e-6)
    assert not np.array_equal(fused, np.zeros_like(fused))

    env = dict(os.environ, THEON_CODEGEN="cpp", THEON_CACHE_DIR=str(codegen))
    run = subprocess.run([sys.executable, "-c", SECOND_PROCESS, str(ROOT)], capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["from_disk"] == [True]
    np.testing.assert_allclose(np.array(report["y"], np.float32), unfused, rtol=1e-6)


def test_chains_are_built_with_openmp_and_equal_on_one_and_two_threads(codegen):
    """at::parallel_for compiles to a serial loop without OpenMP: a chain then ran on one
    thread whatever torch's setting. Built with it, the library calls OpenMP's runtime (the
    libgomp torch has loaded), and a chain above the grain size, split across two threads,
    computes each element as one thread does."""
    if not cpp_extension.is_ninja_available():
        pytest.skip("building C++ needs ninja (pip install ninja)")
    x, s = th.tensor("x", (MAX_ELEMENTS,), "float32"), th.tensor("s", (), "float32")
    (new,) = fuse_elementwise([_gelu(x, s)])
    op = new.owner.op
    assert isinstance(op, FusedElementwise) and MAX_ELEMENTS > 2 * GRAIN
    rng = np.random.default_rng(3)
    values = {x: torch.from_numpy(rng.uniform(-4, 4, MAX_ELEMENTS).astype(np.float32)), s: torch.tensor(1.5)}
    tensors = [values[v] for v in new.owner.inputs]
    op.kernel(*tensors)                   # starts the build
    assert cache.wait(900)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = op.kernel(*tensors)
        torch.set_num_threads(2)
        two = op.kernel(*tensors)
    finally:
        torch.set_num_threads(threads)
    assert op._built.get("cpu") is not None           # the generated kernel ran
    assert torch.equal(one, two)
    torch.testing.assert_close(two, eager(op.chain, tensors), rtol=1e-6, atol=1e-6)
    (library,) = (codegen / "extensions").glob("theon_fused_*/*.so")
    binary = library.read_bytes()
    assert b"libgomp.so" in binary and b"GOMP_parallel" in binary


# ---- generated Triton, run by Triton's interpreter on the CPU ------------------------------

@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-6), ("float64", 1e-13)])
def test_generated_triton_equals_the_chain(tmp_path, dtype, rtol):
    # in a fresh process: Triton reads TRITON_INTERPRET once and keeps it, so a process
    # where anything (torch.compile in another test) imported Triton first cannot switch
    pytest.importorskip("triton", reason="Triton has wheels for Linux x86-64 only")
    code = ("from tests.codegen.test_fused_elementwise import triton_check; "
            f"triton_check({dtype!r}, {rtol!r}, {str(tmp_path / 'cache')!r})")
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "triton chain equal" in proc.stdout


def triton_check(dtype, rtol, cache_dir):
    """The generated Triton kernel, run by Triton's interpreter, against the chain's ops."""
    config.CODEGEN, config.CACHE_DIR = "cpp", cache_dir
    inputs, out = _every_op(dtype, interpretable=True)
    (new,) = fuse_elementwise([out])
    chain = new.owner.op.chain
    order = [inputs.index(v) for v in new.owner.inputs]
    tensors = [torch.from_numpy(_values(dtype)[k]) for k in order]
    launch = cache.load_triton(triton_source(chain))
    got = torch.empty((4, 33), dtype=tensors[0].dtype)
    launch(tensors, got)
    np.testing.assert_allclose(got.numpy(), eager(chain, tensors).numpy(), rtol=rtol, atol=0)
    print("triton chain equal")


def test_triton_source_calls_libdevice_for_what_tl_lacks(codegen):
    _, out = _every_op("float32")
    (new,) = fuse_elementwise([out])
    source = triton_source(new.owner.op.chain)
    for name in NO_INTERPRETER:
        assert f"libdevice.{name}(" in source


# ---- a killed build's lock ------------------------------------------------------------------

def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_killed_builds_lock_does_not_block_the_next_build(tmp_path, monkeypatch):
    name, source = "stale_lock_ops", "int f() { return 1; }"
    key = extension._build_key(name, source, None, ["f"], (), (), ())
    folder = tmp_path / f"{name}_{key[:16]}"
    folder.mkdir()
    (folder / "lock").write_text("")     # torch's FileBaton, left by the killed build
    (folder / "theon-builder.json").write_text(json.dumps({"pid": _dead_pid(), "host": platform.node()}))
    lock_seen = []

    def fake_build(**kwargs):            # stands for torch's build, which would wait on the lock
        lock_seen.append((folder / "lock").exists())
        return types.SimpleNamespace(f=lambda: 1)

    monkeypatch.setattr(cpp_extension, "load_inline", fake_build)
    monkeypatch.setattr(cpp_extension, "is_ninja_available", lambda: True)
    result = {}
    worker = threading.Thread(daemon=True, target=lambda: result.update(
        ext=extension.load_inline(name, cpp_source=source, functions=["f"], cache_dir=tmp_path)))
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the build waited for a lock whose builder is gone"
    assert lock_seen == [False] and result["ext"].f() == 1


def test_a_live_builders_lock_is_kept(tmp_path):
    (tmp_path / "lock").write_text("")
    (tmp_path / "theon-builder.json").write_text(json.dumps({"pid": os.getpid(), "host": platform.node()}))
    assert not extension.clear_stale_lock(tmp_path) and (tmp_path / "lock").exists()
    (tmp_path / "theon-builder.json").write_text(json.dumps({"pid": _dead_pid(), "host": platform.node()}))
    assert extension.clear_stale_lock(tmp_path) and not (tmp_path / "lock").exists()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the builder through /proc (Linux)")
def test_a_build_outliving_its_process_keeps_its_lock(tmp_path):
    """A short-lived process that exits while its background build runs names the build's
    own process (ninja, here a stand-in) as the builder: the next process waits for it
    instead of building the same source again in the same folder."""
    code = f"""
import json, os, platform, subprocess
from pathlib import Path
from theon.ops import extension
folder = Path({str(tmp_path)!r})
(folder / "lock").write_text("")
(folder / "theon-builder.json").write_text(json.dumps({{"pid": os.getpid(), "host": platform.node()}}))
child = subprocess.Popen(["sleep", "60"], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
extension._building.add(folder)
print(child.pid)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    builder = int(out.stdout.split()[-1])
    try:
        owner = json.loads((tmp_path / "theon-builder.json").read_text())
        assert owner["pid"] == builder            # handed over at exit
        assert not extension.clear_stale_lock(tmp_path) and (tmp_path / "lock").exists()
    finally:
        os.kill(builder, signal.SIGKILL)
    deadline = time.time() + 10
    while extension._running(builder) and time.time() < deadline:   # reaped by init
        time.sleep(0.05)
    assert extension.clear_stale_lock(tmp_path) and not (tmp_path / "lock").exists()


def test_chains_larger_than_the_measured_win_stay_unfused(codegen):
    small = th.tensor("small", (MAX_ELEMENTS,), "float32")
    large = th.tensor("large", (MAX_ELEMENTS + 1,), "float32")
    new = fuse_elementwise([th.exp(small) * 2, th.exp(large) * 2])
    assert [n.inputs[0] for n in _fused_nodes(new)] == [small]
