"""A chain of elementwise ops, described once for every code generator.

A `Chain` is a straight-line list of steps over numbered slots: slots 0..n_inputs-1 are
the inputs, slot n_inputs + k is step k's result, and the last step is the output. A
step's argument is a slot number or a Python float (a scalar constant of the graph,
written into the generated source). Every value has the chain's one dtype; an input is
either the output's full size or one element (a scalar, broadcast), so a kernel is one
flat loop over contiguous buffers.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

# op name -> (C++ expression, Triton expression); {0}, {1} are the arguments (names of
# locals, so an argument may appear twice) and S is the scalar type in C++.
# NaN passes through relu/maximum/minimum as in torch. Triton's libdevice functions (tanh,
# log1p, expm1) compile for the GPU but have no implementation in Triton's CPU interpreter.
EXPRESSIONS = {
    "add": ("({0} + {1})", "({0} + {1})"),
    "subtract": ("({0} - {1})", "({0} - {1})"),
    "multiply": ("({0} * {1})", "({0} * {1})"),
    "divide": ("({0} / {1})", "({0} / {1})"),
    "negative": ("(-{0})", "(-{0})"),
    "square": ("({0} * {0})", "({0} * {0})"),
    "reciprocal": ("(S(1) / {0})", "(1.0 / {0})"),
    "exp": ("std::exp({0})", "tl.exp({0})"),
    "log": ("std::log({0})", "tl.log({0})"),
    "sqrt": ("std::sqrt({0})", "tl.sqrt({0})"),
    "rsqrt": ("(S(1) / std::sqrt({0}))", "(1.0 / tl.sqrt({0}))"),
    "tanh": ("std::tanh({0})", "libdevice.tanh({0})"),
    "sigmoid": ("(S(1) / (S(1) + std::exp(-{0})))", "(1.0 / (1.0 + tl.exp(-{0})))"),
    "relu": ("({0} < S(0) ? S(0) : {0})", "tl.where({0} < 0, tl.zeros_like({0}), {0})"),
    "abs": ("std::abs({0})", "tl.abs({0})"),
    "erf": ("std::erf({0})", "tl.erf({0})"),
    "sin": ("std::sin({0})", "tl.sin({0})"),
    "cos": ("std::cos({0})", "tl.cos({0})"),
    "log1p": ("std::log1p({0})", "libdevice.log1p({0})"),
    "expm1": ("std::expm1({0})", "libdevice.expm1({0})"),
    "maximum": ("(({0} != {0} || {0} > {1}) ? {0} : {1})",
                "tl.where(({0} != {0}) | ({0} > {1}), {0}, {1})"),
    "minimum": ("(({0} != {0} || {0} < {1}) ? {0} : {1})",
                "tl.where(({0} != {0}) | ({0} < {1}), {0}, {1})"),
}
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Step:
    op: object          # the theon op (an Elementwise without attributes)
    args: tuple         # slot numbers (int) or scalar constants (float)


@dataclass(frozen=True, repr=False)
class Chain:
    dtype: str                  # 'float32' or 'float64'
    scalar_inputs: tuple        # per input: True when it holds one element (broadcast)
    steps: tuple                # Step, ...; the last one is the output

    @property
    def n_inputs(self) -> int:
        return len(self.scalar_inputs)

    def __repr__(self) -> str:
        return f"{self.dtype}: {self.describe()}"

    def describe(self) -> str:
        """One line for f.source: the steps as a formula."""
        names = [f"x{i}" for i in range(self.n_inputs)]
        for step in self.steps:
            args = [names[a] if isinstance(a, int) else repr(a) for a in step.args]
            names.append(f"{step.op.name}({', '.join(args)})")
        return names[-1]


def eager(chain: Chain, tensors) -> torch.Tensor:
    """Run the chain's own ops (their ATen kernels), as the unfused program does."""
    values = list(tensors)
    like = values[0]
    for step in chain.steps:
        args = [values[a] if isinstance(a, int) else _scalar(a, like.dtype, like.device)
                for a in step.args]
        values.append(step.op.kernel(*args))
    return values[-1]


_scalars: dict = {}


def _scalar(value: float, dtype, device) -> torch.Tensor:
    """A constant as a 0-d tensor, made once per device (no host-to-device copy per call)."""
    key = (repr(value), dtype, device)   # repr: 0.0 and -0.0 differ
    t = _scalars.get(key)
    if t is None:
        t = _scalars[key] = torch.tensor(value, dtype=dtype, device=device)
    return t


def literal(value: float) -> str:
    """A C++/Python literal for a finite scalar constant (repr keeps every bit of a double;
    the fusion pass passes non-finite constants as inputs instead)."""
    assert value == value and abs(value) != float("inf"), value
    return repr(float(value))
