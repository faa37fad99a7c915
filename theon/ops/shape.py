"""Shape ops: reshape, transpose, expand/squeeze, broadcast, join/split, flip/roll/tile/repeat, pad.

NumPy names and semantics. Ops whose output may share the input's storage set `view`.
Gradient helpers that must give back an input's exact static type (dims may be None)
take that input as a `like` operand and read its runtime shape from it.
"""
from __future__ import annotations

import builtins
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..errors import ShapeError
from ..graph import TensorType, Variable, format_shape
from .axes import axes_arg, axis_arg, broadcast_shapes, check_axes
from .base import Op, as_variable, user_errors
from .broadcast import broadcast_to
from .constructors import zeros_like
from .dims import ShapeOf, dim, resolve_shape, runtime_shape, split_shape
from .elementwise import equal, unify, where


def _shape_text(template) -> str:
    return format_shape(tuple(template))


# ---- reshape ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reshape(Op):
    """`x` reshaped; `shape` holds ints, -1 (inferred) and None (a symbolic dim input)."""
    shape: tuple = ()
    name: ClassVar[str] = "reshape"
    view: ClassVar[bool] = True

    def infer(self, x, *dims):
        out = list(resolve_shape(self.shape, dims))
        xs = x.type.shape
        # dims that are x's own unknown dims (x.shape[i] passed back) cancel out
        cancelled, matched = set(), set()
        it = iter(dims)
        for pos, t in enumerate(self.shape):
            if t is None:
                d = next(it)
                a = _own_dim(d, x)
                if out[pos] is None and a is not None and a not in matched and xs[a] is None:
                    matched.add(a)
                    cancelled.add(pos)
        x_rest = [d for i, d in enumerate(xs) if i not in matched]
        o_rest = [d for i, d in enumerate(out) if i not in cancelled and d != -1]
        text = f"cannot reshape a tensor of shape {format_shape(xs)} into shape {_shape_text(out)}"
        if -1 in out:
            if None not in o_rest and math.prod(o_rest) == 0:
                raise ShapeError(text + " (-1 is ambiguous next to a zero dim)")
            if None not in x_rest and None not in o_rest:
                total, rest = math.prod(x_rest), math.prod(o_rest)
                if total % rest:
                    raise ShapeError(f"{text}: {total} elements do not divide into rows of {rest}")
                out[out.index(-1)] = total // rest
            else:
                out[out.index(-1)] = None
        elif None not in o_rest:
            known = math.prod(d for d in x_rest if d is not None)
            total = math.prod(o_rest)
            if None not in x_rest and known != total:
                raise ShapeError(f"{text}: {known} elements vs {total}")
            if known and total % known:  # x's size is a multiple of its known dims
                raise ShapeError(f"{text}: {total} is not a multiple of {known}")
        return [x.type.with_shape(out)]

    def kernel(self, x, *dims):
        return x.reshape(runtime_shape(self.shape, dims) if dims else self.shape)

    def grad(self, inputs, outputs, output_grads):
        return [reshape_like(output_grads[0], inputs[0])] + [None] * (len(inputs) - 1)


def _own_dim(d, x):
    """The axis `a` when `d` is `x.shape[a]` (a ShapeOf node on x), else None."""
    owner = d.owner
    if owner is not None and isinstance(owner.op, ShapeOf) and owner.inputs[0] is x:
        return owner.op.axis
    return None


@dataclass(frozen=True)
class ReshapeLike(Op):
    """`x` reshaped to the shape of `like` (gradients restore an input's exact type)."""
    name: ClassVar[str] = "reshape_like"
    view: ClassVar[bool] = True

    def infer(self, x, like):
        xs, ls = x.type.shape, like.type.shape
        if None not in xs and None not in ls and math.prod(xs) != math.prod(ls):
            raise ShapeError(f"cannot reshape {format_shape(xs)} into {format_shape(ls)}")
        return [x.type.with_shape(ls)]

    def kernel(self, x, like):
        return x.reshape(like.shape)

    def grad(self, inputs, outputs, output_grads):
        return [reshape_like(output_grads[0], inputs[0]), None]


