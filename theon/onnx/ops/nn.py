"""ONNX neural-network ops: convolutions, pooling, normalisations, softmax, Gemm/MatMul."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from ...ops import nn as NN
from . import converter
from .pool_indices import max_pool_with_indices
from .pooling_nd import pool_by_slices
from .shape import shape_elems


def _f(x, value):
    return np.asarray(value, dtype=x.dtype)


def _explicit_pads(ctx, x, kernel, strides, dilations):
    """ONNX pads as [(begin, end)] per spatial dim, resolving auto_pad."""
    n = len(kernel)
    auto = ctx.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for i in range(n):
            size = x.type.shape[2 + i]
            if size is None:
                if strides[i] != 1:
                    ctx.fail(f"auto_pad={auto} with stride {strides[i]} needs spatial dims known "
                             f"when building, got {x.type}")
                total = dilations[i] * (kernel[i] - 1)
            else:
                out = -(-size // strides[i])
                total = max((out - 1) * strides[i] + dilations[i] * (kernel[i] - 1) + 1 - size, 0)
            small, big = total // 2, total - total // 2
            pads.append((small, big) if auto == "SAME_UPPER" else (big, small))
        return pads
    if auto == "VALID":
        return [(0, 0)] * n
    p = ctx.attr("pads", [0] * (2 * n))
    return [(p[i], p[i + n]) for i in range(n)]


def _pad_spatial(x, pads, value=0.0):
    if not any(b or e for b, e in pads):
        return x
    width = [(0, 0), (0, 0)] + [tuple(p) for p in pads]
    return T.pad(x, width, mode="constant", constant_values=value)


@converter("Conv")
def conv(ctx):
    x, w, b = ctx.x(0), ctx.x(1), ctx.x(2)
    n = x.ndim - 2
    kernel = ctx.attr("kernel_shape") or list(w.type.shape[2:])
    strides = ctx.attr("strides", [1] * n)
    dilations = ctx.attr("dilations", [1] * n)
    group = ctx.attr("group", 1)
    pads = _explicit_pads(ctx, x, kernel, strides, dilations)
    if all(p == q for p, q in pads):
        padding = tuple(p for p, _ in pads)
    else:
        x, padding = _pad_spatial(x, pads), 0
    if n == 1:
        return NN.conv1d(x, w, b, stride=strides, padding=padding, dilation=dilations, groups=group)
    if n == 2:
        return NN.conv2d(x, w, b, stride=strides, padding=padding, dilation=dilations, groups=group)
    if n == 3:
        return NN.conv3d(x, w, b, stride=strides, padding=padding, dilation=dilations, groups=group)
    ctx.fail(f"Conv over {n} spatial dims: theon has 1-, 2- and 3-d convolutions")


@converter("ConvTranspose")
def conv_transpose(ctx):
    x, w, b = ctx.x(0), ctx.x(1), ctx.x(2)
    n = x.ndim - 2
    kernel = ctx.attr("kernel_shape") or list(w.type.shape[2:])
    strides = ctx.attr("strides", [1] * n)
    dilations = ctx.attr("dilations", [1] * n)
    group = ctx.attr("group", 1)
    out_pad = ctx.attr("output_padding", [0] * n)
    output_shape = ctx.attr("output_shape")
    auto = ctx.attr("auto_pad", "NOTSET")
    if output_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        sizes = x.type.shape[2:]
        if None in sizes:
            ctx.fail(f"ConvTranspose with output_shape/auto_pad needs spatial dims known, got {x.type}")
        target = list(output_shape)[-n:] if output_shape is not None else [s * st for s, st in zip(sizes, strides)]
        pads = []
        for i in range(n):
            total = strides[i] * (sizes[i] - 1) + out_pad[i] + (kernel[i] - 1) * dilations[i] + 1 - target[i]
            if total < 0:  # a larger output than the default: extra output padding at the end
                out_pad = list(out_pad)
                out_pad[i] += -total
                total = 0
            half = total // 2
            pads.append((half, total - half) if auto == "SAME_UPPER" else (total - half, half))
    elif auto == "VALID":
        pads = [(0, 0)] * n
    else:
        p = ctx.attr("pads", [0] * (2 * n))
        pads = [(p[i], p[i + n]) for i in range(n)]
    fn = {1: NN.conv_transpose1d, 2: NN.conv_transpose2d, 3: NN.conv_transpose3d}.get(n)
    if fn is None:
        ctx.fail(f"ConvTranspose over {n} spatial dims")
    sym = all(p == q for p, q in pads)
    if sym:
        return fn(x, w, b, stride=strides, padding=tuple(p for p, _ in pads), output_padding=out_pad,
                  groups=group, dilation=dilations)
    y = fn(x, w, b, stride=strides, padding=0, output_padding=out_pad, groups=group, dilation=dilations)
    key = (slice(None), slice(None)) + tuple(slice(bg, -e if e else None) for bg, e in pads)
    return y[key]


def _pool_args(ctx, x):
    n = x.ndim - 2
    kernel = list(ctx.attr("kernel_shape"))
    strides = ctx.attr("strides", [1] * n)
    dilations = ctx.attr("dilations", [1] * n)
    pads = _explicit_pads(ctx, x, kernel, strides, dilations)
    return n, kernel, strides, dilations, pads


def _as_2d(x, n, *lists):
    """1-d pooling runs as 2-d pooling over (1, L)."""
    if n == 1:
        return T.expand_dims(x, 2), [[1] + list(v) for v in lists]
    return x, [list(v) for v in lists]


@converter("MaxPool")
def max_pool(ctx):
    x = ctx.x(0)
    n, kernel, strides, dilations, pads = _pool_args(ctx, x)
    ceil = bool(ctx.attr("ceil_mode", 0))
    if len(ctx.node.outputs) > 1 and ctx.node.outputs[1]:
        return list(max_pool_with_indices(ctx, x, kernel, strides, dilations, pads, ceil))
    if n > 2 or not x.dtype.startswith("float"):
        return pool_by_slices(x, kernel, strides, dilations, pads, ceil, "max")
    xp = _pad_spatial(x, pads, value=-np.inf if x.dtype.startswith("float") else np.iinfo(x.dtype).min)
    x2, (k, s, d) = _as_2d(xp, n, kernel, strides, dilations)
    if ceil:
        # windows that would start inside the end padding are dropped, as in ONNX
        y = NN.max_pool2d(x2, k, s, 0, d, ceil_mode=True)
    else:
        y = NN.max_pool2d(x2, k, s, 0, d)
    return T.squeeze(y, 2) if n == 1 else y


@converter("AveragePool")
def average_pool(ctx):
    x = ctx.x(0)
    n, kernel, strides, dilations, pads = _pool_args(ctx, x)
    ceil = bool(ctx.attr("ceil_mode", 0))
    include = bool(ctx.attr("count_include_pad", 0))
    if n > 2 or any(d != 1 for d in dilations) or (ceil and None not in x.type.shape[2:]):
        return pool_by_slices(x, kernel, strides, dilations, pads, ceil, "avg", include)
    xp = _pad_spatial(x, pads)
    x2, (k, s) = _as_2d(xp, n, kernel, strides)
    total = NN.avg_pool2d(x2, k, s, 0, ceil_mode=ceil, count_include_pad=False, divisor_override=1)
    if not any(b or e for b, e in pads) and not ceil:
        y = total / _f(x, float(np.prod(kernel)))
    else:
        ones = T.ones_like(x)
        mask = _pad_spatial(ones, pads, value=1.0 if include else 0.0)
        m2, _ = _as_2d(mask, n)
        count = NN.avg_pool2d(m2, k, s, 0, ceil_mode=ceil, count_include_pad=False, divisor_override=1)
        y = total / count
    return T.squeeze(y, 2) if n == 1 else y


@converter("GlobalAveragePool")
def global_average_pool(ctx):
    x = ctx.x(0)
    return T.mean(x, axis=tuple(range(2, x.ndim)), keepdims=True)


@converter("GlobalMaxPool")
def global_max_pool(ctx):
    x = ctx.x(0)
    return T.max(x, axis=tuple(range(2, x.ndim)), keepdims=True)


def _channel(v, ndim):
    return T.reshape(v, [-1] + [1] * (ndim - 2))


@converter("BatchNormalization")
def batch_norm(ctx):
    x, scale, bias, mean, var = (ctx.x(i) for i in range(5))
    eps = ctx.attr("epsilon", 1e-5)
    extra = []
    if ctx.attr("training_mode", 0):
        axes = tuple(a for a in range(x.ndim) if a != 1)
        momentum = _f(mean, ctx.attr("momentum", 0.9))
        running_mean, running_var = mean, var
        mean = T.mean(x, axis=axes)
        var = T.var(x, axis=axes)
        extra = [running_mean * momentum + mean * (1 - momentum),
                 running_var * momentum + var * (1 - momentum)]
    inv = T.reciprocal(T.sqrt(var + _f(var, eps))) * scale
    shift = bias - mean * inv
    return [x * _channel(inv, x.ndim) + _channel(shift, x.ndim), *extra]


@converter("InstanceNormalization")
def instance_norm(ctx):
    x, scale, bias = ctx.x(0), ctx.x(1), ctx.x(2)
    eps = ctx.attr("epsilon", 1e-5)
    axes = tuple(range(2, x.ndim))
    mean = T.mean(x, axis=axes, keepdims=True)
    var = T.mean(T.square(x - mean), axis=axes, keepdims=True)
    y = (x - mean) / T.sqrt(var + _f(x, eps))
    return y * _channel(scale, x.ndim) + _channel(bias, x.ndim)


@converter("LayerNormalization")
def layer_norm(ctx):
    x, scale, bias = ctx.x(0), ctx.x(1), ctx.x(2)
    axis = ctx.attr("axis", -1) % x.ndim
    eps = ctx.attr("epsilon", 1e-5)
    stash = ctx.attr("stash_type", 1)
    axes = tuple(range(axis, x.ndim))
    xc = T.cast_to(x, "float32") if stash == 1 and x.dtype != "float64" else x
    mean = T.mean(xc, axis=axes, keepdims=True)
    d = xc - mean
    var = T.mean(d * d, axis=axes, keepdims=True)
    inv = T.reciprocal(T.sqrt(var + _f(var, eps)))
    y = T.cast_to(d * inv, x.dtype) * scale
    if bias is not None:
        y = y + bias
    return [y, mean, inv]


@converter("RMSNormalization")
def rms_norm(ctx):
    x, scale = ctx.x(0), ctx.x(1)
    axis = ctx.attr("axis", -1) % x.ndim
    eps = ctx.attr("epsilon", 1e-5)
    axes = tuple(range(axis, x.ndim))
    xc = T.cast_to(x, "float32") if ctx.attr("stash_type", 1) == 1 and x.dtype != "float64" else x
    ms = T.mean(xc * xc, axis=axes, keepdims=True)
    y = xc / T.sqrt(ms + _f(ms, eps))
    return T.cast_to(y, x.dtype) * scale


@converter("GroupNormalization")
def group_norm(ctx):
    x, scale, bias = ctx.x(0), ctx.x(1), ctx.x(2)
    g = ctx.attr("num_groups")
    eps = ctx.attr("epsilon", 1e-5)
    dims = shape_elems(x)
    xg = T.reshape(x, [dims[0], g, -1])
    mean = T.mean(xg, axis=2, keepdims=True)
    var = T.mean(T.square(xg - mean), axis=2, keepdims=True)
    y = T.reshape((xg - mean) / T.sqrt(var + _f(x, eps)), dims)
    c = x.type.shape[1]
    if scale.type.shape[0] != c:  # opset 18: one scale per group
        scale = T.repeat(scale, c // g)
        bias = T.repeat(bias, c // g)
    return y * _channel(scale, x.ndim) + _channel(bias, x.ndim)


@converter("MeanVarianceNormalization")
def mvn(ctx):
    x = ctx.x(0)
    axes = tuple(ctx.attr("axes", [0, 2, 3]))
    mean = T.mean(x, axis=axes, keepdims=True)
    var = T.mean(T.square(x - mean), axis=axes, keepdims=True)
    return (x - mean) / (T.sqrt(var) + _f(x, 1e-9))


@converter("LpNormalization")
def lp_norm(ctx):
    x = ctx.x(0)
    axis = ctx.attr("axis", -1)
    p = ctx.attr("p", 2)
    if p == 1:
        norm = T.sum(T.abs(x), axis=axis, keepdims=True)
    else:
        norm = T.sqrt(T.sum(x * x, axis=axis, keepdims=True))
    zero = T.equal(norm, _f(norm, 0))
    return T.where(zero, T.zeros_like(x), x / T.where(zero, T.ones_like(norm), norm))


@converter("LRN")
def lrn(ctx):
    x = ctx.x(0)
    size = ctx.attr("size")
    alpha, beta, bias = ctx.attr("alpha", 1e-4), ctx.attr("beta", 0.75), ctx.attr("bias", 1.0)
    sq = T.square(x)
    lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
    width = [(0, 0), (lo, hi)] + [(0, 0)] * (x.ndim - 2)
    padded = T.pad(sq, width)
    c = x.type.shape[1]
    total = padded[:, 0:c]
    for k in range(1, size):
        total = total + padded[:, k:k + c]
    return x / T.power(total * _f(x, alpha / size) + _f(x, bias), _f(x, beta))


def _softmax_axis(ctx, x, fn):
    axis = ctx.attr("axis", 1 if ctx.opset < 13 else -1)
    if ctx.opset < 13:
        axis %= max(x.ndim, 1)
        dims = shape_elems(x)
        flat = T.reshape(x, [_prod(dims[:axis]), _prod(dims[axis:])])
        return T.reshape(fn(flat, 1), dims)
    return fn(x, axis)


def _prod(values):
    out = 1
    for v in values:
        out = out * v
    return out


@converter("Softmax")
def softmax(ctx):
    return _softmax_axis(ctx, ctx.x(0), lambda v, a: NN.softmax(v, axis=a))


@converter("LogSoftmax")
def log_softmax(ctx):
    return _softmax_axis(ctx, ctx.x(0), lambda v, a: NN.log_softmax(v, axis=a))


@converter("Hardmax")
def hardmax(ctx):
    def fn(v, a):
        idx = T.argmax(v, axis=a, keepdims=True)
        n = v.type.shape[a]
        pos = T.as_variable(np.arange(n).reshape([-1] + [1] * (v.ndim - 1 - (a % v.ndim))))
        return T.cast_to(T.equal(idx, pos), v.dtype)
    return _softmax_axis(ctx, ctx.x(0), fn)


@converter("MatMul")
def matmul(ctx):
    a, b = ctx.x(0), ctx.x(1)
    return T.matmul(a, b)


@converter("Gemm")
def gemm(ctx):
    a, b, c = ctx.x(0), ctx.x(1), ctx.x(2)
    if ctx.attr("transA", 0):
        a = T.transpose(a)
    if ctx.attr("transB", 0):
        b = T.transpose(b)
    y = T.matmul(a, b)
    alpha, beta = ctx.attr("alpha", 1.0), ctx.attr("beta", 1.0)
    if alpha != 1.0:
        y = y * _f(y, alpha)
    if c is not None:
        y = y + (c * _f(c, beta) if beta != 1.0 else T.cast_to(c, y.dtype))
    return y


@converter("Einsum")
def einsum(ctx):
    return T.einsum(ctx.attr("equation").replace(" ", ""), *[v for v in ctx.xs() if v is not None])


@converter("Dropout")
def dropout(ctx):
    x = ctx.x(0)
    if ctx.has(2) and ctx.static(2) is not None and bool(ctx.static(2)) and ctx.static(1) is not None \
            and float(ctx.static(1)) > 0:
        ctx.fail("Dropout in training mode (random masks) is not imported; export in eval mode")
    return [x, T.ones_like(x, dtype="bool")]
