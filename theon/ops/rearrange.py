"""Shape ops that move or copy elements: flip, roll, tile, repeat, pad (NumPy semantics).

Split from shape.py to keep files small; shape.py re-exports every public name here.
Each op's gradient is its adjoint, written as an op whose own gradient is the forward op,
so second derivatives work.
"""
from __future__ import annotations

import builtins
import functools
import operator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ShapeError
from ..graph import Constant, Variable, format_shape
from .axes import axes_arg, axis_arg, check_axes
from .base import Op, as_variable
from .shape import expand_dims, ravel

# ---- rearranging elements -------------------------------------------------------------------

@dataclass(frozen=True)
class Flip(Op):
    axes: tuple = ()
    name: ClassVar[str] = "flip"

    def infer(self, x):
        check_axes(self.axes, x.type.shape)
        return [x.type]

    def kernel(self, x):
        return torch.flip(x, self.axes)

    def grad(self, inputs, outputs, output_grads):
        return [Flip(self.axes)(output_grads[0])]


def flip(x, axis=None):
    x = as_variable(x)
    axes = axes_arg(axis, x.ndim)
    return Flip(axes)(x) if axes else x


@dataclass(frozen=True)
class Roll(Op):
    """np.roll; `axes` None rolls the flattened tensor and keeps the shape."""
    shifts: tuple = ()
    axes: tuple | None = None
    name: ClassVar[str] = "roll"

    def infer(self, x):
        check_axes(self.axes or (), x.type.shape)
        return [x.type]

    def kernel(self, x):
        if self.axes is None:
            return torch.roll(x, self.shifts)
        return torch.roll(x, self.shifts, self.axes)

    def grad(self, inputs, outputs, output_grads):
        return [Roll(tuple(-s for s in self.shifts), self.axes)(output_grads[0])]


def roll(x, shift, axis=None):
    x = as_variable(x)
    if axis is None:
        return Roll((operator.index(shift),), None)(x)
    shifts, axes = np.broadcast_arrays(np.asarray(shift), np.asarray(axis))
    total = {}
    for s, a in zip(shifts.ravel().tolist(), axes.ravel().tolist()):
        a = axis_arg(a, x.ndim)
        total[a] = total.get(a, 0) + s
    items = sorted(total.items())
    return Roll(tuple(s for _, s in items), tuple(a for a, _ in items))(x)


@dataclass(frozen=True)
class Tile(Op):
    reps: tuple = ()  # one per axis of x
    name: ClassVar[str] = "tile"

    def infer(self, x):
        return [x.type.with_shape(None if d is None else d * r for d, r in zip(x.type.shape, self.reps))]

    def kernel(self, x):
        return x.repeat(self.reps)

    def grad(self, inputs, outputs, output_grads):
        return [TileGrad(self.reps)(output_grads[0], inputs[0])]


@dataclass(frozen=True)
class TileGrad(Op):
    """Sum the tiles of `g` into a tensor shaped like `x`."""
    reps: tuple = ()
    name: ClassVar[str] = "tile_grad"

    def infer(self, g, x):
        return [x.type.with_dtype(g.dtype)]

    def kernel(self, g, x):
        inter = [v for r, n in zip(self.reps, x.shape) for v in (r, n)]
        return g.reshape(inter).sum(tuple(range(0, 2 * x.ndim, 2))) if x.ndim else g.clone()

    def grad(self, inputs, outputs, output_grads):
        return [Tile(self.reps)(output_grads[0]), None]


def tile(x, reps):
    """`x` repeated `reps` times along each axis (NumPy's tile)."""
    x = as_variable(x)
    reps = (operator.index(reps),) if isinstance(reps, (int, np.integer)) else tuple(operator.index(r) for r in reps)
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: negative repetitions {reps}")
    if len(reps) > x.ndim:
        x = expand_dims(x, tuple(range(len(reps) - x.ndim)))
    reps = (1,) * (x.ndim - len(reps)) + reps
    return x if builtins.all(r == 1 for r in reps) else Tile(reps)(x)


