"""Numerically stable forms of expressions that overflow or lose precision as written.

Every common spelling of sigmoid, softplus, log-sigmoid, softmax and log-softmax is brought
to the op that computes it stably, so the cross-entropies written out by hand (Theano's
`-y*log(p) - (1-y)*log(1-p)` with `p = 1/(1+exp(-z))`, `-log(softmax(z))[arange(n), y]`)
stay finite for any logits. `th.grad` differentiates the stabilised graph, so their
gradients are finite too; the compiler applies the same rules to every program.
"""
from __future__ import annotations

from ..ops import elementwise as ew
from ..ops.index import AdvancedSubtensor, Subtensor, TakeAlongAxis, TakeFlat
from ..ops.nn_loss import LogSoftmax, Softmax
from ..ops.reduce import Sum
from .engine import rule
from .patterns import const_value, negated, owner_is, same_type, split_constant

STABILIZE: list = []


def _one_plus_exp(v):
    """u for v = 1 + exp(u) (either order), else None."""
    rest = split_constant(v, 1)
    if rest is not None and owner_is(rest, ew.exp.op):
        return rest.owner.inputs[0]
    return None


@rule(ew.log.op, name="log_one_plus", registry=STABILIZE)
def log_one_plus(node):
    """log(1 + x) -> log1p(x) + 0.0 (log(1 + -0.0) is +0.0 where log1p(-0.0) is -0.0)."""
    x = split_constant(node.inputs[0], 1)
    if x is None:
        return None
    if owner_is(x, ew.exp.op):  # log(1 + exp(u)) is softplus(u) (exp(u) is never -0.0)
        return same_type(ew.softplus(x.owner.inputs[0]), node)
    return same_type(ew.log1p(x) + 0.0, node)


@rule(ew.subtract.op, name="exp_minus_one", registry=STABILIZE)
def exp_minus_one(node):
    """exp(x) - 1 -> expm1(x) + 0.0 (exp(-0.0) - 1 is +0.0, expm1(-0.0) -0.0)."""
    e, one = node.inputs
    if owner_is(e, ew.exp.op) and const_value(one) == 1:
        return same_type(ew.expm1(e.owner.inputs[0]) + 0.0, node)
    return None


@rule(ew.divide.op, name="sigmoid_from_quotient", registry=STABILIZE)
def sigmoid_from_quotient(node):
    """1 / (1 + exp(-x)) -> sigmoid(x); exp(x) / (1 + exp(x)) -> sigmoid(x)."""
    top, bottom = node.inputs
    u = _one_plus_exp(bottom)
    if u is None:
        return None
    if const_value(top) == 1:
        return same_type(ew.sigmoid(negated(u)), node)
    if owner_is(top, ew.exp.op) and top.owner.inputs[0] is u:
        return same_type(ew.sigmoid(u), node)
    return None


@rule(ew.reciprocal.op, name="sigmoid_from_reciprocal", registry=STABILIZE)
def sigmoid_from_reciprocal(node):
    """reciprocal(1 + exp(-x)) -> sigmoid(x)."""
    u = _one_plus_exp(node.inputs[0])
    return None if u is None else same_type(ew.sigmoid(negated(u)), node)


@rule(ew.power.op, name="sigmoid_from_power", registry=STABILIZE)
def sigmoid_from_power(node):
    """(1 + exp(-x)) ** -1 -> sigmoid(x)."""
    base, exponent = node.inputs
    u = _one_plus_exp(base)
    if u is None or const_value(exponent) != -1:
        return None
    return same_type(ew.sigmoid(negated(u)), node)


@rule(ew.subtract.op, name="one_minus_sigmoid", registry=STABILIZE)
def one_minus_sigmoid(node):
    """1 - sigmoid(x) -> sigmoid(-x): no cancellation when sigmoid(x) rounds to 1."""
    one, s = node.inputs
    if const_value(one) == 1 and owner_is(s, ew.sigmoid.op):
        return same_type(ew.sigmoid(negated(s.owner.inputs[0])), node)
    return None


@rule(ew.log1p.op, name="softplus_from_log1p_exp", registry=STABILIZE)
def softplus_from_log1p_exp(node):
    """log1p(exp(x)) (and so log(1 + exp(x))) -> softplus(x), finite for large x."""
    (e,) = node.inputs
    if owner_is(e, ew.exp.op):
        return same_type(ew.softplus(e.owner.inputs[0]), node)
    return None


@rule(ew.log1p.op, name="log1p_minus_sigmoid", registry=STABILIZE)
def log1p_minus_sigmoid(node):
    """log1p(-sigmoid(x)) = log(1 - sigmoid(x)) -> -softplus(x)."""
    (n,) = node.inputs
    if owner_is(n, ew.negative.op) and owner_is(n.owner.inputs[0], ew.sigmoid.op):
        return same_type(ew.negative(ew.softplus(n.owner.inputs[0].owner.inputs[0])), node)
    return None


@rule(ew.log.op, name="log_sigmoid", registry=STABILIZE)
def log_sigmoid(node):
    """log(sigmoid(x)) -> 0 - softplus(-x), finite for large negative x (0 - s rather
    than -s: log(sigmoid(inf)) is +0.0)."""
    (s,) = node.inputs
    if owner_is(s, ew.sigmoid.op):
        return same_type(0.0 - ew.softplus(negated(s.owner.inputs[0])), node)
    return None


@rule(ew.divide.op, name="softmax_from_quotient", registry=STABILIZE)
def softmax_from_quotient(node):
    """exp(x) / sum(exp(x), axis, keepdims=True) -> softmax(x, axis) (one axis)."""
    top, bottom = node.inputs
    if not (owner_is(top, ew.exp.op) and owner_is(bottom, Sum)):
        return None
    op = bottom.owner.op
    if bottom.owner.inputs[0] is not top or not op.keepdims or len(op.axes) != 1:
        return None
    return same_type(Softmax(op.axes[0])(top.owner.inputs[0]), node)


@rule(ew.log.op, name="log_softmax", registry=STABILIZE)
def log_softmax(node):
    """log(softmax(x)) -> log_softmax(x): no log(0) = -inf when a probability underflows."""
    (p,) = node.inputs
    if owner_is(p, Softmax):
        return same_type(LogSoftmax(p.owner.op.axis)(p.owner.inputs[0]), node)
    return None


_SELECTIONS = (AdvancedSubtensor, Subtensor, TakeAlongAxis, TakeFlat)


@rule(ew.log.op, name="log_of_selected_softmax", registry=STABILIZE)
def log_of_selected_softmax(node):
    """log(softmax(x)[idx]) -> log_softmax(x)[idx]: the classic p_y_given_x[arange(n), y]
    negative log-likelihood, made stable (selections pick elements, so log commutes)."""
    (s,) = node.inputs
    if not owner_is(s, _SELECTIONS):
        return None
    p = s.owner.inputs[0]
    if not owner_is(p, Softmax):
        return None
    logp = LogSoftmax(p.owner.op.axis)(p.owner.inputs[0])
    return same_type(s.owner.op(logp, *s.owner.inputs[1:]), node)
