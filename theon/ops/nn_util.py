"""Helpers shared by the neural-network op files: argument normalisation and size formulas."""
from __future__ import annotations

import numpy as np

from ..errors import DTypeError, ShapeError
from ..graph import Constant, Variable
from ..graph.types import format_shape
from .base import as_variable, float_dtype, result_dtype
from .constructors import Full, FullLike
from .dims import dim
from .elementwise import cast, unify
from .shape import reshape


def ntuple(value, n: int, what: str) -> tuple:
    """An int or a length-n sequence of ints as an n-tuple of ints."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    try:
        items = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{what} must be an int or a sequence of {n} ints, got {value!r}") from None
    if len(items) == 1:
        return items * n
    if len(items) != n:
        raise ValueError(f"{what} must have {n} entries, got {value!r}")
    return items


def float_inputs(*values, op: str) -> list:
    """The values as variables of one float dtype (NumPy promotion, ints made float)."""
    variables = [as_variable(v) for v in values if v is not None]
    dtype = result_dtype(*variables)
    if dtype == "bool" or dtype.startswith("complex"):
        raise DTypeError(f"{op} takes real float inputs, got {', '.join(v.dtype for v in variables)}")
    unified = iter(unify(*variables, dtype=float_dtype(dtype)))
    return [None if v is None else next(unified) for v in values]


def check_rank(x: Variable, ranks, op: str, layout: str) -> None:
    if x.ndim not in ranks:
        raise ShapeError(f"{op} expects input of rank {' or '.join(map(str, ranks))} ({layout}), "
                         f"got shape {format_shape(x.type.shape)}")


def check_int(v: Variable, what: str) -> None:
    if not (v.dtype.startswith("int") or v.dtype == "uint8"):
        raise DTypeError(f"{what} must be integers, got {v.dtype}")


def window_out(size, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool = False,
               *, what: str, x_shape, w_shape=None):
    """Output length of a sliding window (conv or pool); None when `size` is unknown.

    Raises ShapeError when the (dilated) window is longer than the padded input.
    """
    if size is None:
        return None
    span = dilation * (kernel - 1) + 1
    padded = size + 2 * pad
    if span > padded:
        shapes = f"input {format_shape(x_shape)}"
        if w_shape is not None:
            shapes += f" and weight {format_shape(w_shape)}"
        raise ShapeError(f"{what} window of size {span} is larger than the padded input "
                         f"(size {size} + 2*{pad} padding = {padded}); {shapes}")
    numer = padded - span
    out = (-(-numer // stride) if ceil_mode else numer // stride) + 1
    # ceil mode: the last window must start inside the input or its left padding
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def is_zero(v: Variable) -> bool:
    """Whether `v` is known to be all zeros (autodiff's stand-in for an unused output)."""
    if isinstance(v, Constant):
        return not np.any(v.value)
    owner = v.owner
    if owner is None:
        return False
    return isinstance(owner.op, (Full, FullLike)) and owner.op.value == 0


def count(x: Variable, axes, dtype: str):
    """The number of elements of `x` over `axes`: a Python float, or a symbolic scalar."""
    static, dynamic = 1, None
    for a in axes:
        d = dim(x, a)
        if isinstance(d, Variable):
            dynamic = d if dynamic is None else dynamic * d
        else:
            static *= d
    if dynamic is None:
        return float(static)
    return cast(dynamic, dtype) * float(static)


def channel_view(v: Variable, ndim: int, axis: int = 1):
    """A per-channel vector (C,) reshaped to broadcast along `axis` of a rank-`ndim` tensor."""
    shape = [1] * ndim
    shape[axis] = -1
    return reshape(v, tuple(shape))
