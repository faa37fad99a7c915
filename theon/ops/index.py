"""Indexing: `x[...]` with NumPy's basic and advanced rules, take, take_along_axis,
index_add and one_hot.

A key is parsed once, when the graph is built, into a canonical tuple of entries that
covers every axis of x, so `x[0]`, `x[0, ...]` and `x[0, :]` are one node:
    ("int", i)                      an integer (drops the axis)
    ("slice", start, stop, step)    a slice with Python-int bounds
    ("dslice", start, stop, step)   a slice whose start or stop is a symbolic int scalar
    ("none",)                       a new axis of size 1
    ("adv", k)                      integer index array k (an input of the node)
Basic keys (no arrays) give a view; their gradient writes the output gradient into
zeros of x's shape. Keys with arrays follow NumPy's placement rule and their gradient
is a scatter-add. Slices with symbolic bounds (`x[i*bs:(i+1)*bs]`) are taken first by
StridedSlice, then the rest of the key as usual. Constant boolean masks become integer arrays (np.nonzero) at build
time; a symbolic mask would give a data-dependent shape and is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
import weakref
from functools import cached_property
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..backend.interop import to_numpy, torch_dtype
from ..errors import DTypeError, InputError, ShapeError, TensorIndexError
from ..graph import (
    Constant,
    TensorType,
    Variable,
    canonical_dtype,
    constant,
    format_shape,
    is_float,
    is_int,
    shapes_agree,
)
from .axes import broadcast_shapes, normalize_axis
from .base import Op, as_variable, user_errors
from .broadcast import sum_to_like, sum_to_shape
from .elementwise import cast, unify
from .slicing import _BIG, SetStridedSlice, strided_slice

FULL = ("slice", None, None, None)


# ---- parsing a key -----------------------------------------------------------------------

def _index_array(value):
    """An index given as a list, array or tensor: ('mask', ndarray) or ('adv', int Variable)."""
    if type(value).__module__ == "torch":
        value = to_numpy(value)
    if isinstance(value, Variable):
        if value.dtype == "bool":
            if isinstance(value, Constant):
                return "mask", value.value
            raise DTypeError(
                "indexing with a symbolic boolean mask gives a shape known only from the data; "
                "use th.where(mask, x, 0) to keep the shape, or index with a constant mask")
        if not is_int(value.dtype):
            raise DTypeError(f"index arrays must be integers or booleans, got {value.dtype}")
        return "adv", value
    arr = np.asarray(value)
    if arr.dtype == bool:
        return "mask", arr
    if arr.size == 0 and arr.dtype.kind == "f":
        arr = arr.astype(np.int64)   # x[[]] selects nothing, as in NumPy
    if arr.dtype.kind not in "iu":
        raise DTypeError(f"index arrays must be integers or booleans, got {arr.dtype} ({value!r})")
    return "adv", constant(arr.astype(np.int64))


def _slice_bound(b):
    """A slice bound: None, a Python int, or a symbolic int scalar (constants become ints)."""
    if b is None:
        return None
    if isinstance(b, Variable):
        if isinstance(b, Constant) and b.ndim == 0 and is_int(b.dtype):
            return int(b.value)
        if b.ndim != 0 or not is_int(b.dtype):
            raise InputError(f"a symbolic slice bound must be an integer scalar, got {b.type}")
        return b
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)):
        raise InputError(f"slice bounds must be Python ints, None or integer scalars, got {b!r}")
    return int(b)


def _slice_entry(s: slice) -> tuple:
    start, stop = _slice_bound(s.start), _slice_bound(s.stop)
    step = _slice_bound(s.step)
    if isinstance(step, Variable):
        raise InputError("a slice step must be a Python int (the direction and stride decide the "
                        "kernel); symbolic start and stop are fine")
    if step == 0:
        raise ValueError("slice step cannot be zero")
    kind = "dslice" if isinstance(start, Variable) or isinstance(stop, Variable) else "slice"
    return (kind, start, stop, step)


def parse_key(x: Variable, key):
    """(entries, arrays, adjacent): canonical entries over all of x's axes, the index
    arrays they refer to, and whether the advanced indices sit together (NumPy then
    puts their dims where they are, otherwise first)."""
    items = key if isinstance(key, tuple) else (key,)
    raw, arrays = [], []     # raw: entries plus "..." markers, masks already expanded
    masks = []               # (number of its first array, shape) of each boolean mask
    for item in items:
        if item is None:
            raw.append(("none",))
        elif item is Ellipsis:
            if "..." in raw:
                raise IndexError("an index can only have a single ellipsis ('...')")
            raw.append("...")
        elif isinstance(item, (bool, np.bool_)):  # getitem and updates take these first
            raise TypeError("a boolean scalar index cannot be combined with this key")
        elif isinstance(item, (int, np.integer)):
            raw.append(("int", int(item)))
        elif isinstance(item, slice):
            raw.append(_slice_entry(item))
        elif isinstance(item, (Variable, np.ndarray, list, tuple)) or type(item).__module__ == "torch":
            kind, value = _index_array(item)
            if kind == "mask":
                if value.ndim == 0:
                    raise TypeError("a boolean scalar index cannot be combined with this key")
                masks.append((len(arrays), value.shape))
                for nz in np.nonzero(value):
                    raw.append(("adv", len(arrays)))
                    arrays.append(constant(nz.astype(np.int64)))
            else:
                raw.append(("adv", len(arrays)))
                arrays.append(value)
        else:
            raise TypeError(f"cannot index a tensor with {type(item).__name__} {item!r}; use ints, "
                            "slices, None, ..., or integer/boolean arrays")
    used = sum(1 for e in raw if e != "..." and e[0] != "none")
    if used > x.ndim:
        raise TensorIndexError(f"too many indices: the tensor has shape {format_shape(x.type.shape)} "
                         f"({x.ndim}-D) but {used} were given")
    advanced = [k for k, e in enumerate(raw) if e != "..." and (e[0] == "adv" or arrays and e[0] == "int")]
    adjacent = not advanced or all(
        raw[k] != "..." and raw[k][0] in ("adv", "int") for k in range(advanced[0], advanced[-1] + 1))
    fill = [FULL] * (x.ndim - used)
    if "..." in raw:
        k = raw.index("...")
        raw[k:k + 1] = fill
    else:
        raw.extend(fill)
    for first, mshape in masks:
        k = raw.index(("adv", first))
        axis = sum(1 for e in raw[:k] if e[0] != "none")
        dims = x.type.shape[axis:axis + len(mshape)]
        if any(d is not None and d != m for d, m in zip(dims, mshape)):
            raise ShapeError(f"boolean index of shape {format_shape(mshape)} does not match the "
                             f"indexed dims {format_shape(dims)} of shape {format_shape(x.type.shape)}")
    return tuple(raw), arrays, adjacent


# ---- shapes --------------------------------------------------------------------------------

def _slice_len(e: tuple, d):
    _, start, stop, step = e
    if d is not None:
        return len(range(*slice(start, stop, step).indices(d)))
    if start is None and stop is None and step in (None, 1, -1):
        return None if d is None else d
    return None


def _check_int(i: int, d, axis: int, shape):
    if d is not None and not -d <= i < d:
        raise TensorIndexError(f"index {i} is out of bounds for axis {axis} with size {d} "
                         f"(shape {format_shape(shape)})")


def _pieces(entries, shape, arrays=None):
    """Per entry: a tuple of output dims (basic entries) or "adv" (advanced entries)."""
    out, axis = [], 0
    for e in entries:
        kind = e[0]
        if kind == "none":
            out.append((1,))
            continue
        d = shape[axis]
        if kind == "slice":
            out.append((_slice_len(e, d),))
        elif kind == "int":
            _check_int(e[1], d, axis, shape)
            out.append("adv" if arrays is not None else ())
        else:
            idx = arrays[e[1]]
            if isinstance(idx, Constant) and idx.value.size and d is not None:
                lo, hi = int(idx.value.min()), int(idx.value.max())
                _check_int(lo if lo < -d else hi, d, axis, shape)
            out.append("adv")
        axis += 1
    return out


# ---- running a key with torch ------------------------------------------------------------

def _plan(entries, shape):
    """(flips, key, adv): axes of x to flip first (negative steps), the torch basic key
    (advanced entries kept as full slices), and the advanced entries' positions in the
    result of that key with their entries."""
    flips, key, adv, axis, pos = [], [], [], 0, 0
    for e in entries:
        kind = e[0]
        if kind == "none":
            key.append(None)
            pos += 1
            continue
        if kind == "slice":
            _, start, stop, step = e
            if step is not None and step < 0:
                # x[a:b:-s] is flip(x)[n-1-a : n-1-b : s]
                n = shape[axis]
                r = range(*slice(start, stop, step).indices(n))
                flips.append(axis)
                key.append(slice(n - 1 - r[0], n - r[-1], -step) if len(r) else slice(0, 0))
            else:
                key.append(slice(start, stop, step))
            pos += 1
        elif kind == "int" and all(f[0] != "adv" for f in entries):
            key.append(e[1])
        else:
            key.append(slice(None))
            adv.append((pos, e))
            pos += 1
        axis += 1
    return flips, tuple(key), adv


def _index_tensors(adv, arrays, device):
    ts = [torch.tensor(e[1], device=device) if e[0] == "int" else arrays[e[1]].long() for _, e in adv]
    return torch.broadcast_tensors(*ts)


# ---- basic indexing ------------------------------------------------------------------------

@dataclass(frozen=True)
class Subtensor(Op):
    """x[key] for keys of ints, slices and new axes: a view (a copy where steps are negative)."""
    entries: tuple = ()
    name: ClassVar[str] = "getitem"
    view: ClassVar[bool] = True

    def infer(self, x):
        dims = [d for p in _pieces(self.entries, x.type.shape) for d in p]
        return [x.type.with_shape(dims)]

    @cached_property
    def _static_key(self):
        if any(e[0] == "slice" and e[3] is not None and e[3] < 0 for e in self.entries):
            return None
        return _plan(self.entries, None)[1]

    def _key(self, x):
        key = self._static_key
        if key is not None:
            return [], key
        flips, key, _ = _plan(self.entries, x.shape)
        return flips, key

    def kernel(self, x):
        flips, key = self._key(x)
        return (x.flip(flips) if flips else x)[key]

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        if not is_float(x.dtype):
            return [None]
        return [SubtensorGrad(self.entries)(g, x)]


@dataclass(frozen=True)
class SubtensorGrad(Op):
    """Zeros of x's shape with g written at x[key]: the gradient of a basic index."""
    entries: tuple = ()
    name: ClassVar[str] = "getitem_grad"

    def infer(self, g, x):
        return [x.type.with_dtype(g.dtype)]

    def kernel(self, g, x):
        flips, key = Subtensor(self.entries)._key(x)
        z = torch.zeros(x.shape, dtype=g.dtype, device=g.device)
        z[key] = g
        return z.flip(flips) if flips else z

    def grad(self, inputs, outputs, output_grads):
        return [Subtensor(self.entries)(output_grads[0]), None]


