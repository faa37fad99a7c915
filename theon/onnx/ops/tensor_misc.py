"""Other ONNX tensor ops composed from theon ops: OneHot, Scatter*, TopK, NonZero, Compress..."""
from __future__ import annotations

import numpy as np
from onnx import helper

from ... import ops as T
from ...ops.bitcast import bitcast as bitcast_op
from ...ops.detection import non_max_suppression as nms_op
from ...ops.scatter import scatter_elements as scatter_elements_op
from ...ops.search import argwhere
from ...ops.scatter import scatter_nd as scatter_nd_op
from ...ops.sorting import topk as topk_op
from ...ops.unique import unique as unique_op
from ..importer.tensors import CARRIERS, theon_dtype
from . import converter, resize  # noqa: F401  (resize registers Resize/Upsample)


@converter("OneHot")
def one_hot(ctx):
    idx = ctx.x(0)
    depth = int(np.asarray(ctx.const(1, "depth")).reshape(-1)[0])
    values = ctx.x(2)
    axis = ctx.attr("axis", -1)
    idx = T.cast_to(idx, "int64")
    idx = T.where(T.less(idx, 0), idx + np.int64(depth), idx)
    rank = idx.ndim + 1
    axis = axis % rank
    pos = T.as_variable(np.arange(depth, dtype=np.int64).reshape([-1] + [1] * (rank - 1 - axis)))
    hot = T.equal(T.expand_dims(idx, axis), pos)
    return T.where(hot, values[1], values[0])


@converter("ScatterElements", "Scatter")
def scatter_elements(ctx):
    data, idx, upd = ctx.x(0), ctx.x(1), ctx.x(2)
    axis = ctx.attr("axis", 0) % data.ndim
    return scatter_elements_op(data, idx, T.cast_to(upd, data.dtype), axis, ctx.attr("reduction", "none"))


@converter("ScatterND")
def scatter_nd(ctx):
    data = ctx.x(0)
    return scatter_nd_op(data, ctx.x(1), T.cast_to(ctx.x(2), data.dtype), ctx.attr("reduction", "none"))


@converter("TopK")
def topk(ctx):
    x = ctx.x(0)
    if ctx.opset < 10:
        k = ctx.attr("k")
    else:
        k = int(np.asarray(ctx.const(1, "k")).reshape(-1)[0])
    axis = ctx.attr("axis", -1) % x.ndim
    values, idx = topk_op(x, k, axis, bool(ctx.attr("largest", 1)))
    return [values, idx]


@converter("Det")
def det(ctx):
    return T.det(ctx.x(0))


@converter("ReverseSequence")
def reverse_sequence(ctx):
    x = ctx.x(0)
    lens = np.asarray(ctx.const(1, "sequence_lens")).astype(np.int64)
    batch_axis, time_axis = ctx.attr("batch_axis", 1), ctx.attr("time_axis", 0)
    steps = x.type.shape[time_axis]
    if steps is None:
        ctx.fail("ReverseSequence needs the time length when building")
    order = np.tile(np.arange(steps), (len(lens), 1))
    for b, n in enumerate(lens):
        order[b, :n] = order[b, :n][::-1]
    shape = [1] * x.ndim
    shape[batch_axis], shape[time_axis] = len(lens), steps
    idx = order if batch_axis < time_axis else order.T
    idx = np.broadcast_to(idx.reshape(shape), [d if d is not None else 1 for d in x.type.shape])
    return T.take_along_axis(x, T.as_variable(np.ascontiguousarray(idx)), time_axis)


def _window(ctx, fn):
    n = int(np.asarray(ctx.const(0, "size")).reshape(-1)[0])
    periodic = ctx.attr("periodic", 1)
    denom = n if periodic else n - 1
    k = np.arange(n, dtype=np.float64)
    values = fn(k, denom)
    dtype = theon_dtype(ctx.attr("output_datatype", 1), "output_datatype")
    return T.as_variable(values.astype(dtype))


@converter("HannWindow")
def hann(ctx):
    return _window(ctx, lambda k, d: 0.5 - 0.5 * np.cos(2 * np.pi * k / d))


@converter("HammingWindow")
def hamming(ctx):
    return _window(ctx, lambda k, d: 25 / 46 - (1 - 25 / 46) * np.cos(2 * np.pi * k / d))