@dataclass(frozen=True)
class Repeat(Op):
    """Each slice along `axis` repeated `repeats` times: one int for all, or a tuple with
    one count per slice (NumPy's repeat)."""
    repeats: int | tuple = 1
    axis: int = 0
    name: ClassVar[str] = "repeat"

    def infer(self, x):
        check_axes((self.axis,), x.type.shape)
        shape = list(x.type.shape)
        n = shape[self.axis]
        if isinstance(self.repeats, tuple):
            if n is not None and n != len(self.repeats):
                raise ShapeError(f"repeat: {len(self.repeats)} repeat counts for axis {self.axis} of "
                                 f"size {n} (shape {format_shape(x.type.shape)})")
            shape[self.axis] = builtins.sum(self.repeats)
        else:
            shape[self.axis] = None if n is None else n * self.repeats
        return [x.type.with_shape(shape)]

    def counts(self, device):
        if isinstance(self.repeats, tuple):
            return torch.tensor(self.repeats, dtype=torch.int64, device=device)
        return self.repeats

    @property
    def capturable(self) -> bool:
        """Per-slice counts go to the device, and their sum back to the host, every call."""
        return not isinstance(self.repeats, tuple)

    def kernel(self, x):
        return torch.repeat_interleave(x, self.counts(x.device), self.axis)

    def grad(self, inputs, outputs, output_grads):
        return [RepeatGrad(self.repeats, self.axis)(output_grads[0], inputs[0])]


@dataclass(frozen=True)
class RepeatGrad(Op):
    repeats: int | tuple = 1
    axis: int = 0
    name: ClassVar[str] = "repeat_grad"

    def infer(self, g, x):
        return [x.type.with_dtype(g.dtype)]

    def kernel(self, g, x):
        if isinstance(self.repeats, tuple):   # sum each slice's copies back into it
            n = x.shape[self.axis]
            source = Repeat(self.repeats, 0).kernel(torch.arange(n, device=g.device))
            out = torch.zeros(x.shape, dtype=g.dtype, device=g.device)
            return out.index_add_(self.axis, source, g)
        shape = list(g.shape)
        shape[self.axis:self.axis + 1] = [x.shape[self.axis], self.repeats]
        return g.reshape(shape).sum(self.axis + 1)

    def grad(self, inputs, outputs, output_grads):
        return [Repeat(self.repeats, self.axis)(output_grads[0]), None]


def repeat(x, repeats, axis=None):
    """Each element repeated `repeats` times along `axis` (flattened when None): one int,
    or one count per element along the axis (a sequence or integer array, known when
    building)."""
    x = as_variable(x)
    if isinstance(repeats, Variable):
        if not isinstance(repeats, Constant):
            raise ValueError("repeat: repeats must be known when building (the output's size "
                             "depends on them); pass ints or a NumPy array")
        repeats = repeats.value
    r = np.asarray(repeats)
    if r.dtype.kind not in "iu" and not (r.size == 0 and r.dtype.kind == "f") or r.ndim > 1:
        raise ValueError(f"repeat: repeats must be an int or a 1-D sequence of ints, got {repeats!r}")
    if (r < 0).any():
        raise ValueError(f"repeat: negative repeats in {repeats!r}")
    if axis is None:
        x, axis = ravel(x), 0
    counts = int(r.reshape(())) if r.ndim == 0 or r.size == 1 else tuple(int(v) for v in r)
    return Repeat(counts, axis_arg(axis, x.ndim))(x)


# ---- padding --------------------------------------------------------------------------------

PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


@functools.lru_cache(maxsize=256)
def _pad_index(n: int, before: int, after: int, mode: str, device) -> torch.Tensor:
    """Source positions of a padded axis of size n (NumPy's rules, pads of any width); kept
    per size and device, so a program's pad pays index_select alone (silero's reflect pad on
    every 512-sample chunk: five index kernels less). Callers only read it."""
    if n == 0:
        raise ShapeError(f"pad: cannot extend an empty axis in mode {mode!r}")
    p = torch.arange(-before, n + after, device=device)
    if mode == "edge":
        return p.clamp(0, n - 1)
    if mode == "wrap":
        return p % n
    if mode == "reflect":
        if n == 1:
            return torch.zeros_like(p)
        q = p % (2 * n - 2)
        return torch.where(q >= n, 2 * n - 2 - q, q)
    q = p % (2 * n)  # symmetric
    return torch.where(q >= n, 2 * n - 1 - q, q)