# ---- advanced indexing --------------------------------------------------------------------

@dataclass(frozen=True)
class AdvancedSubtensor(Op):
    """x[key] where the key holds integer index arrays (inputs 1...), NumPy's rules."""
    entries: tuple = ()
    adjacent: bool = True
    name: ClassVar[str] = "getitem_advanced"

    def infer(self, x, *arrays):
        for a in arrays:
            if not is_int(a.dtype):
                raise DTypeError(f"index arrays must be integers, got {a.dtype}")
        try:
            bshape = broadcast_shapes(*[a.type.shape for a in arrays])
        except ShapeError:
            raise ShapeError("index arrays of shapes " + " and ".join(format_shape(a.type.shape) for a in arrays)
                             + " cannot be broadcast together") from None
        pieces = _pieces(self.entries, x.type.shape, arrays)
        return [x.type.with_shape(self._place(pieces, bshape))]

    def _place(self, pieces, bshape):
        basic = [d for p in pieces if p != "adv" for d in p]
        if not self.adjacent:
            return tuple(bshape) + tuple(basic)
        first = pieces.index("adv")
        before = [d for p in pieces[:first] for d in p]
        return tuple(before) + tuple(bshape) + tuple(basic[len(before):])

    def kernel(self, x, *arrays):
        flips, key, adv = _plan(self.entries, x.shape)
        y = (x.flip(flips) if flips else x)[key]
        idx = _index_tensors(adv, arrays, x.device)
        positions = [p for p, _ in adv]
        y = y.movedim(positions, list(range(len(positions))))[idx]
        nb = idx[0].ndim
        if self.adjacent and positions[0] and nb:
            y = y.movedim(list(range(nb)), list(range(positions[0], positions[0] + nb)))
        return y

    def grad(self, inputs, outputs, output_grads):
        x, arrays, (g,) = inputs[0], inputs[1:], output_grads
        if not is_float(x.dtype):
            return [None] * len(inputs)
        return [AdvancedSubtensorGrad(self.entries, self.adjacent)(g, x, *arrays)] + [None] * len(arrays)