def reshape_like(x, like):
    x, like = as_variable(x), as_variable(like)
    if x.type.shape == like.type.shape and like.type.is_concrete:
        return x
    return ReshapeLike()(x, like)


def reshape(x, shape, order="C"):
    """NumPy's reshape: one dim may be -1; dims may be symbolic scalars (`x.shape[0]`)."""
    if order != "C":
        raise ValueError(f"reshape: only order='C' is supported, got {order!r}")
    x = as_variable(x)
    if isinstance(shape, (int, np.integer, Variable)):
        shape = (shape,)
    shape = list(shape)
    neg = [i for i, d in enumerate(shape) if not isinstance(d, Variable) and int(d) < 0]
    if len(neg) > 1 or (neg and int(shape[neg[0]]) != -1):
        raise ValueError(f"reshape: at most one dim may be -1, got {tuple(shape)}")
    for i in neg:
        shape[i] = 1
    template, dynamic = split_shape(shape)
    template = tuple(-1 if i in neg else t for i, t in enumerate(template))
    y = Reshape(template)(x, *dynamic)
    if y.type.is_concrete:
        if y.type.shape == x.type.shape:
            return x
        if y.type.shape != template:  # one node for equal shapes however they were spelled
            y = Reshape(y.type.shape)(x)
    return y


def ravel(x):
    """`x` as one dimension (a view where possible)."""
    return reshape(x, (-1,))


flatten = ravel


# ---- axes permutation and size-1 dims ---------------------------------------------------------

@dataclass(frozen=True)
class Transpose(Op):
    axes: tuple = ()
    name: ClassVar[str] = "transpose"
    view: ClassVar[bool] = True

    def infer(self, x):
        check_axes(set(self.axes), x.type.shape)  # range only: repeats are reported below
        if sorted(self.axes) != list(range(x.ndim)):
            raise ShapeError(f"axes {self.axes} are not a permutation of the axes of a tensor of "
                             f"shape {format_shape(x.type.shape)}")
        return [x.type.with_shape(x.type.shape[a] for a in self.axes)]

    def kernel(self, x):
        return x.permute(self.axes)

    def grad(self, inputs, outputs, output_grads):
        return [transpose(output_grads[0], tuple(np.argsort(self.axes).tolist()))]


def transpose(x, axes=None):
    """Permute the axes (reverse them when `axes` is None)."""
    x = as_variable(x)
    if axes is None:
        axes = tuple(range(x.ndim))[::-1]
    axes = tuple(axis_arg(a, x.ndim) for a in axes)
    if axes == tuple(range(x.ndim)):
        return x
    return Transpose(axes)(x)


def swapaxes(x, axis1, axis2):
    x = as_variable(x)
    perm = list(range(x.ndim))
    a, b = axis_arg(axis1, x.ndim), axis_arg(axis2, x.ndim)
    if not (0 <= a < x.ndim and 0 <= b < x.ndim):
        return Transpose((a, b))(x)  # infer names the bad axis
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


def moveaxis(x, source, destination):
    """Move axes to new positions; the others keep their order (NumPy's moveaxis)."""
    x = as_variable(x)
    src, dst = _axis_list(source, x.ndim), _axis_list(destination, x.ndim)
    if not builtins.all(0 <= a < x.ndim for a in src + dst):
        return Transpose(tuple(src + dst))(x)  # infer names the bad axis
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number of axes")
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"moveaxis: repeated axis in {source} or {destination}")
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def _axis_list(axis, ndim: int) -> list:
    if isinstance(axis, (int, np.integer)):
        return [axis_arg(axis, ndim)]
    return [axis_arg(a, ndim) for a in axis]


