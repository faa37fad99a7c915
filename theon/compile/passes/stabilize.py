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
            # + 0.0: log(1 + -0.0) is +0.0 where log1p(-0.0) is -0.0
            return [ew.log1p(x) + 0.0]
    return None


@rule(ew.subtract.op, name="exp_minus_one", registry=STABILIZE)
def exp_minus_one(node):
    """exp(x) - 1 -> expm1(x)."""
    e, one = node.inputs
    if _owner_is(e, ew.exp.op) and _const_value(one) == 1 and e.type.shape == node.outputs[0].type.shape:
        return [ew.expm1(e.owner.inputs[0]) + 0.0]  # exp(-0.0) - 1 is +0.0, expm1(-0.0) -0.0
    return None


@rule(ew.log.op, name="log_sigmoid", registry=STABILIZE)
def log_sigmoid(node):
    """log(sigmoid(x)) -> 0 - softplus(-x), finite for large negative x (0 - s rather
    than -s: log(sigmoid(inf)) is +0.0)."""
    (s,) = node.inputs
    if _owner_is(s, ew.sigmoid.op):
        return [0.0 - ew.softplus(-s.owner.inputs[0])]
    return None


def _softmax_classes():
    from ...ops.nn_loss import LogSoftmax, Softmax
    return Softmax, LogSoftmax


@rule(ew.log.op, name="log_softmax", registry=STABILIZE)
def log_softmax(node):
    """log(softmax(x)) -> log_softmax(x): no log(0) = -inf when a probability underflows."""
    softmax_cls, log_softmax_cls = _softmax_classes()
    (p,) = node.inputs
    if _owner_is(p, softmax_cls):
        return [log_softmax_cls(p.owner.op.axis)(p.owner.inputs[0])]
    return None


def _selection_classes():
    from ...ops.index import AdvancedSubtensor, Subtensor, TakeAlongAxis, TakeFlat
    return (AdvancedSubtensor, Subtensor, TakeAlongAxis, TakeFlat)


@rule(ew.log.op, name="log_of_selected_softmax", registry=STABILIZE)
def log_of_selected_softmax(node):
    """log(softmax(x)[idx]) -> log_softmax(x)[idx]: the classic p_y_given_x[arange(n), y]
    negative log-likelihood, made stable (selections pick elements, so log commutes)."""
    softmax_cls, log_softmax_cls = _softmax_classes()
    (s,) = node.inputs
    if not _owner_is(s, _selection_classes()):
        return None
    p = s.owner.inputs[0]
    if not _owner_is(p, softmax_cls):
        return None
    logp = log_softmax_cls(p.owner.op.axis)(p.owner.inputs[0])
    return [s.owner.op(logp, *s.owner.inputs[1:])]
