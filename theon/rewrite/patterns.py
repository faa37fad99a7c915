"""Small helpers rules use to recognise a pattern in the graph."""
from __future__ import annotations

from ..graph import Constant
from ..ops import elementwise as ew
from ..ops.constructors import Full


def const_value(v):
    """The single value of a constant or a Full, else None."""
    if isinstance(v, Constant):
        return v.uniform_value
    if v.owner is not None and isinstance(v.owner.op, Full):
        return v.owner.op.value
    return None


def owner_is(v, cls) -> bool:
    return v.owner is not None and isinstance(v.owner.op, cls)


def negated(v):
    """-v, without a double negation when v is already -u."""
    return v.owner.inputs[0] if owner_is(v, ew.negative.op) else ew.negative(v)


def split_constant(v, value):
    """For `v` = c + x or x + c with c a constant equal to `value` everywhere: x; else None."""
    if not owner_is(v, ew.add.op):
        return None
    a, b = v.owner.inputs
    if const_value(a) == value:
        return b
    if const_value(b) == value:
        return a
    return None


def same_type(new, node):
    """[new] when it has exactly the type of the node's output (no broadcasting, no cast), so
    a rule never changes what its node gives; else None."""
    out = node.outputs[0]
    if new.dtype == out.dtype and new.type.shape == out.type.shape:
        return [new]
    return None