@dataclass(frozen=True)
class AdvancedSubtensorGrad(Op):
    """Zeros of x's shape with g added at x[key] (repeated indices accumulate)."""
    entries: tuple = ()
    adjacent: bool = True
    name: ClassVar[str] = "getitem_advanced_grad"

    def infer(self, g, x, *arrays):
        return [x.type.with_dtype(g.dtype)]

    def kernel(self, g, x, *arrays):
        flips, key, adv = _plan(self.entries, x.shape)
        z = torch.zeros(x.shape, dtype=g.dtype, device=g.device)
        idx = _index_tensors(adv, arrays, g.device)
        positions = [p for p, _ in adv]
        nb = idx[0].ndim
        if self.adjacent and positions[0] and nb:
            g = g.movedim(list(range(positions[0], positions[0] + nb)), list(range(nb)))
        region = z[key].movedim(positions, list(range(len(positions))))
        region.index_put_(idx, g, accumulate=True)
        return z.flip(flips) if flips else z

    def grad(self, inputs, outputs, output_grads):
        arrays = inputs[2:]
        gg = AdvancedSubtensor(self.entries, self.adjacent)(output_grads[0], *arrays)
        return [gg, None] + [None] * len(arrays)


# the result of each x[key] -> (x, key), so that set_subtensor(x[key], v) updates x itself
# even where the key became two nodes (a slice with symbolic bounds, then the rest)
_INDEXED = weakref.WeakKeyDictionary()


