"""ONNX shape ops: Shape, Reshape, Transpose, (Un)Squeeze, Concat, Split, Slice, Gather,
Expand, Tile, Pad, ConstantOfShape, Constant, Range, Flatten ... Shape-valued results are
also followed element by element (`Elems`) so later shape arguments stay exact."""
from __future__ import annotations

import math

import numpy as np

from ... import ops as T
from ...graph import Variable
from ...ops.slicing import strided_slice
from ..importer.elems import Elems
from ..importer.tensors import theon_dtype
from . import converter


def shape_elems(x) -> list:
    return [T.dim(x, i) for i in range(x.ndim)]


def _axes(ctx, attr="axes", index=1):
    """An axes list given as an attribute (old opsets) or an input (newer)."""
    if ctx.has(index):
        return [int(a) for a in np.asarray(ctx.const(index, "axes")).reshape(-1)]
    value = ctx.attr(attr)
    return None if value is None else [int(a) for a in value]


def _prod(values):
    out = 1
    for v in values:
        out = out * v
    return out


def target_dims(ctx, i) -> list:
    """Input i (a shape vector) as a list of ints / symbolic int64 scalars."""
    e = ctx.elems(i)
    if e is not None:
        return list(e.values)
    return [int(d) for d in np.asarray(ctx.const(i, "a shape")).reshape(-1)]


@converter("Shape")
def shape(ctx):
    x = ctx.x(0)
    dims = shape_elems(x)
    start, end = ctx.attr("start", 0), ctx.attr("end", None)
    dims = dims[slice(start, end)]
    e = Elems(dims)
    ctx.set_elems(0, e)
    return e.to_variable()


@converter("Size")
def size(ctx):
    x = ctx.x(0)
    e = Elems([_prod(shape_elems(x))], scalar=True)
    ctx.set_elems(0, e)
    return e.to_variable()


@converter("Reshape")
def reshape(ctx):
    x = ctx.x(0)
    if ctx.opset < 5:
        dims = list(ctx.attr("shape"))
    else:
        dims = target_dims(ctx, 1)
    allowzero = ctx.attr("allowzero", 0)
    out = []
    for i, d in enumerate(dims):
        if isinstance(d, (int, np.integer)) and d == 0 and not allowzero:
            d = T.dim(x, i)
        out.append(d)
    if any(isinstance(d, Variable) for d in out) and any(
            isinstance(d, (int, np.integer)) and d == -1 for d in out):
        # -1 next to symbolic dims: compute it, so every dim is known once shapes are
        known = _prod([d for d in out if not (isinstance(d, (int, np.integer)) and d == -1)])
        total = _prod(shape_elems(x))
        out = [T.floor_divide(total, known) if (isinstance(d, (int, np.integer)) and d == -1) else d
               for d in out]
    return T.reshape(x, out)