@dataclass(frozen=True)
class Pad(Op):
    widths: tuple = ()  # ((before, after), ...) per axis
    mode: str = "constant"
    value: object = 0
    name: ClassVar[str] = "pad"

    def infer(self, x):
        if self.mode != "constant":
            for a, (d, w) in enumerate(zip(x.type.shape, self.widths)):
                if d == 0 and builtins.any(w):
                    raise ShapeError(f"cannot extend the empty axis {a} of shape "
                                     f"{format_shape(x.type.shape)} in mode {self.mode!r}")
        return [x.type.with_shape(None if d is None else d + b + a
                                  for d, (b, a) in zip(x.type.shape, self.widths))]

    def kernel(self, x):
        if self.mode == "constant":
            flat = [v for b, a in reversed(self.widths) for v in (b, a)]
            return F.pad(x, flat, value=self.value) if x.ndim else x.clone()
        for axis, (b, a) in enumerate(self.widths):
            if b or a:
                x = x.index_select(axis, _pad_index(x.shape[axis], b, a, self.mode, x.device))
        return x

    def grad(self, inputs, outputs, output_grads):
        g = output_grads[0]
        if self.mode == "constant":
            return [Crop(self.widths)(g)]
        return [PadGrad(self.widths, self.mode)(g)]


@dataclass(frozen=True)
class PadGrad(Op):
    """Adjoint of an edge/reflect/symmetric/wrap pad: border gradients summed back inside."""
    widths: tuple = ()
    mode: str = "edge"
    name: ClassVar[str] = "pad_grad"

    def infer(self, g):
        return [Crop(self.widths).infer(g)[0]]

    def kernel(self, g):
        for axis in reversed(range(g.ndim)):
            b, a = self.widths[axis]
            if b or a:
                n = g.shape[axis] - b - a
                idx = _pad_index(n, b, a, self.mode, g.device)
                shape = list(g.shape)
                shape[axis] = n
                g = torch.zeros(shape, dtype=g.dtype, device=g.device).index_add_(axis, idx, g)
        return g

    def grad(self, inputs, outputs, output_grads):
        return [Pad(self.widths, self.mode)(output_grads[0])]


@dataclass(frozen=True)
class Crop(Op):
    """`x` with `widths` ((before, after) per axis) cut off; the adjoint of a constant pad."""
    widths: tuple = ()
    name: ClassVar[str] = "crop"
    view: ClassVar[bool] = True

    def infer(self, x):
        out = []
        for d, (b, a) in zip(x.type.shape, self.widths):
            if d is not None and d < b + a:
                raise ShapeError(f"cannot cut {b}+{a} from a dim of {d} in shape "
                                 f"{format_shape(x.type.shape)}")
            out.append(None if d is None else d - b - a)
        return [x.type.with_shape(out)]

    def kernel(self, x):
        for axis, (b, a) in enumerate(self.widths):
            if b or a:
                x = x.narrow(axis, b, x.shape[axis] - b - a)
        return x

    def grad(self, inputs, outputs, output_grads):
        return [Pad(self.widths, "constant", 0)(output_grads[0])]


def _pad_widths(pad_width, ndim: int) -> tuple:
    arr = np.asarray(pad_width)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"pad: pad_width must be ints, got {pad_width!r}")
    try:
        arr = np.broadcast_to(arr, (ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit a tensor of rank {ndim}") from None
    if (arr < 0).any():
        raise ValueError(f"pad: negative pad width in {pad_width!r}")
    return tuple((int(b), int(a)) for b, a in arr)


def pad(x, pad_width, mode="constant", constant_values=0):
    """NumPy's pad: modes constant, edge, reflect, symmetric, wrap; pad_width in any NumPy form."""
    x = as_variable(x)
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode {mode!r} is not supported; use one of {', '.join(PAD_MODES)}")
    widths = _pad_widths(pad_width, x.ndim)
    if not builtins.any(b or a for b, a in widths):
        return x
    value = 0
    if mode == "constant":
        if isinstance(constant_values, Variable) and not isinstance(constant_values, Constant):
            raise TypeError("pad: constant_values must be a number, not a symbolic tensor")
        cv = constant_values.value if isinstance(constant_values, Constant) else constant_values
        cv = np.asarray(cv)
        if cv.size != 1:
            raise ValueError(f"pad: constant_values must be one number, got {constant_values!r}")
        value = cv.reshape(()).astype(x.dtype).item()
    return Pad(widths, mode, value)(x)


__all__ = [
    "flip", "roll", "tile", "repeat", "pad",
    "Flip", "Roll", "Tile", "TileGrad", "Repeat", "RepeatGrad", "Pad", "PadGrad", "Crop",
]
