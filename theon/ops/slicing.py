"""Strided slicing whose bounds may be symbolic scalars (known only when the function is
specialised, such as `x.shape[1] - 64`), with negative steps: ONNX's Slice.

`x[start:stop:step]` on the given axes with Python's clamping; each bound is an int in
the op's template or, where the template holds None, the next scalar input.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..errors import ShapeError
from ..graph import Constant, TensorType, Variable
from .base import Op, as_variable

__all__ = ["StridedSlice", "StridedSliceGrad", "strided_slice"]

_BIG = 1 << 62


def _resolve(template, dims):
    """The bounds with symbolic ones filled in from constant inputs (None if still unknown)."""
    it = iter(dims)
    out = []
    for t in template:
        if t is not None:
            out.append(t)
        else:
            d = next(it)
            out.append(int(d.value) if isinstance(d, Constant) else None)
    return out


def _runtime(template, dims):
    it = iter(dims)
    return [t if t is not None else int(next(it)) for t in template]


def _index(size: int, start: int, stop: int, step: int):
    return range(*slice(start, stop, step).indices(size))


@dataclass(frozen=True)
class StridedSlice(Op):
    """Inputs: x, then one int scalar per None in `template` (starts then stops)."""
    axes: tuple = ()
    template: tuple = ()   # starts then stops: ints, or None for a symbolic scalar input
    steps: tuple = ()
    name: ClassVar[str] = "strided_slice"

    def infer(self, x, *dims):
        if any(not 0 <= a < x.ndim for a in self.axes):
            raise ShapeError(f"slice axes {self.axes} are out of range for a tensor of rank {x.ndim}")
        if 0 in self.steps:
            raise ShapeError("slice step cannot be zero")
        for d in dims:
            if d.ndim != 0 or not d.dtype.startswith("int"):
                raise ShapeError(f"a symbolic slice bound must be an integer scalar, got {d.type}")
        bounds = _resolve(self.template, dims)
        starts, stops = bounds[:len(self.axes)], bounds[len(self.axes):]
        shape = list(x.type.shape)
        for a, b, e, s in zip(self.axes, starts, stops, self.steps):
            size = shape[a]
            shape[a] = None if size is None or b is None or e is None else len(_index(size, b, e, s))
        return [x.type.with_shape(shape)]

    def kernel(self, x, *dims):
        bounds = _runtime(self.template, dims)
        n = len(self.axes)
        for a, b, e, s in zip(self.axes, bounds[:n], bounds[n:], self.steps):
            r = _index(x.shape[a], b, e, s)
            if s > 0:
                x = x.narrow(a, r.start, len(r)) if s == 1 else x.narrow(a, r.start, max(len(r) * s - s + 1, 0))[
                    (slice(None),) * a + (slice(None, None, s),)]
            else:
                x = x.index_select(a, torch.arange(r.start, r.stop, r.step, device=x.device, dtype=torch.long)
                                   if len(r) else torch.zeros(0, dtype=torch.long, device=x.device))
        return x.contiguous()

    def grad(self, inputs, outputs, output_grads):
        x, *dims = inputs
        return [StridedSliceGrad(self.axes, self.template, self.steps)(output_grads[0], x, *dims)] + \
            [None] * len(dims)


@dataclass(frozen=True)
class StridedSliceGrad(Op):
    """Zeros of x's shape with the slice's gradient written into the sliced positions."""
    axes: tuple = ()
    template: tuple = ()
    steps: tuple = ()
    name: ClassVar[str] = "strided_slice_grad"
    differentiable: ClassVar[bool] = False

    def infer(self, g, x, *dims):
        return [TensorType(g.dtype, x.type.shape)]

    def kernel(self, g, x, *dims):
        bounds = _runtime(self.template, dims)
        n = len(self.axes)
        index = [slice(None)] * x.ndim
        out = torch.zeros(x.shape, dtype=g.dtype, device=g.device)
        for a, b, e, s in zip(self.axes, bounds[:n], bounds[n:], self.steps):
            r = _index(x.shape[a], b, e, s)
            idx = torch.arange(r.start, r.stop, r.step, device=g.device, dtype=torch.long) if len(r) else \
                torch.zeros(0, dtype=torch.long, device=g.device)
            index[a] = idx
        # one advanced index per sliced axis: build an open mesh so they combine as a block
        mesh = []
        for a in range(x.ndim):
            shape = [1] * x.ndim
            shape[a] = -1
            idx = index[a] if isinstance(index[a], torch.Tensor) else torch.arange(x.shape[a], device=g.device)
            mesh.append(idx.reshape(shape))
        out.index_put_(tuple(mesh), g)
        return out


def strided_slice(x, axes, starts, stops, steps):
    """x sliced along `axes` from `starts` to `stops` by `steps` (bounds: ints or int scalars)."""
    x = as_variable(x)
    template, dynamic = [], []
    for b in list(starts) + list(stops):
        if isinstance(b, Variable):
            if isinstance(b, Constant):
                template.append(int(b.value))
            else:
                template.append(None)
                dynamic.append(b)
        else:
            template.append(max(min(int(b), _BIG), -_BIG))
    return StridedSlice(tuple(int(a) for a in axes), tuple(template),
                        tuple(int(s) for s in steps))(x, *dynamic)