@dataclass(frozen=True)
class ExpandDims(Op):
    axes: tuple = ()  # positions in the output, sorted
    name: ClassVar[str] = "expand_dims"
    view: ClassVar[bool] = True

    def infer(self, x):
        check_axes(self.axes, x.type.shape, x.ndim + len(self.axes))
        shape = list(x.type.shape)
        for a in self.axes:
            shape.insert(a, 1)
        return [x.type.with_shape(shape)]

    def kernel(self, x):
        for a in self.axes:
            x = x.unsqueeze(a)
        return x

    def grad(self, inputs, outputs, output_grads):
        return [Squeeze(self.axes)(output_grads[0])]


def expand_dims(x, axis):
    x = as_variable(x)
    n = 1 if isinstance(axis, (int, np.integer)) else len(tuple(axis))
    axes = axes_arg(axis, x.ndim + n)
    return ExpandDims(axes)(x) if axes else x


@dataclass(frozen=True)
class Squeeze(Op):
    axes: tuple = ()
    name: ClassVar[str] = "squeeze"
    view: ClassVar[bool] = True

    def infer(self, x):
        if self.axes is None:
            raise ShapeError(f"which axes of shape {format_shape(x.type.shape)} have size 1 is "
                             "not known until the call; pass axis=")
        check_axes(self.axes, x.type.shape)
        bad = [a for a in self.axes if x.type.shape[a] not in (1, None)]
        if bad:
            raise ShapeError(f"cannot squeeze axis {bad[0]} of a tensor of shape "
                             f"{format_shape(x.type.shape)}: its size is not 1")
        return [x.type.with_shape(d for i, d in enumerate(x.type.shape) if i not in self.axes)]

    def kernel(self, x):
        for a in self.axes:
            if x.shape[a] != 1:
                raise ShapeError(f"squeeze: axis {a} of shape {tuple(x.shape)} is not 1")
        return x.squeeze(self.axes) if self.axes else x

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        if any(x.type.shape[a] is None for a in self.axes):
            return [reshape_like(g, x)]  # keeps x's unknown dims unknown
        return [ExpandDims(self.axes)(g)]


def squeeze(x, axis=None):
    """Drop size-1 axes (all of them when axis is None; that needs them known)."""
    x = as_variable(x)
    if axis is None:
        if None in x.type.shape:
            return Squeeze(None)(x)  # infer explains
        axes = tuple(i for i, d in enumerate(x.type.shape) if d == 1)
    else:
        axes = axes_arg(axis, x.ndim)
    return Squeeze(axes)(x) if axes else x


# ---- joining and splitting -------------------------------------------------------------------

def _merge_dims(xs, skip):
    """Each axis's common size across inputs (None when unknown), skipping axis `skip`."""
    out = []
    for a in range(xs[0].ndim):
        known = {x.type.shape[a] for x in xs} - {None}
        if a != skip and len(known) > 1:
            raise ShapeError(f"input shapes {', '.join(format_shape(x.type.shape) for x in xs)} "
                             f"differ along axis {a}")
        out.append(known.pop() if len(known) == 1 else None)
    return out


def _check_join(xs, rank0_ok):
    if len({x.ndim for x in xs}) > 1:
        raise ShapeError(f"inputs have different ranks: {', '.join(format_shape(x.type.shape) for x in xs)}")
    if xs[0].ndim == 0 and not rank0_ok:
        raise ShapeError("zero-dimensional tensors cannot be concatenated")


@dataclass(frozen=True)
class Concatenate(Op):
    axis: int = 0
    name: ClassVar[str] = "concatenate"
    supports_out: ClassVar[bool] = True

    def infer(self, *xs):
        _check_join(xs, False)
        check_axes((self.axis,), xs[0].type.shape)
        out = _merge_dims(xs, self.axis)
        sizes = [x.type.shape[self.axis] for x in xs]
        out[self.axis] = None if None in sizes else builtins.sum(sizes)
        return [TensorType(xs[0].dtype, out)]

    def kernel(self, *xs, out=None):
        return torch.cat(xs, self.axis) if out is None else torch.cat(xs, self.axis, out=out)

    def grad(self, inputs, outputs, output_grads):
        return [Piece(self.axis, i, False)(output_grads[0], *inputs) for i in range(len(inputs))]


