"""The dtype functions of NumPy and the Array API: `result_type`, `can_cast`, `isdtype`.
theon's dtypes are NumPy's (named by strings), so each answers as NumPy does; operands
may be tensors, dtypes (strings or NumPy dtypes) or Python scalars (weak, NEP 50)."""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError
from ..graph import Variable
from .base import promotion_operand

__all__ = ["can_cast", "isdtype", "result_type"]


def _dtype(value, what: str) -> np.dtype:
    """A dtype given as a tensor (its dtype), a string, a NumPy dtype or a scalar type."""
    if isinstance(value, Variable):
        return np.dtype(value.dtype)
    try:
        return np.dtype(value)
    except TypeError:
        raise DTypeError(f"{what}: expected a tensor or a dtype, got {value!r}") from None


def result_type(*arrays_and_dtypes) -> str:
    """numpy.result_type: the dtype NumPy's promotion gives for these tensors, dtypes and
    Python scalars (weak, as next to a tensor). At least one tensor or dtype is needed."""
    operands = []
    for a in arrays_and_dtypes:
        if isinstance(a, Variable):
            p = promotion_operand(a)
            operands.append({bool: False, int: 0, float: 0.0, complex: 0j}.get(p, p))
        elif isinstance(a, (bool, int, float, complex)):
            operands.append(a)
        else:
            operands.append(_dtype(a, "result_type"))
    if not any(isinstance(o, np.dtype) for o in operands):
        raise DTypeError("result_type needs at least one tensor or dtype (Python scalars alone "
                         "take the default dtypes: th.constant(x).dtype)")
    try:
        return np.result_type(*operands).name
    except TypeError as e:
        raise DTypeError(f"result_type: no common dtype for {arrays_and_dtypes!r}: {e}") from None


def can_cast(from_, to) -> bool:
    """numpy.can_cast with casting='safe': whether every value of `from_` (a tensor or a
    dtype) is represented exactly in dtype `to`."""
    return bool(np.can_cast(_dtype(from_, "can_cast"), _dtype(to, "can_cast"), casting="safe"))


def _kind_dtype(kind) -> np.dtype:
    try:
        return np.dtype(kind)
    except TypeError:
        raise DTypeError(f"isdtype: kind must be a dtype or one of {', '.join(map(repr, _KINDS))}, "
                         f"got {kind!r}") from None


_KINDS = ("bool", "signed integer", "unsigned integer", "integral", "real floating",
          "complex floating", "numeric")


def isdtype(dtype, kind) -> bool:
    """numpy.isdtype: whether `dtype` is of `kind`, a dtype or one of 'bool', 'signed integer',
    'unsigned integer', 'integral', 'real floating', 'complex floating', 'numeric', or a tuple
    of those (theon names dtypes by strings, so a dtype name such as 'float32' is that dtype)."""
    if isinstance(dtype, Variable):
        raise DTypeError("isdtype takes a dtype, not a tensor: isdtype(x.dtype, kind)")
    kinds = kind if isinstance(kind, tuple) else (kind,)
    kinds = tuple(k if isinstance(k, str) and k in _KINDS else _kind_dtype(k) for k in kinds)
    try:
        return bool(np.isdtype(_dtype(dtype, "isdtype"), kinds))
    except (TypeError, ValueError) as e:
        raise DTypeError(f"isdtype: {e}") from None
