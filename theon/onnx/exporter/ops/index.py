"""Indexing: basic keys as Slice/Squeeze/Unsqueeze, NumPy's advanced indexing as
Gather/GatherND with the transposes its placement rule needs, take, take_along_axis,
index_add, one_hot, strided slices, scatters, top-k, unique and non-max suppression."""
from __future__ import annotations

import numpy as np

from ....ops import detection, scatter, slicing, sorting, unique
from ....ops import index as I
from ..registry import rule
from .common import INT_MAX, INT_MIN, as_int64, cast, shape_of, shape_vector, slice_, unsqueeze


def _slice_bounds(entry):
    """(start, stop, step) of a slice entry with ONNX's stand-ins for omitted bounds."""
    _, start, stop, step = entry
    step = 1 if step is None else step
    if start is None:
        start = 0 if step > 0 else INT_MAX
    if stop is None:
        stop = INT_MAX if step > 0 else INT_MIN
    return start, stop, step


def _basic(ctx, x: str, entries, drop_ints: bool):
    """x with the key's slices applied (and its ints, dropping their axes, when drop_ints);
    new axes inserted. Returns (name, positions of the kept int/array entries, entries)."""
    starts, stops, steps, axes, dropped = [], [], [], [], []
    axis = 0
    for e in entries:
        if e[0] == "none":
            continue
        if e[0] == "slice" and e != I.FULL:
            s, t, st = _slice_bounds(e)
            starts.append(s), stops.append(t), steps.append(st), axes.append(axis)
        elif e[0] == "int" and drop_ints:
            i = e[1]
            starts.append(i), stops.append(i + 1 if i != -1 else INT_MAX), steps.append(1), axes.append(axis)
            dropped.append(axis)
        axis += 1
    if axes:
        x = slice_(ctx, x, starts, stops, axes, steps)
    if dropped:
        x = ctx.emit("Squeeze", [x, ctx.ints(dropped)])
    new_axes, kept, pos = [], [], 0
    for e in entries:
        if e[0] == "none":
            new_axes.append(pos)
        elif e[0] == "int" and drop_ints:
            continue
        elif e[0] in ("int", "adv"):
            kept.append((pos, e))
        pos += 1
    if new_axes:
        x = unsqueeze(ctx, x, new_axes)
    return x, kept


@rule(I.Subtensor)
def _subtensor(ctx):
    x, _ = _basic(ctx, ctx.x(0), ctx.op.entries, drop_ints=True)
    return x if x != ctx.x(0) else ctx.emit("Identity", [x])


def _index_tensor(ctx, entry) -> tuple:
    """(int64 name, rank) of an advanced entry's index."""
    if entry[0] == "int":
        return ctx.const(np.int64(entry[1])), 0
    k = 1 + entry[1]
    return as_int64(ctx, ctx.x(k), ctx.dtype(k)), len(ctx.shape(k))


@rule(I.AdvancedSubtensor)
def _advanced_subtensor(ctx):
    op = ctx.op
    y, adv = _basic(ctx, ctx.x(0), op.entries, drop_ints=False)
    rank = len(op.entries)  # with arrays in the key, ints keep their axis until the gather
    indices = [_index_tensor(ctx, e) for _, e in adv]
    positions = [p for p, _ in adv]
    if len(adv) == 1:  # one index array: Gather puts its dims where the axis was, as NumPy
        return ctx.emit("Gather", [y, indices[0][0]], axis=positions[0])
    nb = max(r for _, r in indices)
    # broadcast the index arrays together, stacked on a new last axis for GatherND
    zero = None
    for name, _ in indices:
        z = ctx.emit("Mul", [name, ctx.const(np.int64(0))])
        zero = z if zero is None else ctx.emit("Add", [zero, z])
    full = shape_of(ctx, zero)
    stacked = ctx.emit("Concat", [unsqueeze(ctx, ctx.emit("Expand", [name, full]), [-1]) for name, _ in indices],
                       axis=-1)
    rest = [a for a in range(rank) if a not in positions]
    front = positions + rest
    if front != list(range(rank)):
        y = ctx.emit("Transpose", [y], perm=front)
    out = ctx.emit("GatherND", [y, stacked])  # dims: the broadcast index shape, then the rest
    if op.adjacent and positions[0] and nb:
        n_out = nb + len(rest)
        p = positions[0]
        perm = list(range(nb, nb + p)) + list(range(nb)) + list(range(nb + p, n_out))
        out = ctx.emit("Transpose", [out], perm=perm)
    return out


