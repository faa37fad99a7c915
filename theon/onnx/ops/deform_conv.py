"""ONNX DeformConv (2-d) composed from theon ops, so it differentiates with respect to the
input, weights, offsets and mask.

Each output position's kernel taps are moved by their offsets (one (dy, dx) per tap and
offset group) and read bilinearly, corners outside the image reading 0 (GridSample with
align_corners=1 and zero padding, as the spec defines it); the taps, scaled by the mask,
form an im2col matrix that a grouped matmul with the weights turns into the output."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from . import converter


def _within(pos, size: int):
    """Whether integer-valued positions fall on the image's pixels 0 .. size-1."""
    return T.logical_and(T.greater_equal(pos, np.asarray(0, pos.dtype)),
                         T.less_equal(pos, np.asarray(size - 1, pos.dtype)))


def _bilinear_taps(x, py, px):
    """x (N, G, Cg, H, W); py, px (N, G, L) pixel coordinates -> (N, G, Cg, L)."""
    n, g, cg, h, w = x.type.shape
    flat = T.reshape(x, [T.dim(x, 0), g, cg, h * w])
    y0, x0 = T.floor(py), T.floor(px)
    fy, fx = py - y0, px - x0
    one = np.asarray(1.0, x.dtype)
    out = None
    for dy, wy in ((0, one - fy), (1, fy)):
        for dx, wx in ((0, one - fx), (1, fx)):
            yc, xc = y0 + np.asarray(dy, x.dtype), x0 + np.asarray(dx, x.dtype)
            inside = T.logical_and(_within(yc, h), _within(xc, w))
            index = T.cast_to(T.clip(yc, 0, h - 1) * np.asarray(w, x.dtype) + T.clip(xc, 0, w - 1), "int64")
            index = T.broadcast_to(T.expand_dims(index, 2), [T.dim(x, 0), g, cg, T.dim(py, 2)])
            weight = wy * wx * T.cast_to(inside, x.dtype)
            term = T.take_along_axis(flat, index, axis=3) * T.expand_dims(weight, 2)
            out = term if out is None else out + term
    return out


@converter("DeformConv")
def deform_conv(ctx):
    x, w, offset, b, mask = (ctx.x(i) for i in range(5))
    if x.ndim != 4 or None in x.type.shape[1:] or None in w.type.shape:
        ctx.fail(f"DeformConv is supported in 2-d with X's channels and spatial dims known when "
                 f"building, got X {x.type}, W {w.type}")
    _, c, h, wd = x.type.shape
    oc, cpg, kh, kw = w.type.shape
    group, ogroup = ctx.attr("group", 1), ctx.attr("offset_group", 1)
    sh, sw = ctx.attr("strides", [1, 1])
    dh, dw = ctx.attr("dilations", [1, 1])
    pt, pl, pb, pr = ctx.attr("pads", [0, 0, 0, 0])
    oh = (h + pt + pb - ((kh - 1) * dh + 1)) // sh + 1
    ow = (wd + pl + pr - ((kw - 1) * dw + 1)) // sw + 1
    k, length = kh * kw, oh * ow
    dt = x.dtype
    # where each tap of each output position reads without offsets: (K, L)
    base_y = (np.arange(kh)[:, None, None, None] * dh + np.arange(oh)[None, None, :, None] * sh - pt)
    base_x = (np.arange(kw)[None, :, None, None] * dw + np.arange(ow)[None, None, None, :] * sw - pl)
    base_y = np.broadcast_to(base_y, (kh, kw, oh, ow)).reshape(k * length).astype(dt)
    base_x = np.broadcast_to(base_x, (kh, kw, oh, ow)).reshape(k * length).astype(dt)
    n = T.dim(x, 0)
    off = T.reshape(offset, [n, ogroup, k, 2, length])
    py = T.reshape(off[:, :, :, 0], [n, ogroup, k * length]) + base_y
    px = T.reshape(off[:, :, :, 1], [n, ogroup, k * length]) + base_x
    taps = _bilinear_taps(T.reshape(x, [n, ogroup, c // ogroup, h, wd]), py, px)   # (N, G, Cg, K*L)
    if mask is not None:
        taps = taps * T.reshape(mask, [n, ogroup, 1, k * length])
    cols = T.reshape(taps, [n, group, cpg * k, length])
    weights = T.reshape(w, [group, oc // group, cpg * k])
    y = T.reshape(T.matmul(weights, cols), [n, oc, oh, ow])
    return y if b is None else y + T.reshape(b, [1, oc, 1, 1])
