"""Strided slicing whose bounds may be symbolic scalars (known only when the function is
specialised, such as `x.shape[1] - 64`), with negative steps: ONNX's Slice.

`x[start:stop:step]` on the given axes with Python's clamping; each bound is an int in
the op's template or, where the template holds None, the next scalar input.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..errors import ShapeError
from ..graph import Constant, TensorType, Variable, constant, format_shape, is_float
from .base import Op, as_variable
from .broadcast import sum_to_like
from .dims import resolve_shape, runtime_shape

__all__ = ["StridedSlice", "StridedSliceGrad", "SetStridedSlice", "strided_slice"]

_BIG = 1 << 62


def _length_message(axis, size, start, stop, got, length):
    return (f"the slice {start}:{stop} of axis {axis} (size {size}) selects {got} elements, but its "
            f"length was taken as {length} when building (stop - start is a constant); keep the bounds "
            "inside the dim, or bound the stop (th.minimum(stop, n)) so that a shorter slice is allowed")


def _index(size: int, start: int, stop: int, step: int):
    return range(*slice(start, stop, step).indices(size))


@dataclass(frozen=True)
class StridedSlice(Op):
    """Inputs: x, then one int scalar per None in `template` (starts then stops)."""
    axes: tuple = ()
    template: tuple = ()   # starts then stops: ints, or None for a symbolic scalar input
    steps: tuple = ()
    # per axis: the length when stop - start is a constant (`x[i*bs:(i+1)*bs]`), else None;
    # a slice that selects another number of elements at run time is an error
    lengths: tuple = ()
    name: ClassVar[str] = "strided_slice"

    def infer(self, x, *dims):
        if any(not 0 <= a < x.ndim for a in self.axes):
            raise ShapeError(f"slice axes {self.axes} are out of range for a tensor of rank {x.ndim}")
        if 0 in self.steps:
            raise ShapeError("slice step cannot be zero")
        for d in dims:
            if d.ndim != 0 or not d.dtype.startswith("int"):
                raise ShapeError(f"a symbolic slice bound must be an integer scalar, got {d.type}")
        bounds = resolve_shape(self.template, dims)
        starts, stops = bounds[:len(self.axes)], bounds[len(self.axes):]
        shape = list(x.type.shape)
        lengths = self.lengths or (None,) * len(self.axes)
        for a, b, e, s, n in zip(self.axes, starts, stops, self.steps, lengths):
            size = shape[a]
            shape[a] = None if size is None or b is None or e is None else len(_index(size, b, e, s))
            if n is not None and shape[a] is not None and shape[a] != n:
                raise ShapeError(_length_message(a, size, b, e, shape[a], n))
            shape[a] = n if shape[a] is None else shape[a]
        return [x.type.with_shape(shape)]

    def kernel(self, x, *dims):
        bounds = runtime_shape(self.template, dims)
        n = len(self.axes)
        lengths = self.lengths or (None,) * n
        for a, b, e, s, want in zip(self.axes, bounds[:n], bounds[n:], self.steps, lengths):
            r = _index(x.shape[a], b, e, s)
            if want is not None and len(r) != want:
                raise ShapeError(_length_message(a, x.shape[a], b, e, len(r), want))
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

    def infer(self, g, x, *dims):
        return [TensorType(g.dtype, x.type.shape)]

    def kernel(self, g, x, *dims):
        bounds = runtime_shape(self.template, dims)
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

    def grad(self, inputs, outputs, output_grads):
        g, x, *dims = inputs
        if not is_float(g.dtype):
            return [None] * len(inputs)
        return [StridedSlice(self.axes, self.template, self.steps)(output_grads[0], *dims), None] + \
            [None] * len(dims)


def strided_slice(x, axes, starts, stops, steps, constant_lengths=False):
    """x sliced along `axes` from `starts` to `stops` by `steps` (bounds: ints or int scalars).
    constant_lengths: where stop - start is a constant (both bounds the same sum of symbolic
    terms plus ints), that slice's length is static and checked when the function runs."""
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
    lengths = ()
    if constant_lengths:
        lengths = tuple(_constant_length(b, e, int(s)) for b, e, s in zip(starts, stops, steps))
        lengths = lengths if any(n is not None for n in lengths) else ()
    return StridedSlice(tuple(int(a) for a in axes), tuple(template),
                        tuple(int(s) for s in steps), lengths)(x, *dynamic)


