"""A run-time check in the graph: `check(x, ok, message)` is x, but running it raises
ValueError(message) when the boolean scalar `ok` is false. Used where a graph was built
for one case of a condition known only when the function runs (an imported model whose
branches would change a tensor's rank)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import DTypeError
from .base import Op, as_variable

__all__ = ["Check", "CheckDim", "check", "check_dim"]


@dataclass(frozen=True)
class Check(Op):
    message: str = ""
    name: ClassVar[str] = "check"
    capturable: ClassVar[bool] = False  # reads the checked value on the host
    view: ClassVar[bool] = True

    def infer(self, x, ok):
        if ok.dtype != "bool" or ok.ndim != 0:
            raise DTypeError(f"check: the condition must be a bool scalar, got {ok.type}")
        return [x.type]

    def kernel(self, x, ok):
        if not bool(ok):
            raise ValueError(self.message)
        return x

    def grad(self, inputs, outputs, output_grads):
        return [output_grads[0], None]


def check(x, ok, message: str):
    """x, with a run-time check that `ok` (a bool scalar) holds; else ValueError(message)."""
    return Check(str(message))(as_variable(x), as_variable(ok))


@dataclass(frozen=True)
class CheckDim(Op):
    """x, typed with dim `axis` equal to `size`; running it raises ValueError(message) when
    x's dim is another size. Code after it is built (and compiled) for that size, so a
    branch never taken for inputs of other sizes still compiles."""
    axis: int = 0
    size: int = 1
    message: str = ""
    name: ClassVar[str] = "check_dim"

    def infer(self, x):
        if not 0 <= self.axis < x.ndim:
            raise DTypeError(f"check_dim: axis {self.axis} is out of range for {x.type}")
        shape = list(x.type.shape)
        shape[self.axis] = self.size
        return [x.type.with_shape(shape)]

    def kernel(self, x):
        if x.shape[self.axis] != self.size:
            raise ValueError(self.message)
        return x

    def grad(self, inputs, outputs, output_grads):
        return [output_grads[0]]


def check_dim(x, axis: int, size: int, message: str):
    """x with a run-time check that x.shape[axis] == size (and that size in its type)."""
    x = as_variable(x)
    axis = axis + x.ndim if axis < 0 else axis
    return CheckDim(int(axis), int(size), str(message))(x)
