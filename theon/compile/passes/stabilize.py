"""Numerically stable forms of expressions that overflow or lose precision as written."""
from __future__ import annotations

from ...ops import elementwise as ew
from ..rewrite import rule
from .canonicalize import _const_value

STABILIZE: list = []


def _owner_is(v, cls):
    return v.owner is not None and isinstance(v.owner.op, cls)


@rule(ew.log.op, name="log_one_plus", registry=STABILIZE)
def log_one_plus(node):
    """log(1 + x) -> log1p(x)."""
    (s,) = node.inputs
    if not _owner_is(s, ew.add.op):
        return None
    a, b = s.owner.inputs
    for one, x in ((a, b), (b, a)):
        if _const_value(one) == 1 and x.type.shape == s.type.shape:
            return [ew.log1p(x)]
    return None


@rule(ew.subtract.op, name="exp_minus_one", registry=STABILIZE)
def exp_minus_one(node):
    """exp(x) - 1 -> expm1(x)."""
    e, one = node.inputs
    if _owner_is(e, ew.exp.op) and _const_value(one) == 1 and e.type.shape == node.outputs[0].type.shape:
        return [ew.expm1(e.owner.inputs[0])]
    return None


@rule(ew.log.op, name="log_sigmoid", registry=STABILIZE)
def log_sigmoid(node):
    """log(sigmoid(x)) -> -softplus(-x), finite for large negative x."""
    (s,) = node.inputs
    if _owner_is(s, ew.sigmoid.op):
        return [-ew.softplus(-s.owner.inputs[0])]
    return None
