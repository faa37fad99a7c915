"""Algebraic simplification: identities that remove work without changing values."""
from __future__ import annotations

import math

import numpy as np

from ...graph import Constant
from ...ops import elementwise as ew
from ...ops.broadcast import BroadcastLike, BroadcastTo
from ...ops.shape import Transpose
from ...rewrite import rule
from ...rewrite.patterns import const_value

CANONICALIZE: list = []


def _same_result(keep, node):
    """`keep` stands for the node's output if its type is the output's (no broadcasting)."""
    out = node.outputs[0]
    if keep.dtype == out.dtype and keep.type.shape == out.type.shape and out.type.is_concrete:
        return [keep]
    return None


# Every rule here must hold for all IEEE values, signed zeros, infinities and NaN included:
#   x + (-0.0) == x, but x + 0.0 turns -0.0 into +0.0;  x - 0.0 == x, but x - (-0.0) does not;
#   x * 1 and x / 1 are exact for reals, not for complex (0 * inf terms and signed zeros).
# Integer and bool identities hold for every value. Complex values keep every op: torch's
# complex kernels do not keep signed zeros (its add computes x + 1 * y), so an identity
# rule would make the program disagree with the same op folded.

def _is(v, value) -> bool:
    """Whether `v` is a constant (or Full) of exactly `value`, signs of zeros included."""
    c = const_value(v)
    if c is None or c != value:
        return False
    if isinstance(value, float) and value == 0:
        return _zero_signs_are(v, c, math.copysign(1.0, value) < 0)
    return True


def _zero_signs_are(v, c, negative: bool) -> bool:
    # +0.0 == -0.0, so a constant "uniformly" zero may still mix the two zeros
    if isinstance(v, Constant):
        parts = (v.value.real, v.value.imag) if v.value.dtype.kind == "c" else (v.value,)
        return all(bool((np.signbit(p) == negative).all()) for p in parts)
    parts = (c.real, c.imag) if isinstance(c, complex) else (float(c),)
    return all((math.copysign(1.0, p) < 0) == negative for p in parts)


def _additive_identity(dtype: str):
    """The y with x + y == x for every x of `dtype`: -0.0 for floats, 0 else."""
    return -0.0 if dtype.startswith("float") else 0


def _real(dtype: str) -> bool:
    return not dtype.startswith("complex")


@rule(ew.add.op, name="add_zero", registry=CANONICALIZE)
def add_zero(node):
    a, b = node.inputs
    if not _real(node.outputs[0].dtype):
        return None
    zero = _additive_identity(node.outputs[0].dtype)
    if _is(b, zero):
        return _same_result(a, node)
    if _is(a, zero):
        return _same_result(b, node)
    return None


@rule(ew.subtract.op, name="subtract_zero", registry=CANONICALIZE)
def subtract_zero(node):
    """x - 0 -> x (x - (+0.0) keeps -0.0; x - (-0.0) would not)."""
    a, b = node.inputs
    if not _real(node.outputs[0].dtype):
        return None
    zero = 0.0 if node.outputs[0].dtype.startswith("float") else 0
    return _same_result(a, node) if _is(b, zero) else None


@rule(ew.multiply.op, name="multiply_one", registry=CANONICALIZE)
def multiply_one(node):
    a, b = node.inputs
    if not _real(node.outputs[0].dtype):
        return None
    if _is(b, 1):
        return _same_result(a, node)
    if _is(a, 1):
        return _same_result(b, node)
    return None


def _unbroadcast(v):
    while v.owner is not None and isinstance(v.owner.op, (BroadcastTo, BroadcastLike)):
        v = v.owner.inputs[0]
    return v


