"""Ops that steer autodiff without computing anything."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import Op, as_variable, user_errors

__all__ = ["stop_gradient"]


@dataclass(frozen=True)
class StopGradient(Op):
    """The identity that passes no gradient: what it returns is a constant to th.grad.
    Gradients are built before compiling, so the compiler then drops the node."""
    name: ClassVar[str] = "stop_gradient"
    view: ClassVar[bool] = True
    passthrough: ClassVar[bool] = True
    differentiable: ClassVar[bool] = False

    def infer(self, x):
        return [x.type]

    def kernel(self, x):
        return x

    def grad(self, inputs, outputs, output_grads):
        return [None]


@user_errors
def stop_gradient(x):
    """`x`, treated as a constant by th.grad (Theano's consider_constant, JAX's
    stop_gradient): `th.grad(th.stop_gradient(a) * b, a)` is zero."""
    return StopGradient()(as_variable(x))
