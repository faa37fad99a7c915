"""Algebraic simplification: identities that remove work without changing values."""
from __future__ import annotations

import numpy as np

from ...graph import Constant
from ...ops import elementwise as ew
from ...ops.constructors import Full
from ..rewrite import rule

CANONICALIZE: list = []


def _const_value(v):
    """The single value of a constant or a Full, else None."""
    if isinstance(v, Constant):
        return v.uniform_value
    if v.owner is not None and isinstance(v.owner.op, Full):
        return v.owner.op.value
    return None


def _same_result(keep, node):
    """`keep` stands for the node's output if its type is the output's (no broadcasting)."""
    out = node.outputs[0]
    if keep.dtype == out.dtype and keep.type.shape == out.type.shape and out.type.is_concrete:
        return [keep]
    return None


@rule(ew.add.op, name="add_zero", registry=CANONICALIZE)
def add_zero(node):
    a, b = node.inputs
    if _const_value(b) == 0:
        return _same_result(a, node)
    if _const_value(a) == 0:
        return _same_result(b, node)
    return None


@rule(ew.subtract.op, name="subtract_zero", registry=CANONICALIZE)
def subtract_zero(node):
    a, b = node.inputs
    return _same_result(a, node) if _const_value(b) == 0 else None


@rule(ew.multiply.op, name="multiply_one", registry=CANONICALIZE)
def multiply_one(node):
    a, b = node.inputs
    if _const_value(b) == 1:
        return _same_result(a, node)
    if _const_value(a) == 1:
        return _same_result(b, node)
    return None


@rule(ew.divide.op, name="divide_one", registry=CANONICALIZE)
def divide_one(node):
    a, b = node.inputs
    return _same_result(a, node) if _const_value(b) == 1 else None


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