def _constant_length(start, stop, step):
    """len(range(start, stop, step)) when stop - start is a known constant and a bound is
    symbolic (two int bounds need no help), else None."""
    if not (isinstance(start, Variable) or isinstance(stop, Variable)):
        return None
    a, b = _linear(start), _linear(stop)
    if a is None or b is None:
        return None
    (ta, ca), (tb, cb) = a, b
    if {k: v for k, v in ta.items() if v} != {k: v for k, v in tb.items() if v}:
        return None
    return len(range(0, cb - ca, step))


def _linear(v, depth=8):
    """An int scalar as ({term: coefficient}, constant) over the adds, subtracts, negations
    and multiplications by constants that built it (None past `depth` levels)."""
    if not isinstance(v, Variable):
        return {}, int(v)
    if isinstance(v, Constant):
        return ({}, int(v.value)) if v.ndim == 0 else None
    node = v.owner
    op = node.op.name if node is not None else None
    if depth and op in ("add", "subtract", "multiply", "negative"):
        parts = [_linear(i, depth - 1) for i in node.inputs]
        if all(p is not None for p in parts):
            if op == "negative":
                (t, c), = parts
                return {k: -m for k, m in t.items()}, -c
            (ta, ca), (tb, cb) = parts
            if op in ("add", "subtract"):
                sign = 1 if op == "add" else -1
                terms = dict(ta)
                for k, m in tb.items():
                    terms[k] = terms.get(k, 0) + sign * m
                return terms, ca + sign * cb
            if not ta or not tb:   # a constant factor
                (t, c), k = ((ta, ca), cb) if not tb else ((tb, cb), ca)
                return {key: m * k for key, m in t.items()}, c * k
    return {v: 1}, 0


def _slice_mesh(template, axes, steps, shape, dims, device):
    """Open-mesh index tensors selecting the slice of a tensor of `shape`."""
    bounds = runtime_shape(template, dims)
    n = len(axes)
    picks = {}
    for a, b, e, s in zip(axes, bounds[:n], bounds[n:], steps):
        r = _index(shape[a], b, e, s)
        picks[a] = torch.arange(r.start, r.stop, r.step, device=device, dtype=torch.long) if len(r) else \
            torch.zeros(0, dtype=torch.long, device=device)
    mesh = []
    for a in range(len(shape)):
        view = [1] * len(shape)
        view[a] = -1
        mesh.append(picks.get(a, torch.arange(shape[a], device=device)).reshape(view))
    return tuple(mesh)


@dataclass(frozen=True)
class SetStridedSlice(Op):
    """x with its strided slice replaced by v (broadcast to the slice's shape): the write
    half of `set_subtensor` / `inc_subtensor` on slices with symbolic bounds."""
    axes: tuple = ()
    template: tuple = ()
    steps: tuple = ()
    lengths: tuple = ()
    name: ClassVar[str] = "set_strided_slice"

    def _slice(self):
        return StridedSlice(self.axes, self.template, self.steps, self.lengths)

    def infer(self, x, v, *dims):
        (part,) = self._slice().infer(x, *dims)
        if v.ndim > len(part.shape) or any(a is not None and b is not None and a != 1 and a != b
                                     for a, b in zip(v.type.shape[::-1], part.shape[::-1])):
            raise ShapeError(f"cannot write a value of shape {format_shape(v.type.shape)} into a slice "
                             f"of shape {format_shape(part.shape)}")
        return [x.type]

    def kernel(self, x, v, *dims):
        out = x.clone()
        mesh = _slice_mesh(self.template, self.axes, self.steps, x.shape, dims, x.device)
        out.index_put_(mesh, v.to(x.dtype))
        return out

    def grad(self, inputs, outputs, output_grads):
        (x, v, *dims), (g,) = inputs, output_grads
        if not is_float(x.dtype):
            return [None] * len(inputs)
        zero = constant(np.zeros((), dtype=g.dtype))
        gx = SetStridedSlice(self.axes, self.template, self.steps, self.lengths)(g, zero, *dims)
        gv = sum_to_like(self._slice()(g, *dims), v) if is_float(v.dtype) else None
        return [gx, gv] + [None] * len(dims)
