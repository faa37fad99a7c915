"""Axis and broadcasting arguments, checked and normalised the same way by every op family."""
from __future__ import annotations

import operator

import numpy as np

from ..errors import AxisError, ShapeError
from ..graph import format_shape


def broadcast_shapes(*shapes, op: str = "broadcast") -> tuple:
    """NumPy broadcasting of static shapes with unknown (None) dims."""
    ndim = max((len(s) for s in shapes), default=0)
    result = []
    for axis in range(ndim):
        dims = [s[axis - ndim + len(s)] for s in shapes if axis - ndim + len(s) >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ShapeError(f"shapes {' and '.join(format_shape(s) for s in shapes)} cannot be "
                             f"broadcast together (dimension {axis - ndim} is {' vs '.join(map(str, sorted(known)))})")
        if known:
            result.append(known.pop())
        elif any(d is None for d in dims):
            result.append(None)
        else:
            result.append(1)
    return tuple(result)


def normalize_axis(axis, ndim: int, op: str = "") -> tuple:
    """Axis argument (None, int or sequence; negatives allowed) as a sorted tuple of ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise AxisError(f"axis {a} is out of range for a tensor of rank {ndim}")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ShapeError(f"repeated axis in {axis}")
    return tuple(sorted(out))


# Axis arguments are normalised here when valid and passed on raw when not, so that the
# op's `infer` rejects them and the error names the op, the input types and the user's line.

def axis_arg(axis, ndim: int) -> int:
    """One axis (negatives count from the end), or the raw value when out of range."""
    a = operator.index(axis)
    return a % ndim if -ndim <= a < ndim else a


def axes_arg(axis, ndim: int) -> tuple:
    """Sorted axes (all when None), or the raw values when some are invalid."""
    if axis is None:
        return tuple(range(ndim))
    raw = (operator.index(axis),) if isinstance(axis, (int, np.integer)) else tuple(
        operator.index(a) for a in axis)
    try:
        return normalize_axis(raw, ndim)
    except ShapeError:
        return tuple(a % ndim if -ndim <= a < ndim else a for a in raw)


def check_axes(axes, shape, ndim=None) -> None:
    """Raise (from an op's infer) unless every axis is in range(ndim) and none repeats."""
    ndim = len(shape) if ndim is None else ndim
    for a in axes:
        if not 0 <= a < ndim:
            raise AxisError(f"axis {a} is out of range for a tensor of shape {format_shape(shape)}"
                             + (f" (result rank {ndim})" if ndim != len(shape) else ""))
    if len(set(axes)) != len(axes):
        raise ShapeError(f"repeated axis in {tuple(axes)}")