@converter("BlackmanWindow")
def blackman(ctx):
    return _window(ctx, lambda k, d: 0.42 - 0.5 * np.cos(2 * np.pi * k / d) + 0.08 * np.cos(4 * np.pi * k / d))


@converter("Compress")
def compress(ctx):
    x = ctx.x(0)
    keep = np.nonzero(np.asarray(ctx.const(1, "condition")).astype(bool))[0]
    axis = ctx.attr("axis")
    if axis is None:
        return T.take(T.ravel(x), T.as_variable(keep.astype(np.int64)), axis=0)
    return T.take(x, T.as_variable(keep.astype(np.int64)), axis=axis % x.ndim)


@converter("CenterCropPad")
def center_crop_pad(ctx):
    x = ctx.x(0)
    shape = [int(s) for s in np.asarray(ctx.const(1, "shape")).reshape(-1)]
    axes = ctx.attr("axes") or list(range(x.ndim))
    axes = [a % x.ndim for a in axes]
    for a, target in zip(axes, shape):
        size = x.type.shape[a]
        if size is None:
            ctx.fail("CenterCropPad needs the input's dims when building")
        if size > target:
            start = (size - target) // 2
            key = [slice(None)] * x.ndim
            key[a] = slice(start, start + target)
            x = x[tuple(key)]
        elif size < target:
            before = (target - size) // 2
            width = [(0, 0)] * x.ndim
            width[a] = (before, target - size - before)
            x = T.pad(x, width)
    return x


@converter("QuantizeLinear")
def quantize_linear(ctx):
    x, scale, zero = ctx.x(0), ctx.x(1), ctx.x(2)
    axis = ctx.attr("axis", 1)
    out_type = ctx.attr("output_dtype", 2) or 2
    dtype = zero.dtype if zero is not None else theon_dtype(out_type, "output_dtype")
    # an unsigned type carried in a wider signed dtype saturates to its own range
    carried = ctx.carried_type(2) if zero is not None else (out_type if out_type in CARRIERS else None)
    block = ctx.attr("block_size", 0)
    scale = _per_axis(scale, x, axis, block)
    y = T.round(x / T.cast_to(scale, x.dtype))
    if zero is not None:
        y = y + T.cast_to(_per_axis(zero, x, axis, block), y.dtype)
    info = np.iinfo(helper.tensor_dtype_to_np_dtype(carried) if carried else dtype)
    if ctx.attr("saturate", 1) is not None:
        y = T.clip(y, float(info.min), float(info.max))
    return T.cast_to(y, dtype)


@converter("DequantizeLinear")
def dequantize_linear(ctx):
    x, scale, zero = ctx.x(0), ctx.x(1), ctx.x(2)
    axis = ctx.attr("axis", 1)
    block = ctx.attr("block_size", 0)
    out_dtype = scale.dtype
    y = T.cast_to(x, "float32")
    if zero is not None:
        y = y - T.cast_to(_per_axis(zero, x, axis, block), "float32")
    return T.cast_to(y * T.cast_to(_per_axis(scale, x, axis, block), "float32"), out_dtype)


def _per_axis(v, x, axis, block=0):
    """A scale or zero point shaped to broadcast against x: per-tensor, per-axis (1-d), or
    blocked (x's rank, each entry covering `block` consecutive elements along axis)."""
    if block:
        axis = axis % x.ndim
        size = x.type.shape[axis]
        key = [slice(None)] * x.ndim
        key[axis] = slice(0, size)
        return T.repeat(v, block, axis=axis)[tuple(key)]
    if v.ndim == 1 and x.ndim > 1 and v.type.shape[0] not in (None, 1):
        axis = axis % x.ndim
        shape = [1] * x.ndim
        shape[axis] = -1
        return T.reshape(v, shape)
    return v


@converter("BitCast")
def bit_cast(ctx):
    return bitcast_op(ctx.x(0), theon_dtype(ctx.attr("to"), "BitCast target"))


