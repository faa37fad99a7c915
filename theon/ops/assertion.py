"""A run-time check in the graph: `check(x, ok, message)` is x, but running it raises
ValueError(message) when the boolean scalar `ok` is false. Used where a graph was built
for one case of a condition known only when the function runs (an imported model whose
branches would change a tensor's rank)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import DTypeError
from .base import Op, as_variable

__all__ = ["Check", "check"]


@dataclass(frozen=True)
class Check(Op):
    message: str = ""
    name: ClassVar[str] = "check"
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