def _split_dynamic(entries):
    """(axes, starts, stops, steps, rest): the slices with symbolic bounds as StridedSlice
    arguments (None bounds made explicit), and the key with those entries made full."""
    axes, starts, stops, steps, rest, axis = [], [], [], [], [], 0
    for e in entries:
        if e[0] == "dslice":
            _, start, stop, step = e
            step = 1 if step is None else step
            axes.append(axis)
            starts.append(start if start is not None else (0 if step > 0 else _BIG))
            stops.append(stop if stop is not None else (_BIG if step > 0 else -_BIG))
            steps.append(step)
            rest.append(FULL)
        else:
            rest.append(e)
        if e[0] != "none":
            axis += 1
    return axes, starts, stops, steps, tuple(rest)


def _index_entries(x, entries, arrays, adjacent):
    if not arrays:
        return x if all(e == FULL for e in entries) else Subtensor(entries)(x)
    return AdvancedSubtensor(entries, adjacent)(x, *arrays)


def _scalar_bool(item):
    """The value of a 0-d boolean index (True, np.True_, a 0-d bool array or constant); None
    for any other index."""
    if isinstance(item, (bool, np.bool_)):
        return bool(item)
    if isinstance(item, np.ndarray) and item.ndim == 0 and item.dtype == bool:
        return bool(item)
    if isinstance(item, Constant) and item.ndim == 0 and item.dtype == "bool":
        return bool(item.value)
    return None