@converter("Col2Im")
def col2im(ctx):
    x = ctx.x(0)
    image = [int(v) for v in np.asarray(ctx.const(1, "image_shape")).reshape(-1)]
    block = [int(v) for v in np.asarray(ctx.const(2, "block_shape")).reshape(-1)]
    k = len(image)
    dil = ctx.attr("dilations", [1] * k)
    pads = ctx.attr("pads", [0] * (2 * k))
    strides = ctx.attr("strides", [1] * k)
    n, ckk, length = x.type.shape
    kk = int(np.prod(block))
    c = ckk // kk
    padded = [image[i] + pads[i] + pads[i + k] for i in range(k)]
    counts = [(padded[i] - dil[i] * (block[i] - 1) - 1) // strides[i] + 1 for i in range(k)]
    # flat target position in the padded image of (block offset, sliding position)
    offs = np.stack(np.meshgrid(*[np.arange(b) for b in block], indexing="ij"), -1).reshape(kk, k)
    locs = np.stack(np.meshgrid(*[np.arange(m) for m in counts], indexing="ij"), -1).reshape(-1, k)
    pos = offs[:, None, :] * np.array(dil) + locs[None, :, :] * np.array(strides)
    flat = np.ravel_multi_index(tuple(pos[..., i] for i in range(k)), padded).reshape(-1)
    src = T.reshape(x, [n, c, kk * length])
    out = T.index_add(T.zeros([n, c, int(np.prod(padded))], dtype=x.dtype), 2, T.as_variable(flat), src)
    out = T.reshape(out, [n, c] + padded)
    key = (slice(None), slice(None)) + tuple(slice(pads[i], pads[i] + image[i]) for i in range(k))
    return out[key]


@converter("NonMaxSuppression")
def non_max_suppression(ctx):
    boxes, scores = ctx.x(0), ctx.x(1)
    limit = ctx.x(2) if ctx.has(2) else T.as_variable(np.int64(0))
    iou = ctx.x(3) if ctx.has(3) else T.as_variable(np.float32(0))
    score_min = ctx.x(4) if ctx.has(4) else T.as_variable(np.float32(-np.inf))
    return nms_op(boxes, scores, T.reshape(limit, ()), T.reshape(iou, ()), T.reshape(score_min, ()),
                  bool(ctx.attr("center_point_box", 0)))


@converter("Binarizer", domain="ai.onnx.ml")
def binarizer(ctx):
    x = ctx.x(0)
    hit = T.greater(x, np.asarray(ctx.attr("threshold", 0.0), x.dtype))
    return T.cast_to(hit, x.dtype)


@converter("ArrayFeatureExtractor", domain="ai.onnx.ml")
def array_feature_extractor(ctx):
    x, idx = ctx.x(0), ctx.x(1)
    return T.take(x, T.reshape(T.cast_to(idx, "int64"), [-1]), axis=x.ndim - 1)



@converter("Unique")
def unique(ctx):
    x = ctx.x(0)
    axis = ctx.attr("axis")
    return list(unique_op(x, None if axis is None else axis % x.ndim, bool(ctx.attr("sorted", 1))))


@converter("NonZero")
def nonzero(ctx):
    """(ndim, count) indices of the nonzero elements in C order; count is known only when run."""
    x = ctx.x(0)
    if x.ndim == 0:
        ctx.fail("NonZero of a 0-d tensor: reshape it to 1-d first (NumPy 2 refuses it too)")
    return T.transpose(argwhere(x))


@converter("TensorScatter")
def tensor_scatter(ctx):
    """A KV-cache write: update's sequence (along axis) put into past_cache from each batch
    row's write index on (wrapping around the cache in 'circular' mode)."""
    cache, update = ctx.x(0), ctx.x(1)
    axis = ctx.attr("axis", -2) % cache.ndim
    if axis == 0:
        ctx.fail("TensorScatter's axis must not be the batch axis 0")
    mode = ctx.attr("mode", "linear")
    if mode not in ("linear", "circular"):
        ctx.fail(f"TensorScatter mode {mode!r}: ONNX has 'linear' and 'circular'")
    start = T.cast_to(ctx.x(2), "int64") if ctx.has(2) else T.zeros([T.dim(cache, 0)], "int64")
    pos = T.expand_dims(start, 1) + T.expand_dims(T.arange(T.dim(update, axis)), 0)   # (batch, seq)
    if mode == "circular":
        pos = pos % T.dim(cache, axis)
    shape = [1] * cache.ndim
    shape[0], shape[axis] = T.dim(update, 0), T.dim(update, axis)
    index = T.broadcast_to(T.reshape(pos, shape), [T.dim(update, i) for i in range(update.ndim)])
    return scatter_elements_op(cache, index, update, axis=axis)
