"""Integer and quantised ONNX ops composed from theon ops (computed in float32 or int64)."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from ...ops import nn as NN
from . import converter
from .nn import _explicit_pads, _pad_spatial


def _deq(x, scale, zero):
    y = T.cast_to(x, "float32")
    if zero is not None:
        y = y - T.cast_to(zero, "float32")
    return y * T.cast_to(scale, "float32") if scale is not None else y


def _quant(y, scale, zero, dtype):
    q = T.round(y / T.cast_to(scale, "float32"))
    if zero is not None:
        q = q + T.cast_to(zero, "float32")
    info = np.iinfo(dtype)
    return T.cast_to(T.clip(q, float(info.min), float(info.max)), dtype)


def _row(v, a_rank):
    """A per-row scale/zero point of a matmul's left operand broadcasts over columns."""
    return T.expand_dims(v, -1) if v.ndim == 1 and v.type.shape[0] not in (None, 1) else v


@converter("QLinearMatMul")
def qlinear_matmul(ctx):
    a, sa, za, b, sb, zb, sy, zy = (ctx.x(i) for i in range(8))
    fa = _deq(a, _row(sa, a.ndim), _row(za, a.ndim) if za is not None else None)
    fb = _deq(b, sb, zb)
    return _quant(T.matmul(fa, fb), sy, zy, zy.dtype)


@converter("MatMulInteger")
def matmul_integer(ctx):
    a, b, za, zb = ctx.x(0), ctx.x(1), ctx.x(2), ctx.x(3)
    a = T.cast_to(a, "int64") - (T.cast_to(_row(za, a.ndim), "int64") if za is not None else 0)
    b = T.cast_to(b, "int64") - (T.cast_to(zb, "int64") if zb is not None else 0)
    return T.cast_to(T.matmul(T.cast_to(a, "float64"), T.cast_to(b, "float64")), "int32")


@converter("ConvInteger")
def conv_integer(ctx):
    x, w, zx, zw = ctx.x(0), ctx.x(1), ctx.x(2), ctx.x(3)
    xf = T.cast_to(x, "float64") - (T.cast_to(zx, "float64") if zx is not None else 0)
    if zw is not None and zw.ndim == 1:   # one zero point per output channel
        zw = T.reshape(zw, [-1] + [1] * (w.ndim - 1))
    wf = T.cast_to(w, "float64") - (T.cast_to(zw, "float64") if zw is not None else 0)
    return T.cast_to(_conv_with(ctx, xf, wf, None), "int32")


def _conv_with(ctx, x, w, b):
    n = x.ndim - 2
    kernel = ctx.attr("kernel_shape") or list(w.type.shape[2:])
    strides = ctx.attr("strides", [1] * n)
    dilations = ctx.attr("dilations", [1] * n)
    pads = _explicit_pads(ctx, x, kernel, strides, dilations)
    x = _pad_spatial(x, pads)
    fn = {1: NN.conv1d, 2: NN.conv2d, 3: NN.conv3d}[n]
    return fn(x, w, b, stride=strides, padding=0, dilation=dilations, groups=ctx.attr("group", 1))


@converter("QLinearConv")
def qlinear_conv(ctx):
    x, sx, zx, w, sw, zw, sy, zy, b = (ctx.x(i) for i in range(9))
    xf = _deq(x, sx, zx)
    wshape = [-1] + [1] * (w.ndim - 1)
    sw_ = T.reshape(sw, wshape) if sw.ndim == 1 else sw
    zw_ = (T.reshape(zw, wshape) if zw.ndim == 1 else zw) if zw is not None else None
    wf = _deq(w, sw_, zw_)
    bias = None if b is None else T.cast_to(b, "float32") * T.cast_to(sx, "float32") * T.cast_to(sw, "float32")
    return _quant(_conv_with(ctx, xf, wf, bias), sy, zy, zy.dtype)


@converter("DynamicQuantizeLinear")
def dynamic_quantize_linear(ctx):
    x = ctx.x(0)
    lo = T.minimum(T.min(x), np.float32(0))
    hi = T.maximum(T.max(x), np.float32(0))
    scale = (hi - lo) / np.float32(255)
    zero = T.clip(T.round(-lo / scale), 0.0, 255.0)
    y = T.clip(T.round(x / scale) + zero, 0.0, 255.0)
    return [T.cast_to(y, "uint8"), scale, T.cast_to(zero, "uint8")]