def _bool_scalar_index(x, items, flags):
    """NumPy's 0-d boolean index: a new axis of length 1 (True) or 0 (False) where it stands
    (`x[True]` is `x[None]`, `x[False]` has shape (0, *x.shape))."""
    if any(f is None and not (item is None or item is Ellipsis or isinstance(item, (int, np.integer, slice)))
           for item, f in zip(items, flags)):
        raise TypeError("a boolean scalar index together with index arrays is not supported; "
                        "index in two steps (x[True] is x[None])")
    advanced = [k for k, (item, f) in enumerate(zip(items, flags))
                if f is not None or isinstance(item, (int, np.integer))]
    if sum(f is not None for f in flags) > 1 or any(
            not (flags[k] is not None or isinstance(items[k], (int, np.integer)))
            for k in range(advanced[0], advanced[-1] + 1)):
        # NumPy would merge these into one advanced index moved to the front
        raise TypeError("one boolean scalar index, with integer indices only next to it, is "
                        "supported; index in two steps (x[True] is x[None])")
    y = getitem(x, tuple(None if f is not None else item for item, f in zip(items, flags)))
    used = sum(1 for item, f in zip(items, flags)
               if f is None and item is not None and item is not Ellipsis)
    position, empty = 0, []
    for item, f in zip(items, flags):
        if f is not None:
            if not f:
                empty.append(position)
            position += 1
        elif item is Ellipsis:
            position += x.ndim - used
        elif item is None or isinstance(item, slice):
            position += 1
    for p in empty:
        y = getitem(y, (slice(None),) * p + (slice(0, 0),))
    _INDEXED[y] = (x, tuple(items))
    return y


@user_errors
def getitem(x, key):
    """`x[key]` with NumPy's indexing rules (ints, slices, None, ..., integer arrays,
    constant boolean masks). Slice starts and stops may be symbolic int scalars
    (`x[i*bs:(i+1)*bs]`); the length of such a slice is then known when the function runs."""
    x = as_variable(x)
    items = key if isinstance(key, tuple) else (key,)
    flags = [_scalar_bool(item) for item in items]
    if any(f is not None for f in flags):
        return _bool_scalar_index(x, items, flags)
    entries, arrays, adjacent = parse_key(x, key)
    base = x
    if any(e[0] == "dslice" for e in entries):
        axes, starts, stops, steps, entries = _split_dynamic(entries)
        x = strided_slice(x, axes, starts, stops, steps, constant_lengths=True)
    y = _index_entries(x, entries, arrays, adjacent)
    if y is not base:
        _INDEXED[y] = (base, key)
    return y


# ---- functional index updates: set_subtensor, inc_subtensor, x.at[key] ----------------------

@dataclass(frozen=True)
class IndexUpdate(Op):
    """x with x[key] replaced by v ("set") or v added to it ("inc"), v broadcast to x[key]'s
    shape; inputs x, v, then the key's index arrays. Repeated indices accumulate under "inc";
    under "set" one of the written values is kept, as in NumPy (which one is unspecified)."""
    entries: tuple = ()
    adjacent: bool = True
    mode: str = "set"
    name: ClassVar[str] = "index_update"

    def _getitem(self, x, arrays):
        return _index_entries(x, self.entries, arrays, self.adjacent)

    def infer(self, x, v, *arrays):
        if arrays:
            (part,) = AdvancedSubtensor(self.entries, self.adjacent).infer(x, *arrays)
        else:
            (part,) = Subtensor(self.entries).infer(x)
        if v.ndim > len(part.shape) or any(a is not None and b is not None and a != 1 and a != b
                                           for a, b in zip(v.type.shape[::-1], part.shape[::-1])):
            raise ShapeError(f"cannot {'write' if self.mode == 'set' else 'add'} a value of shape "
                             f"{format_shape(v.type.shape)} into x[key] of shape {format_shape(part.shape)} "
                             f"(x has shape {format_shape(x.type.shape)})")
        return [x.type]

    def kernel(self, x, v, *arrays):
        flips, key, adv = _plan(self.entries, x.shape)
        out = x.flip(flips) if flips else x.clone()
        region = out[key]
        v = v.to(out.dtype)
        if not adv:
            if self.mode == "set":
                region.copy_(v)
            else:
                region.add_(v)
        else:
            idx = _index_tensors(adv, arrays, x.device)
            positions = [p for p, _ in adv]
            moved = region.movedim(positions, list(range(len(positions))))
            rest, bshape, nb = list(moved.shape[len(positions):]), list(idx[0].shape), idx[0].ndim
            inside = self.adjacent and positions[0] and nb
            yshape = rest[:positions[0]] + bshape + rest[positions[0]:] if inside else bshape + rest
            v = v.expand(yshape)
            if inside:
                v = v.movedim(list(range(positions[0], positions[0] + nb)), list(range(nb)))
            moved.index_put_(idx, v, accumulate=self.mode == "inc")
        return out.flip(flips) if flips else out

    def grad(self, inputs, outputs, output_grads):
        (x, v, *arrays), (g,) = inputs, output_grads
        if not is_float(x.dtype):
            return [None] * len(inputs)
        if self.mode == "set":
            gx = IndexUpdate(self.entries, self.adjacent, "set")(g, constant(np.zeros((), g.dtype)), *arrays)
        else:
            gx = g
        gv = sum_to_like(self._getitem(g, arrays), v) if is_float(v.dtype) else None
        return [gx, gv] + [None] * len(arrays)