@rule(ew.multiply.op, name="multiply_broadcast_one", registry=CANONICALIZE)
def multiply_broadcast_one(node):
    """x * broadcast(1) -> x where x already has the result's type: autodiff seeds a sum's
    gradient as ones broadcast to its input, then multiplies by it (exact for reals)."""
    a, b = node.inputs
    if not _real(node.outputs[0].dtype):
        return None
    for keep, other in ((a, b), (b, a)):
        if other is not _unbroadcast(other) and _is(_unbroadcast(other), 1):
            found = _same_result(keep, node)
            if found:
                return found
    return None


@rule(ew.divide.op, name="divide_one", registry=CANONICALIZE)
def divide_one(node):
    a, b = node.inputs
    if not _real(node.outputs[0].dtype):
        return None
    return _same_result(a, node) if _is(b, 1) else None


@rule(ew.negative.op, name="double_negative", registry=CANONICALIZE)
def double_negative(node):
    (x,) = node.inputs
    if x.owner is not None and isinstance(x.owner.op, ew.negative.op):
        return [x.owner.inputs[0]]
    return None


@rule(ew.Cast, name="cast_chain", registry=CANONICALIZE)
def cast_chain(node):
    """cast(cast(x, a), b) -> cast(x, b) when the first cast is exact for every value of x."""
    (x,) = node.inputs
    if x.owner is None or not isinstance(x.owner.op, ew.Cast):
        return None
    src = x.owner.inputs[0]
    if not exact_widening(src.dtype, x.dtype):
        return None
    return [src] if src.dtype == node.op.dtype else [ew.cast(src, node.op.dtype)]


def exact_widening(src: str, dst: str) -> bool:
    """Whether every value of `src` is exactly a value of `dst`. NumPy's "safe" casting is
    not enough: int64 -> float64 is safe there, yet rounds integers above 2**53."""
    if not np.can_cast(src, dst, "safe"):
        return False
    s, d = np.dtype(src), np.dtype(dst)
    if s.kind in "iu" and d.kind in "fc":
        mantissa = np.finfo(d).nmant + 1
        return s.itemsize * 8 - (s.kind == "i") <= mantissa
    return True


# ---- gradient-graph clean-ups: powers, chained views ---------------------------------------

@rule(ew.power.op, name="power_one", registry=CANONICALIZE)
def power_one(node):
    """pow(x, 1) -> x: exact for every real x (IEEE pow(x, 1) is x, NaN and -0.0 included);
    autodiff of x**2 makes it (2 * pow(x, 2 - 1))."""
    x, y = node.inputs
    if not _real(node.outputs[0].dtype) or not _is(y, 1):
        return None
    return _same_result(x, node)


@rule(ew.power.op, name="power_two", registry=CANONICALIZE)
def power_two(node):
    """pow(x, 2) -> square(x) for floats: torch computes both as x * x."""
    x, y = node.inputs
    out = node.outputs[0]
    if not out.dtype.startswith("float") or not _is(y, 2) or x.dtype != out.dtype:
        return None
    return _same_result(ew.square(x), node)


@rule(Transpose, name="transpose_of_transpose", registry=CANONICALIZE)
def transpose_of_transpose(node):
    """transpose(transpose(x, a), b) -> transpose(x, a[b]), or x when that is the identity."""
    (x,) = node.inputs
    if x.owner is None or not isinstance(x.owner.op, Transpose):
        return None
    src, inner = x.owner.inputs[0], x.owner.op.axes
    axes = tuple(inner[a] for a in node.op.axes)
    return [src] if axes == tuple(range(src.ndim)) else [Transpose(axes)(src)]


_BROADCASTS = (BroadcastTo, BroadcastLike)


@rule(BroadcastTo, BroadcastLike, name="broadcast_of_broadcast", registry=CANONICALIZE)
def broadcast_of_broadcast(node):
    """A broadcast of a broadcast is one broadcast of the original (broadcasting composes),
    where the result's type stays the same."""
    x = node.inputs[0]
    if x.owner is None or not isinstance(x.owner.op, _BROADCASTS):
        return None
    new = node.op(x.owner.inputs[0], *node.inputs[1:])
    return [new] if new.type == node.outputs[0].type else None