@rule(I.TakeFlat)
def _take_flat(ctx):
    flat = ctx.emit("Reshape", [ctx.x(0), ctx.ints([-1])])
    return ctx.emit("Gather", [flat, as_int64(ctx, ctx.x(1), ctx.dtype(1))], axis=0)


def _with_dim_one(ctx, name: str, axis: int, rank: int) -> str:
    """The shape of `name` with dim `axis` set to 1."""
    parts = []
    if axis > 0:
        parts.append(shape_of(ctx, name, 0, axis))
    parts.append(ctx.ints([1]))
    if axis + 1 < rank:
        parts.append(shape_of(ctx, name, axis + 1, rank))
    return parts[0] if len(parts) == 1 else ctx.emit("Concat", parts, axis=0)


@rule(I.TakeAlongAxis)
def _take_along_axis(ctx):
    x, idx, axis = ctx.x(0), as_int64(ctx, ctx.x(1), ctx.dtype(1)), ctx.op.axis
    xs, ids = ctx.shape(0), ctx.shape(1)
    rank = len(xs)
    same = all(a == b and a is not None for i, (a, b) in enumerate(zip(xs, ids)) if i != axis)
    if not same:  # theon broadcasts x and the indices off the axis; GatherElements does not
        x = ctx.emit("Expand", [x, _with_dim_one(ctx, idx, axis, rank)])
        idx = ctx.emit("Expand", [idx, _with_dim_one(ctx, ctx.x(0), axis, rank)])
    return ctx.emit("GatherElements", [x, idx], axis=axis)


@rule(I.IndexAdd)
def _index_add(ctx):
    x, index, source = ctx.xs()
    axis, rank = ctx.op.axis, len(ctx.shape(0))
    column = ctx.emit("Reshape", [as_int64(ctx, index, ctx.dtype(1)),
                                  ctx.ints([-1 if a == axis else 1 for a in range(rank)])])
    idx = ctx.emit("Expand", [column, shape_of(ctx, source)])
    if ctx.op.alpha != 1:
        source = ctx.emit("Mul", [source, ctx.scalar(ctx.op.alpha, ctx.dtype(2))])
    return ctx.emit("ScatterElements", [x, idx, source], axis=axis, reduction="add")


@rule(I.OneHot)
def _one_hot(ctx):
    values = ctx.const(np.array([0, 1], dtype=ctx.op.dtype))
    return ctx.emit("OneHot", [ctx.x(0), ctx.const(np.int64(ctx.op.num_classes)), values], axis=-1)


@rule(slicing.StridedSlice)
def _strided_slice(ctx):
    op = ctx.op
    n = len(op.axes)
    starts, stops = op.template[:n], op.template[n:]
    start = shape_vector(ctx, starts, 1)
    stop = shape_vector(ctx, stops, 1 + sum(1 for t in starts if t is None))
    return slice_(ctx, ctx.x(0), start, stop, op.axes, op.steps)


@rule(scatter.ScatterElements)
def _scatter_elements(ctx):
    data, idx, upd = ctx.xs()
    return ctx.emit("ScatterElements", [data, as_int64(ctx, idx, ctx.dtype(1)), upd], axis=ctx.op.axis,
                    reduction=ctx.op.reduction)


@rule(scatter.ScatterND)
def _scatter_nd(ctx):
    data, idx, upd = ctx.xs()
    return ctx.emit("ScatterND", [data, as_int64(ctx, idx, ctx.dtype(1)), upd], reduction=ctx.op.reduction)


@rule(sorting.TopKIndices)
def _topk(ctx):
    op = ctx.op
    _, indices = ctx.emit("TopK", [ctx.x(0), ctx.ints([op.k])], n_out=2, axis=op.axis, largest=int(op.largest),
                          sorted=1)
    return indices


@rule(unique.Unique)
def _unique(ctx):
    return ctx.emit("Unique", [ctx.x(0)], n_out=4, axis=ctx.op.axis, sorted=int(ctx.op.sorted))


@rule(detection.NonMaxSuppression)
def _non_max_suppression(ctx):
    boxes, scores, limit, iou, floor = ctx.xs()
    limit = as_int64(ctx, limit, ctx.dtype(2))
    boxes, scores, iou, floor = (v if ctx.dtype(k) == "float32" else cast(ctx, v, "float32")  # ONNX's only type
                                 for k, v in ((0, boxes), (1, scores), (3, iou), (4, floor)))
    return ctx.emit("NonMaxSuppression", [boxes, scores, limit, iou, floor],
                    center_point_box=int(ctx.op.center_point_box))