def _indexed(expr):
    """(base, key) of an expression made by x[key]."""
    if isinstance(expr, Variable) and expr in _INDEXED:
        return _INDEXED[expr]
    raise InputError("the first argument must be an indexing expression such as x[idx] (its base x and "
                    f"key are what get updated), got {'a ' + expr.owner.op.name + ' result' if isinstance(expr, Variable) and expr.owner else repr(expr)}"
                    "; x[:] is x itself: write v broadcast to x's shape instead")


def _update(x, key, v, mode):
    x = as_variable(x)
    v = as_variable(v)
    if v.dtype != x.dtype:
        v = cast(v, x.dtype)
    items = key if isinstance(key, tuple) else (key,)
    flags = [_scalar_bool(item) for item in items]
    if False in flags:
        return x       # x[False] selects nothing: nothing to write
    if True in flags:  # x[True] is x[None]
        key = tuple(None if f is not None else item for item, f in zip(items, flags))
    entries, arrays, adjacent = parse_key(x, key)
    if not any(e[0] == "dslice" for e in entries):
        return IndexUpdate(entries, adjacent, mode)(x, v, *arrays)
    # x[a:b, rest] = v is z = x[a:b]; z[rest] = v; x[a:b] = z (inc adds within z)
    axes, starts, stops, steps, rest = _split_dynamic(entries)
    z = strided_slice(x, axes, starts, stops, steps, constant_lengths=True)
    slicer = z.owner.op
    if mode == "set" and not arrays and all(e == FULL for e in rest):
        new_z = v
    else:
        new_z = IndexUpdate(rest, adjacent, mode)(z, v, *arrays)
    return SetStridedSlice(slicer.axes, slicer.template, slicer.steps, slicer.lengths)(x, new_z, *z.owner.inputs[1:])


@user_errors
def set_subtensor(indexed, value):
    """Theano's set_subtensor: for `indexed` made as x[key], a copy of x with x[key] = value
    (value broadcast to x[key]'s shape, cast to x's dtype). Differentiable in x and value."""
    x, key = _indexed(indexed)
    return _update(x, key, value, "set")


@user_errors
def inc_subtensor(indexed, value):
    """Theano's inc_subtensor: for `indexed` made as x[key], a copy of x with value added at
    x[key] (repeated array indices add repeatedly). Differentiable in x and value."""
    x, key = _indexed(indexed)
    return _update(x, key, value, "inc")


class IndexedUpdate:
    """`x.at[key]`: `.set(v)` and `.add(v)` give updated copies of x (JAX's spelling)."""

    __slots__ = ("_x", "_key")

    def __init__(self, x, key=None):
        self._x, self._key = x, key

    def __getitem__(self, key):
        return IndexedUpdate(self._x, key)

    @user_errors
    def set(self, value):
        return _update(self._x, self._key, value, "set")

    @user_errors
    def add(self, value):
        return _update(self._x, self._key, value, "inc")


# ---- take, take_along_axis --------------------------------------------------------------------