@dataclass(frozen=True)
class Stack(Op):
    axis: int = 0
    name: ClassVar[str] = "stack"
    supports_out: ClassVar[bool] = True

    def infer(self, *xs):
        _check_join(xs, True)
        check_axes((self.axis,), xs[0].type.shape, xs[0].ndim + 1)
        out = _merge_dims(xs, -1)
        out.insert(self.axis, len(xs))
        return [TensorType(xs[0].dtype, out)]

    def kernel(self, *xs, out=None):
        return torch.stack(xs, self.axis) if out is None else torch.stack(xs, self.axis, out=out)

    def grad(self, inputs, outputs, output_grads):
        return [Piece(self.axis, i, True)(output_grads[0], *inputs) for i in range(len(inputs))]


@dataclass(frozen=True)
class Piece(Op):
    """Input `index`'s part of a concatenated (or stacked) gradient `g`; the other inputs
    give the offsets at run time and the exact type."""
    axis: int = 0
    index: int = 0
    stacked: bool = False
    name: ClassVar[str] = "join_piece"
    view: ClassVar[bool] = True

    def infer(self, g, *xs):
        return [xs[self.index].type.with_dtype(g.dtype)]

    def kernel(self, g, *xs):
        if self.stacked:
            return g.select(self.axis, self.index)
        start = builtins.sum(xs[j].shape[self.axis] for j in range(self.index))
        return g.narrow(self.axis, start, xs[self.index].shape[self.axis])

    def grad(self, inputs, outputs, output_grads):
        (g, *xs), (gg,) = inputs, output_grads
        parts = [gg if j == self.index else zeros_like(x, dtype=gg.dtype) for j, x in enumerate(xs)]
        join = Stack(self.axis) if self.stacked else Concatenate(self.axis)
        return [join(*parts)] + [None] * len(xs)


def concatenate(arrays, axis=0):
    """Join tensors along an existing axis (flattened first when axis is None)."""
    xs = unify(*arrays) if len(arrays) else []
    if axis is None:
        xs, axis = [ravel(x) for x in xs], 0
    if not xs:
        raise ValueError("concatenate needs at least one tensor")
    return Concatenate(axis_arg(axis, builtins.max(xs[0].ndim, 1)))(*xs)


def stack(arrays, axis=0):
    """Join tensors of one shape along a new axis."""
    xs = unify(*arrays) if len(arrays) else []
    if not xs:
        raise ValueError("stack needs at least one tensor")
    return Stack(axis_arg(axis, xs[0].ndim + 1))(*xs)


@dataclass(frozen=True)
class Split(Op):
    """`x` cut along `axis` into `sections` equal parts, or at `indices` (NumPy's split)."""
    axis: int = 0
    nout: int = 1
    sections: int = 0
    indices: tuple = ()
    name: ClassVar[str] = "split"
    view: ClassVar[bool] = True

    def bounds(self, n: int) -> list:
        if self.sections:
            if n % self.sections:
                raise ShapeError(f"a dim of size {n} does not divide into {self.sections} "
                                 "equal sections")
            size = n // self.sections
            return [(i * size, (i + 1) * size) for i in range(self.sections)]
        cuts = [0, *self.indices, n]
        out = []
        for a, b in zip(cuts, cuts[1:]):
            start, stop, _ = slice(a, b).indices(n)
            out.append((start, builtins.max(start, stop)))
        return out

    def infer(self, x):
        check_axes((self.axis,), x.type.shape)
        n = x.type.shape[self.axis]
        try:
            lengths = [b - a for a, b in self.bounds(n)] if n is not None else [None] * self.nout
        except ShapeError as e:
            raise ShapeError(f"{e.args[0]} (shape {format_shape(x.type.shape)}, axis {self.axis})") from None
        shape = list(x.type.shape)
        return [x.type.with_shape(shape[:self.axis] + [d] + shape[self.axis + 1:]) for d in lengths]

    def kernel(self, x):
        pieces = tuple(x.narrow(self.axis, a, b - a) for a, b in self.bounds(x.shape[self.axis]))
        return pieces if self.nout > 1 else pieces[0]

    def grad(self, inputs, outputs, output_grads):
        return [SplitGrad(self.axis, self.sections, self.indices)(inputs[0], *output_grads)]