@converter("Flatten")
def flatten(ctx):
    x = ctx.x(0)
    axis = ctx.attr("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    dims = shape_elems(x)
    return T.reshape(x, [_prod(dims[:axis]), _prod(dims[axis:])])


@converter("Transpose")
def transpose(ctx):
    x = ctx.x(0)
    perm = ctx.attr("perm")
    return T.transpose(x, None if perm is None else tuple(perm))


@converter("Squeeze")
def squeeze(ctx):
    x = ctx.x(0)
    axes = _axes(ctx)
    e = ctx.elems(0)
    if e is not None and len(e) == 1 and not e.scalar:
        ctx.set_elems(0, e.with_values(e.values, scalar=True))
    if axes is None:
        axes = [i for i, d in enumerate(x.type.shape) if d == 1]
        if any(d is None for d in x.type.shape):
            ctx.fail(f"Squeeze without axes on {x.type}: which dims are 1 is unknown when building")
    return T.squeeze(x, tuple(a % x.ndim for a in axes)) if axes else x


@converter("Unsqueeze")
def unsqueeze(ctx):
    x = ctx.x(0)
    axes = _axes(ctx)
    e = ctx.elems(0)
    if e is not None and e.scalar and len(axes) == 1:
        ctx.set_elems(0, e.with_values(e.values, scalar=False))
    rank = x.ndim + len(axes)
    return T.expand_dims(x, tuple(sorted(a % rank for a in axes)))


@converter("Concat")
def concat(ctx):
    xs = [v for v in ctx.xs() if v is not None]
    axis = ctx.attr("axis", 0)
    es = [ctx.elems(i) for i in range(ctx.n_in) if ctx.has(i)]
    if all(e is not None and not e.scalar for e in es) and xs[0].ndim == 1:
        ctx.set_elems(0, Elems([v for e in es for v in e.values], dtype=es[0].dtype))
    xs = [v for v in xs if not (v.ndim == 1 and v.type.shape[0] == 0)] or xs[:1]
    if len(xs) == 1:
        return xs[0]
    dtype = xs[0].dtype
    return T.concatenate([T.cast_to(v, dtype) for v in xs], axis=axis)


@converter("Split")
def split(ctx):
    x = ctx.x(0)
    axis = ctx.attr("axis", 0)
    axis = axis % x.ndim
    n = len(ctx.node.outputs)
    sizes = ctx.const(1, "split") if ctx.has(1) else ctx.attr("split")
    if sizes is None:
        size = x.type.shape[axis]
        if size is None:  # equal parts (a dim that does not divide is an error when running)
            return T.split(x, n, axis=axis)
        num = ctx.attr("num_outputs", n)
        part = -(-size // num)
        sizes = [part] * (size // part) + ([size % part] if size % part else [])
    cuts = np.cumsum([int(s) for s in sizes])[:-1].tolist()
    return T.split(x, cuts, axis=axis)


def _bounds(ctx, i) -> list:
    """Slice starts or ends: ints and shape scalars, or inside a loop body (where no input
    can be fixed to a value) the elements of a short int vector computed from the data, such
    as the iteration count, as symbolic scalars."""
    if ctx.elems(i) is not None or ctx.scope.parent is None:
        return target_dims(ctx, i)
    v = ctx.x(i)
    n = v.type.shape[0] if v.ndim == 1 else None
    if n is None or n > 8 or not v.dtype.startswith("int"):
        return target_dims(ctx, i)
    return [T.reshape(T.cast_to(v[k], "int64"), ()) for k in range(n)]


def _slice_args(ctx):
    x = ctx.x(0)
    if ctx.opset < 10:
        starts, ends = ctx.attr("starts"), ctx.attr("ends")
        axes = ctx.attr("axes", list(range(len(starts))))
        steps = [1] * len(starts)
        return x, list(starts), list(ends), list(axes), steps
    starts, ends = _bounds(ctx, 1), _bounds(ctx, 2)
    axes = [int(a) for a in ctx.const(3, "axes")] if ctx.has(3) else list(range(len(starts)))
    steps = [int(s) for s in ctx.const(4, "steps")] if ctx.has(4) else [1] * len(starts)
    return x, starts, ends, axes, steps


@converter("Slice")
def slice_(ctx):
    x, starts, ends, axes, steps = _slice_args(ctx)
    axes = [a % x.ndim for a in axes]
    e = ctx.elems(0)
    static = all(isinstance(v, (int, np.integer)) for v in starts + ends)
    if e is not None and not e.scalar and static and axes == [0]:
        ctx.set_elems(0, e.with_values(e.values[slice(starts[0], ends[0], steps[0])]))
    if static and all(s > 0 for s in steps):
        key = [slice(None)] * x.ndim
        for a, b, f, s in zip(axes, starts, ends, steps):
            big = 1 << 62
            key[a] = slice(max(min(int(b), big), -big), max(min(int(f), big), -big), int(s))
        return x[tuple(key)]
    return strided_slice(x, axes, starts, ends, steps)


@converter("Gather")
def gather(ctx):
    x = ctx.x(0)
    axis = ctx.attr("axis", 0) % max(x.ndim, 1)
    idx_value = ctx.static(1)
    e = ctx.elems(0)
    if e is not None and idx_value is not None and idx_value.ndim <= 1 and not e.scalar:
        picked = [e.values[int(i)] for i in np.asarray(idx_value).reshape(-1)]
        ctx.set_elems(0, e.with_values(picked, scalar=idx_value.ndim == 0))
    if idx_value is not None:
        idx = np.asarray(idx_value).astype(np.int64)
        if idx.ndim == 0:
            key = (slice(None),) * axis + (int(idx),)
            return x[key]
        return T.take(x, T.as_variable(idx), axis=axis)
    idx = ctx.x(1)
    size = T.dim(x, axis)
    idx = T.where(T.less(idx, 0), idx + T.cast_to(T.as_variable(size), idx.dtype), idx)
    return T.take(x, idx, axis=axis)


@converter("Expand")
def expand(ctx):
    x = ctx.x(0)
    dims = target_dims(ctx, 1)
    ndim = max(x.ndim, len(dims))
    xs = [1] * (ndim - x.ndim) + shape_elems(x)
    ts = [1] * (ndim - len(dims)) + dims
    out = []
    for a, b in zip(xs, ts):
        if isinstance(b, (int, np.integer)) and b == 1:
            out.append(a)
        elif isinstance(a, (int, np.integer)) and a == 1:
            out.append(b)
        elif isinstance(a, (int, np.integer)):
            out.append(a)
        elif isinstance(b, (int, np.integer)):
            out.append(b)
        else:
            out.append(T.maximum(a, b))
    if x.ndim < ndim:
        x = T.reshape(x, [1] * (ndim - x.ndim) + shape_elems(x))
    return T.broadcast_to(x, out)


@converter("Tile")
def tile(ctx):
    reps = [int(r) for r in ctx.const(1, "repeats")]
    return T.tile(ctx.x(0), reps)


@converter("ConstantOfShape")
def constant_of_shape(ctx):
    value = ctx.attr("value")
    value = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
    dims = target_dims(ctx, 0)
    if all(isinstance(d, (int, np.integer)) for d in dims) and len(dims) <= 1 and \
            value.dtype.kind in "iu" and (not dims or dims[0] <= 64):
        ctx.set_elems(0, Elems([int(value[0])] * (dims[0] if dims else 1), scalar=not dims,
                               dtype=value.dtype.name))
    return T.full(dims, value[0].item(), dtype=value.dtype.name)


@converter("Constant")
def constant(ctx):
    a = ctx.attrs
    if "value" in a:
        value = np.asarray(a["value"])
    elif "value_float" in a:
        value = np.asarray(a["value_float"], np.float32)
    elif "value_floats" in a:
        value = np.asarray(a["value_floats"], np.float32)
    elif "value_int" in a:
        value = np.asarray(a["value_int"], np.int64)
    elif "value_ints" in a:
        value = np.asarray(a["value_ints"], np.int64)
    else:
        ctx.fail(f"Constant with {', '.join(a) or 'no value'}: theon has no string or sparse tensors")
    name = ctx.node.outputs[0]
    ctx.importer.add_initializer(ctx.scope, name, value, weight_like=value.size > 1)
    return ctx.scope.values.pop(name)


@converter("Range")
def range_(ctx):
    start, limit, delta = (ctx.static(i) for i in range(3))
    if start is not None and delta is not None and limit is None and ctx.elems(1) is not None:
        # a length known once shapes are (torch exports arange(x.shape[1])): the count is a
        # symbolic scalar, the values a running sum of ones
        (lim,) = ctx.elems(1).values
        s0, d0 = start.item(), delta.item()
        count = T.floor_divide(lim - s0 + (d0 - 1 if d0 > 0 else d0 + 1), d0)
        count = T.maximum(count, 0)
        ones = T.ones([count], dtype=start.dtype.name)
        return (T.cumsum(ones, axis=0) - ones) * np.asarray(d0, start.dtype) + np.asarray(s0, start.dtype)
    start, limit, delta = (ctx.const(i, "Range bound") for i in range(3))
    out = np.arange(start.item(), limit.item(), delta.item()).astype(start.dtype)
    if out.dtype.kind in "iu" and out.size <= 64:
        ctx.set_elems(0, Elems.from_numpy(out))
    return T.as_variable(out)


@converter("Pad")
def pad(ctx):
    x = ctx.x(0)
    if ctx.opset < 11:
        pads = list(ctx.attr("pads", ctx.attr("paddings")))
        value = ctx.attr("value", 0.0)
    else:
        pads = [int(p) for p in ctx.const(1, "pads")]
        cv = ctx.const(2, "constant_value") if ctx.has(2) else None
        value = 0 if cv is None or not np.asarray(cv).size else np.asarray(cv).reshape(-1)[0].item()
    mode = ctx.attr("mode", "constant")
    n = len(pads) // 2
    axes = [int(a) % x.ndim for a in ctx.const(3, "axes")] if ctx.has(3) else list(range(n))
    width = [[0, 0] for _ in range(x.ndim)]
    for k, a in enumerate(axes):
        width[a] = [pads[k], pads[k + n]]
    # negative pads crop
    if any(b < 0 or e < 0 for b, e in width):
        key = tuple(slice(-b if b < 0 else None, e if e < 0 else None) for b, e in width)
        x = x[key]
        width = [[max(b, 0), max(e, 0)] for b, e in width]
    if not any(b or e for b, e in width):
        return x
    np_mode = {"constant": "constant", "reflect": "reflect", "edge": "edge", "wrap": "wrap"}[mode]
    if np_mode == "constant":
        return T.pad(x, [tuple(w) for w in width], mode="constant", constant_values=value)
    return T.pad(x, [tuple(w) for w in width], mode=np_mode)


@converter("EyeLike")
def eye_like(ctx):
    x = ctx.x(0)
    n, m = x.type.shape
    dtype = theon_dtype(ctx.attr("dtype"), "EyeLike dtype") if ctx.attr("dtype") is not None else x.dtype
    return T.eye(n, m, k=ctx.attr("k", 0), dtype=dtype)


@converter("Trilu")
def trilu(ctx):
    x = ctx.x(0)
    k = int(ctx.const(1, "k")) if ctx.has(1) else 0
    n, m = x.type.shape[-2:]
    rows = np.arange(n)[:, None]
    cols = np.arange(m)[None, :]
    keep = (cols - rows >= k) if ctx.attr("upper", 1) else (cols - rows <= k)
    return T.where(T.as_variable(keep), x, T.zeros_like(x))


@converter("DepthToSpace")
def depth_to_space(ctx):
    x = ctx.x(0)
    b = ctx.attr("blocksize")
    n, c, h, w = shape_elems(x)
    if ctx.attr("mode", "DCR") == "DCR":
        y = T.reshape(x, [n, b, b, c // (b * b), h, w])
        y = T.transpose(y, (0, 3, 4, 1, 5, 2))
    else:
        y = T.reshape(x, [n, c // (b * b), b, b, h, w])
        y = T.transpose(y, (0, 1, 4, 2, 5, 3))
    return T.reshape(y, [n, c // (b * b), h * b, w * b])


@converter("SpaceToDepth")
def space_to_depth(ctx):
    x = ctx.x(0)
    b = ctx.attr("blocksize")
    n, c, h, w = shape_elems(x)
    y = T.reshape(x, [n, c, h // b, b, w // b, b])
    crd = ctx.attr("mode", "DCR") == "CRD"
    y = T.transpose(y, (0, 1, 3, 5, 2, 4) if crd else (0, 3, 5, 1, 2, 4))
    return T.reshape(y, [n, c * b * b, h // b, w // b])


def _static_shape(x, ctx):
    if None in x.type.shape:
        ctx.fail(f"{ctx.node.op_type} needs the input's shape when building, got {x.type}")
    return x.type.shape


@converter("GatherElements")
def gather_elements(ctx):
    x, idx = ctx.x(0), ctx.x(1)
    axis = ctx.attr("axis", 0) % x.ndim
    size = T.cast_to(T.as_variable(T.dim(x, axis)), idx.dtype)
    idx = T.where(T.less(idx, 0), idx + size, idx)
    return T.take_along_axis(x, idx, axis=axis)


@converter("GatherND")
def gather_nd(ctx):
    x, idx = ctx.x(0), ctx.x(1)
    b = ctx.attr("batch_dims", 0)
    k = idx.type.shape[-1]
    if k is None:
        ctx.fail("GatherND with an index depth unknown when building")
    xs = _static_shape(x, ctx)
    if b:
        bs = list(xs[:b])
        nb = math.prod(bs)
        xf = T.reshape(x, [nb] + list(xs[b:]))
        idf = T.reshape(idx, [nb, -1, k])
        batch = T.as_variable(np.arange(nb).reshape(nb, 1))
        key = (batch,) + tuple(idf[..., j] for j in range(k))
        out = xf[key]
        return T.reshape(out, list(idx.type.shape[:-1]) + list(xs[b + k:]))
    key = tuple(idx[..., j] for j in range(k))
    return x[key]