@dataclass(frozen=True)
class TakeFlat(Op):
    """x.ravel()[indices] (NumPy's take without an axis)."""
    name: ClassVar[str] = "take"

    def infer(self, x, idx):
        if not is_int(idx.dtype):
            raise DTypeError(f"indices must be integers, got {idx.dtype}")
        if isinstance(idx, Constant) and idx.value.size and x.type.is_concrete:
            size = int(np.prod(x.type.shape))
            lo, hi = int(idx.value.min()), int(idx.value.max())
            if lo < -size or hi >= size:
                raise TensorIndexError(f"index {lo if lo < -size else hi} is out of bounds for the "
                                       f"flattened tensor of size {size} (shape {format_shape(x.type.shape)})")
        return [x.type.with_shape(idx.type.shape)]

    def kernel(self, x, idx):
        return torch.take(x, idx.long())

    def grad(self, inputs, outputs, output_grads):
        (x, idx), (g,) = inputs, output_grads
        if not is_float(x.dtype):
            return [None, None]
        return [TakeFlatGrad()(g, x, idx), None]


@dataclass(frozen=True)
class TakeFlatGrad(Op):
    name: ClassVar[str] = "take_grad"

    def infer(self, g, x, idx):
        return [x.type.with_dtype(g.dtype)]

    def kernel(self, g, x, idx):
        z = torch.zeros(x.numel(), dtype=g.dtype, device=g.device)
        z.index_put_((idx.long().reshape(-1),), g.reshape(-1), accumulate=True)
        return z.reshape(x.shape)

    def grad(self, inputs, outputs, output_grads):
        return [TakeFlat()(output_grads[0], inputs[2]), None, None]


@user_errors
def take(x, indices, axis=None):
    """Elements of x at `indices` along `axis` (of the flattened x when axis is None)."""
    x = as_variable(x)
    if axis is None:
        idx = indices if isinstance(indices, Variable) else _index_array(indices)[1]
        if not isinstance(idx, Variable):
            raise DTypeError(f"take: indices must be integers, got {indices!r}")
        return TakeFlat()(x, idx)
    (axis,) = normalize_axis(axis, x.ndim)
    if isinstance(indices, Variable) and indices.dtype == "bool":
        raise DTypeError("take: indices must be integers, got bool")
    return getitem(x, (slice(None),) * axis + (indices,))


@dataclass(frozen=True)
class TakeAlongAxis(Op):
    axis: int = 0
    name: ClassVar[str] = "take_along_axis"

    def infer(self, x, idx):
        if not is_int(idx.dtype):
            raise DTypeError(f"indices must be integers, got {idx.dtype}")
        if idx.ndim != x.ndim:
            raise ShapeError(f"indices of shape {format_shape(idx.type.shape)} must have the same rank "
                             f"as x of shape {format_shape(x.type.shape)}")
        sx = list(x.type.shape)
        sx[self.axis] = 1
        try:
            shape = list(broadcast_shapes(tuple(sx), idx.type.shape))
        except ShapeError:
            raise ShapeError(f"indices of shape {format_shape(idx.type.shape)} do not broadcast with x of "
                             f"shape {format_shape(x.type.shape)} outside axis {self.axis}") from None
        shape[self.axis] = idx.type.shape[self.axis]
        return [x.type.with_shape(shape)]

    def _expand(self, xshape, idx):
        n = xshape[self.axis]
        idx = idx.long()
        idx = torch.where(idx < 0, idx + n, idx)
        shape = list(torch.broadcast_shapes(tuple(xshape[:self.axis]) + (1,) + tuple(xshape[self.axis + 1:]),
                                            idx.shape))
        shape[self.axis] = idx.shape[self.axis]
        xshape_e = list(shape)
        xshape_e[self.axis] = n
        return idx.expand(shape), xshape_e

    def kernel(self, x, idx):
        idx, xshape_e = self._expand(x.shape, idx)
        return torch.gather(x.expand(xshape_e), self.axis, idx)

    def grad(self, inputs, outputs, output_grads):
        (x, idx), (g,) = inputs, output_grads
        if not is_float(x.dtype):
            return [None, None]
        return [TakeAlongAxisGrad(self.axis)(g, x, idx), None]


@dataclass(frozen=True)
class TakeAlongAxisGrad(Op):
    axis: int = 0
    name: ClassVar[str] = "take_along_axis_grad"

    def infer(self, g, x, idx):
        return [x.type.with_dtype(g.dtype)]

    def kernel(self, g, x, idx):
        idx, xshape_e = TakeAlongAxis(self.axis)._expand(x.shape, idx)
        z = torch.zeros(xshape_e, dtype=g.dtype, device=g.device)
        z.scatter_add_(self.axis, idx, g)
        return sum_to_shape(z, tuple(x.shape))

    def grad(self, inputs, outputs, output_grads):
        return [TakeAlongAxis(self.axis)(output_grads[0], inputs[2]), None, None]