@dataclass(frozen=True)
class SplitGrad(Op):
    """The pieces' gradients put back in place in a tensor shaped like `x` (zeros elsewhere)."""
    axis: int = 0
    sections: int = 0
    indices: tuple = ()
    name: ClassVar[str] = "split_grad"

    def _split(self, nout):
        return Split(axis=self.axis, nout=nout, sections=self.sections, indices=self.indices)

    def infer(self, x, *gs):
        return [x.type.with_dtype(gs[0].dtype)]

    def kernel(self, x, *gs):
        bounds = self._split(len(gs)).bounds(x.shape[self.axis])
        if all(a == b for (_, a), (b, _) in zip(bounds, bounds[1:])) and bounds[0][0] == 0 \
                and bounds[-1][1] == x.shape[self.axis]:
            return torch.cat(gs, self.axis)  # the pieces tile x exactly
        out = torch.zeros(x.shape, dtype=gs[0].dtype, device=gs[0].device)
        for (a, b), g in zip(bounds, gs):
            out.narrow(self.axis, a, b - a).add_(g)
        return out

    def grad(self, inputs, outputs, output_grads):
        (x, *gs), (gg,) = inputs, output_grads
        return [None, *self._split(len(gs)).make_node(gg).outputs]


def split(x, indices_or_sections, axis=0):
    """A list of views of `x` cut along `axis` (NumPy's split)."""
    x = as_variable(x)
    axis = axis_arg(axis, x.ndim)
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"split: number of sections must be positive, got {sections}")
        op = Split(axis=axis, nout=sections, sections=sections)
    else:
        indices = tuple(int(i) for i in indices_or_sections)
        op = Split(axis=axis, nout=len(indices) + 1, indices=indices)
    return list(op.make_node(x).outputs)


@user_errors
def unstack(x, axis=0):
    """The slices of `x` along `axis`, as a tuple (the Array API's unstack; the inverse of
    stack). The axis's length must be known when building: it is the number of results."""
    x = as_variable(x)
    if x.ndim == 0:
        raise ShapeError("unstack needs a tensor with at least one dimension, got a 0-d tensor")
    axis = axis_arg(axis, x.ndim)
    n = x.type.shape[axis]
    if n is None:
        raise ShapeError(f"unstack: the length of axis {axis} of shape {format_shape(x.type.shape)} "
                         "is known only when the function runs; it must be known when building "
                         "(it is the number of results)")
    if n == 0:
        return ()
    pieces = Split(axis=axis, nout=n, sections=n).make_node(x).outputs
    return tuple(squeeze(p, axis) for p in pieces)


@user_errors
def broadcast_arrays(*arrays):
    """numpy.broadcast_arrays: the tensors broadcast to their common shape (views), as a
    tuple. A dim unknown when building is read when the function runs: the first of the
    tensors' sizes there that is not 1."""
    xs = [as_variable(a) for a in arrays]
    shape = list(broadcast_shapes(*(x.type.shape for x in xs)))
    ndim = len(shape)
    for axis, d in enumerate(shape):
        if d is None:
            sizes = [dim(x, x.ndim - ndim + axis) for x in xs
                     if x.ndim - ndim + axis >= 0 and x.type.shape[x.ndim - ndim + axis] != 1]
            d = sizes[0]
            for other in sizes[1:]:
                d = where(equal(d, 1), other, d)
            shape[axis] = d
    return tuple(broadcast_to(x, tuple(shape)) for x in xs)


__all__ = [
    "broadcast_arrays", "reshape", "ravel", "flatten", "transpose", "swapaxes", "moveaxis", "expand_dims", "squeeze",
    "concatenate", "stack", "split", "unstack", "reshape_like",
    "Reshape", "ReshapeLike", "Transpose", "ExpandDims", "Squeeze",
    "Concatenate", "Stack", "Piece", "Split", "SplitGrad",
]
