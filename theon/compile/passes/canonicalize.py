"""Algebraic simplification: identities that remove work without changing values."""
from __future__ import annotations

import numpy as np

from ...ops import elementwise as ew
from ...rewrite import rule
from ...rewrite.patterns import const_value

CANONICALIZE: list = []


def _same_result(keep, node):
    """`keep` stands for the node's output if its type is the output's (no broadcasting)."""
    out = node.outputs[0]
    if keep.dtype == out.dtype and keep.type.shape == out.type.shape and out.type.is_concrete:
        return [keep]
    return None


@rule(ew.add.op, name="add_zero", registry=CANONICALIZE)
def add_zero(node):
    a, b = node.inputs
    if const_value(b) == 0:
        return _same_result(a, node)
    if const_value(a) == 0:
        return _same_result(b, node)
    return None


@rule(ew.subtract.op, name="subtract_zero", registry=CANONICALIZE)
def subtract_zero(node):
    a, b = node.inputs
    return _same_result(a, node) if const_value(b) == 0 else None


@rule(ew.multiply.op, name="multiply_one", registry=CANONICALIZE)
def multiply_one(node):
    a, b = node.inputs
    if const_value(b) == 1:
        return _same_result(a, node)
    if const_value(a) == 1:
        return _same_result(b, node)
    return None


@rule(ew.divide.op, name="divide_one", registry=CANONICALIZE)
def divide_one(node):
    a, b = node.inputs
    return _same_result(a, node) if const_value(b) == 1 else None


@rule(ew.negative.op, name="double_negative", registry=CANONICALIZE)
def double_negative(node):
    (x,) = node.inputs
    if x.owner is not None and isinstance(x.owner.op, ew.negative.op):
        return [x.owner.inputs[0]]
    return None


@rule(ew.Cast, name="cast_chain", registry=CANONICALIZE)
def cast_chain(node):
    """cast(cast(x, a), b) -> cast(x, b) when the first cast lost nothing (a widens x)."""
    (x,) = node.inputs
    if x.owner is None or not isinstance(x.owner.op, ew.Cast):
        return None
    src = x.owner.inputs[0]
    if not np.can_cast(src.dtype, x.dtype, "safe"):
        return None
    return [src] if src.dtype == node.op.dtype else [ew.cast(src, node.op.dtype)]
