"""Compiled kernels for user ops: C++ through `th.ops.load_inline` (one real compile, kept
in a disk cache that a second process reuses) and Triton (run by Triton's interpreter on
the CPU, TRITON_INTERPRET=1)."""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils import cpp_extension

import theon as th
from theon.ops.extension import ExtensionError

ROOT = Path(__file__).resolve().parents[2]
GELU_SOURCE = r"""
#include <torch/extension.h>
torch::Tensor fused_gelu(torch::Tensor x, double scale) {
    const double c = 0.7978845608028654;  // sqrt(2 / pi)
    return scale * 0.5 * x * (1.0 + torch::tanh(c * (x + 0.044715 * x * x * x)));
}
"""


def _gelu_tanh(a, scale):
    return scale * 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3)))


def test_cpp_kernel_compiles_once_and_a_second_process_loads_it_from_disk(tmp_path):
    cache = tmp_path / "cache"
    cpp = th.ops.load_inline("my_ops", cpp_source=GELU_SOURCE, functions=["fused_gelu"],
                             cache_dir=cache)
    assert cpp.compiled and cpp.path.parent == cache
    # in this process, asking again returns the loaded extension
    assert th.ops.load_inline("my_ops", cpp_source=GELU_SOURCE, functions=["fused_gelu"],
                              cache_dir=cache) is cpp

    @th.op(kernel=cpp.fused_gelu)
    def fused_gelu(x, scale: float = 1.0):
        return scale * torch.nn.functional.gelu(x, approximate="tanh")

    @fused_gelu.grad
    def _(x, y, gy, scale):
        c = np.sqrt(2 / np.pi)
        t = th.tanh(c * (x + 0.044715 * x ** 3))
        return [gy * scale * 0.5 * (1 + t + x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x))]

    x = th.tensor("x", (None,), "float64")
    a = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(th.function([x], fused_gelu(x, scale=2.0))(a), _gelu_tanh(a, 2.0))
    th.testing.verify_grad(lambda v: fused_gelu(v, scale=2.0), [a])

    # a new process with the same source imports the built library: no compiler, no ninja
    script = textwrap.dedent("""
        import sys, numpy as np, torch, theon as th
        cpp = th.ops.load_inline("my_ops", cpp_source=open(sys.argv[1]).read(),
                                 functions=["fused_gelu"], cache_dir=sys.argv[2])
        y = cpp.fused_gelu(torch.tensor([1.0], dtype=torch.float64), 1.0)
        print(cpp.compiled, round(float(y[0]), 6))
    """)
    source_file = tmp_path / "gelu.cpp"
    source_file.write_text(GELU_SOURCE)
    out = subprocess.run([sys.executable, "-c", script, str(source_file), str(cache)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", f"{_gelu_tanh(1.0, 1.0):.6f}".rstrip("0")]


def test_load_inline_errors_are_clear(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="must be a Python identifier"):
        th.ops.load_inline("my-ops", cpp_source="")
    monkeypatch.setattr(cpp_extension, "is_ninja_available", lambda: False)
    with pytest.raises(ExtensionError, match="pip install ninja"):
        th.ops.load_inline("needs_ninja", cpp_source="int f() { return 1; }", cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())  # nothing half-built is left to be mistaken for a build


def test_triton_kernel_as_an_op_kernel(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # read when a kernel is decorated
    triton = pytest.importorskip("triton", reason="Triton has wheels for Linux x86-64 only")
    tl = pytest.importorskip("triton.language")

    @triton.jit
    def swish_kernel(x_ptr, out_ptr, n, beta, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        x = tl.load(x_ptr + offsets, mask=mask)
        tl.store(out_ptr + offsets, x / (1.0 + tl.exp(-beta * x)), mask=mask)

    @th.op(allocates=True)
    def swish(x, beta: float = 1.0):
        x = x.contiguous()
        out = torch.empty_like(x)
        swish_kernel[(triton.cdiv(x.numel(), 128),)](x, out, x.numel(), beta, BLOCK=128)
        return out

    @swish.grad
    def _(x, y, gy, beta):
        s = th.sigmoid(beta * x)
        return [gy * (s + beta * x * s * (1 - s))]

    x = th.tensor("x", (None, 50), "float64")
    a = np.random.default_rng(0).standard_normal((6, 50))
    got = th.function([x], swish(x, beta=1.5))(a)
    np.testing.assert_allclose(got, a / (1 + np.exp(-1.5 * a)))
    th.testing.verify_grad(lambda v: swish(v, beta=1.5), [a[:2, :5]])