@user_errors
def take_along_axis(x, indices, axis):
    """NumPy's take_along_axis: indices has x's rank and broadcasts with it off `axis`."""
    x = as_variable(x)
    if axis is None:
        return take(x, indices)
    idx = indices if isinstance(indices, Variable) else _index_array(indices)[1]
    if not isinstance(idx, Variable):
        raise DTypeError("take_along_axis: indices must be integers, not a boolean mask")
    (axis,) = normalize_axis(axis, x.ndim)
    return TakeAlongAxis(axis)(x, idx)


# ---- index_add, one_hot -----------------------------------------------------------------------

@dataclass(frozen=True)
class IndexAdd(Op):
    """torch.index_add: x with alpha * source[..., i, ...] added at x[..., index[i], ...]."""
    axis: int = 0
    alpha: float = 1
    name: ClassVar[str] = "index_add"

    def infer(self, x, index, source):
        if not is_int(index.dtype):
            raise DTypeError(f"index must be integers, got {index.dtype}")
        if index.ndim != 1:
            raise ShapeError(f"index must be 1-D, got shape {format_shape(index.type.shape)}")
        if x.dtype != source.dtype:
            raise DTypeError(f"x and source must share one dtype, got {x.dtype} and {source.dtype}")
        sx, ss = x.type.shape, source.type.shape
        want = sx[:self.axis] + (index.type.shape[0],) + sx[self.axis + 1:]
        if len(ss) != len(sx) or not shapes_agree(ss, want):
            raise ShapeError(f"source of shape {format_shape(ss)} must be {format_shape(want)} "
                             f"(x is {format_shape(sx)}, index has {format_shape(index.type.shape)})")
        return [x.type]

    def kernel(self, x, index, source):
        return x.index_add(self.axis, index.long(), source, alpha=self.alpha)

    def grad(self, inputs, outputs, output_grads):
        (x, index, source), (g,) = inputs, output_grads
        if not is_float(x.dtype):
            return [None, None, None]
        gs = take(g, index, axis=self.axis)
        return [g, None, gs if self.alpha == 1 else gs * self.alpha]


@user_errors
def index_add(x, axis, index, source, alpha=1):
    """x with `source` slices added at positions `index` along `axis` (torch.index_add)."""
    x, source = unify(x, source)
    (axis,) = normalize_axis(axis, x.ndim)
    index = as_variable(index if isinstance(index, Variable) else np.asarray(index, dtype=np.int64))
    return IndexAdd(axis, alpha)(x, index, source)


@dataclass(frozen=True)
class OneHot(Op):
    num_classes: int = 0
    dtype: str = "float32"
    name: ClassVar[str] = "one_hot"
    differentiable: ClassVar[bool] = False

    def infer(self, idx):
        if not is_int(idx.dtype):
            raise DTypeError(f"one_hot: indices must be integers, got {idx.dtype}")
        return [TensorType(self.dtype, idx.type.shape + (self.num_classes,))]

    def kernel(self, idx):
        return F.one_hot(idx.long(), self.num_classes).to(torch_dtype(self.dtype))

    def grad(self, inputs, outputs, output_grads):
        return [None]


@user_errors
def one_hot(indices, num_classes, dtype="float32"):
    """indices.shape + (num_classes,), 1 at each index and 0 elsewhere (not differentiable)."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"one_hot: num_classes must be a positive Python int, got {num_classes!r}")
    idx = indices if isinstance(indices, Variable) else as_variable(np.asarray(indices))
    return OneHot(int(num_classes), canonical_dtype(dtype))(idx)


__all__ = [
    "getitem", "set_subtensor", "inc_subtensor", "IndexedUpdate", "IndexUpdate", "take", "take_along_axis", "index_add", "one_hot",
    "Subtensor", "SubtensorGrad", "AdvancedSubtensor", "AdvancedSubtensorGrad", "TakeFlat",
    "TakeFlatGrad", "TakeAlongAxis", "TakeAlongAxisGrad", "IndexAdd", "OneHot",
]
