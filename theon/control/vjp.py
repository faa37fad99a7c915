"""What the gradients of loops and branches share: vector-Jacobian products of a body
whose inputs are replaced by independent stand-ins."""
from __future__ import annotations

from ..autodiff import grad
from ..graph import Variable, is_float
from ..ops.constructors import zeros_like


def differentiable(v) -> bool:
    return is_float(v.dtype)


def stand_ins(variables) -> list:
    """Fresh variables of the same types: a closure variable may be computed from another
    (W and W.T), and each must get only its own direct gradient."""
    return [Variable(v.type, name=v.name) for v in variables]


def vjp(outputs, wrt, cotangents) -> list:
    """Gradients of `outputs` against `cotangents`, w.r.t. independent variables `wrt`
    (zeros where an output does not depend on one)."""
    known = {}
    for o, g in zip(outputs, cotangents):
        if differentiable(o):
            known[o] = known[o] + g if o in known else g
    if not known or not wrt:
        return [zeros_like(w) for w in wrt]
    return grad(None, wrt, known_grads=known, disconnected="zero")
