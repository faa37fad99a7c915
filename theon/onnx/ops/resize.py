"""ONNX Resize/Upsample as gathers and weighted sums along each resized axis, with the
source positions and weights computed in NumPy when building (so gradients flow through
ordinary theon ops). Integer nearest upsampling of dims unknown when building repeats."""
from __future__ import annotations

import math

import numpy as np

from ... import ops as T
from . import converter


def _source(mode, o, in_len, out_len, scale, roi=None):
    """Source coordinates of output positions o. ONNX's resized length in these formulas is
    in_len * scale (not floored: with scales given it need not be a whole number)."""
    length = in_len * scale
    if mode == "half_pixel":
        return (o + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        adj = out_len / length
        center = in_len / 2
        offset = center * (1 - adj)
        return offset + (o + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (o + 0.5) / scale - 0.5 if length != 1 else np.full_like(o, -0.5)
    if mode == "align_corners":
        return o * (in_len - 1) / (length - 1) if length != 1 else np.zeros_like(o)
    if mode == "asymmetric":
        return o / scale
    if mode == "tf_half_pixel_for_nn":
        return (o + 0.5) / scale
    if mode == "tf_crop_and_resize":
        start, end = roi
        if length != 1:
            return start * (in_len - 1) + o * (end - start) * (in_len - 1) / (length - 1)
        return np.full_like(o, start * (in_len - 1) + 0.5 * (end - start) * (in_len - 1))
    raise ValueError(f"coordinate_transformation_mode {mode!r} is not supported")


def _nearest(x, mode):
    if mode == "round_prefer_floor":
        return np.where(x - np.floor(x) == 0.5, np.floor(x), np.round(x))
    if mode == "round_prefer_ceil":
        return np.where(x - np.floor(x) == 0.5, np.ceil(x), np.round(x))
    if mode == "floor":
        return np.floor(x)
    if mode == "ceil":
        return np.ceil(x)
    raise ValueError(f"nearest_mode {mode!r} is not supported")


def _cubic(t, a):
    t = np.abs(t)
    return np.where(t <= 1, ((a + 2) * t - (a + 3)) * t * t + 1,
                    np.where(t < 2, ((a * t - 5 * a) * t + 8 * a) * t - 4 * a, 0.0))


def axis_taps(attrs, in_len, out_len, scale, roi=None):
    """[(indices, weights, valid)] taps for one axis: out[o] = sum_k w_k[o] * in[idx_k[o]]."""
    mode = attrs.get("mode", "nearest")
    ctm = attrs.get("coordinate_transformation_mode", "half_pixel")
    o = np.arange(out_len, dtype=np.float64)
    x = _source(ctm, o, in_len, out_len, scale, roi)
    outside = (x < 0) | (x > in_len - 1) if ctm == "tf_crop_and_resize" else None
    if mode == "nearest":
        idx = np.clip(_nearest(x, attrs.get("nearest_mode", "round_prefer_floor")), 0, in_len - 1).astype(np.int64)
        return [(idx, np.ones(out_len)) ], outside
    if mode == "linear":
        x = np.clip(x, 0, in_len - 1) if ctm != "tf_crop_and_resize" else x
        i0 = np.floor(x)
        w1 = x - i0
        a = np.clip(i0, 0, in_len - 1).astype(np.int64)
        b = np.clip(i0 + 1, 0, in_len - 1).astype(np.int64)
        return [(a, 1 - w1), (b, w1)], outside
    if mode == "cubic":
        A = attrs.get("cubic_coeff_a", -0.75)
        i0 = np.floor(x)
        taps = []
        ws = []
        for k in (-1, 0, 1, 2):
            idx = i0 + k
            w = _cubic(x - idx, A)
            if attrs.get("exclude_outside", 0):
                w = np.where((idx < 0) | (idx > in_len - 1), 0.0, w)
            ws.append(w)
            taps.append(np.clip(idx, 0, in_len - 1).astype(np.int64))
        if attrs.get("exclude_outside", 0):
            total = sum(ws)
            ws = [w / total for w in ws]
        return list(zip(taps, ws)), outside
    raise ValueError(f"Resize mode {mode!r} is not supported")


def _antialias_coeffs(mode, ratio, scale, a):
    """ONNX's antialiased filter weights around a point `ratio` past a pixel: the kernel
    stretched by 1/scale, normalised to sum to 1."""
    scale = min(scale, 1.0)
    if mode == "linear":
        start = int(np.floor(-1 / scale) + 1)
        t = (np.arange(start, start + 2 - 2 * start) - ratio) * scale
        w = np.clip(1 - np.abs(t), 0, 1)
    else:
        start = int(np.floor(-2 / scale) + 1)
        w = _cubic(scale * (np.arange(start, 2 - start) - ratio), a)
    return w / w.sum()


def _antialias_taps(attrs, in_len, out_len, scale, roi=None):
    """Linear/cubic antialias, as ONNX's reference: the n pixels nearest each source point
    (ties to the smaller), edge pixels repeated past the ends, optionally excluded."""
    mode = attrs.get("mode")
    ctm = attrs.get("coordinate_transformation_mode", "half_pixel")
    x = _source(ctm, np.arange(out_len, dtype=np.float64), in_len, out_len, scale, roi)
    floor = np.floor(x)
    ratios = np.where(x == floor, 1.0, x - floor)      # an exact pixel counts as the left one's end
    a = attrs.get("cubic_coeff_a", -0.75)
    coeffs = np.stack([_antialias_coeffs(mode, r, scale, a) for r in ratios])
    n = coeffs.shape[1]
    pad = int(np.ceil(n / 2))
    p = np.floor(x + pad)
    frac = x + pad - p
    if n % 2 == 0:
        shift = np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        shift = np.where(frac <= 0.5, -((n - 1) // 2), -((n - 1) // 2) + 1)
    idx = (p + shift)[:, None] + np.arange(n)[None, :] - pad
    if attrs.get("exclude_outside", 0):
        coeffs = np.where((idx < 0) | (idx >= in_len), 0.0, coeffs)
        total = coeffs.sum(axis=1, keepdims=True)
        coeffs = coeffs / np.where(total == 0, 1.0, total)
    idx = np.clip(idx, 0, in_len - 1).astype(np.int64)
    outside = (x < 0) | (x > in_len - 1) if ctm == "tf_crop_and_resize" else None
    return [(idx[:, j], coeffs[:, j]) for j in range(n)], outside


def _resize_axis(x, axis, taps, outside, extrapolation):
    out = None
    shape = [1] * x.ndim
    shape[axis] = -1
    for idx, w in taps:
        part = T.take(x, T.as_variable(idx), axis=axis)
        if not np.all(w == 1):
            part = part * T.as_variable(w.reshape(shape).astype(x.dtype))
        out = part if out is None else out + part
    if outside is not None and outside.any():
        out = T.where(T.as_variable(outside.reshape(shape)), T.as_variable(np.asarray(extrapolation, x.dtype)), out)
    return out


def resize(ctx, x, scales, sizes, roi):
    attrs = {k: v for k, v in ctx.attrs.items()}
    axes = ctx.attr("axes")
    n = x.ndim
    axes = list(range(n)) if axes is None else [a % n for a in axes]
    full_scales = [1.0] * n
    full_sizes = [None] * n
    if sizes is not None and len(sizes):
        sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
        policy = ctx.attr("keep_aspect_ratio_policy", "stretch")
        in_dims = [x.type.shape[a] for a in axes]
        if None in in_dims:
            ctx.fail(f"Resize to given sizes needs the input's dims when building ({x.type})")
        if policy != "stretch":
            ratios = [s / d for s, d in zip(sizes, in_dims)]
            r = min(ratios) if policy == "not_larger" else max(ratios)
            sizes = [int(math.floor(d * r + 0.5)) for d in in_dims]
            scales_ax = [r] * len(axes)
        else:
            scales_ax = [s / d for s, d in zip(sizes, in_dims)]
        for a, s, sc in zip(axes, sizes, scales_ax):
            full_sizes[a], full_scales[a] = s, sc
    else:
        scales = [float(s) for s in np.asarray(scales).reshape(-1)]
        for a, sc in zip(axes, scales):
            full_scales[a] = sc
            d = x.type.shape[a]
            full_sizes[a] = None if d is None else int(math.floor(d * sc))
    rois = None
    if roi is not None and np.asarray(roi).size:
        r = np.asarray(roi, dtype=np.float64).reshape(-1)
        k = len(r) // 2
        rois = {a: (r[i], r[i + k]) for i, a in enumerate(axes if k == len(axes) else range(n))}
    mode = attrs.get("mode", "nearest")
    out = x
    for a in range(n):
        sc, size, d = full_scales[a], full_sizes[a], x.type.shape[a]
        if a not in axes or (sc == 1.0 and (size is None or size == d)
                             and attrs.get("coordinate_transformation_mode") != "tf_crop_and_resize"):
            continue
        if d is None:
            if mode == "nearest" and float(sc).is_integer() and sc >= 1 and \
                    attrs.get("coordinate_transformation_mode", "half_pixel") == "asymmetric" and \
                    attrs.get("nearest_mode", "round_prefer_floor") in ("floor", "round_prefer_floor") and sc <= 2:
                out = T.repeat(out, int(sc), axis=a)
                continue
            if mode == "nearest" and float(sc).is_integer() and \
                    attrs.get("coordinate_transformation_mode", "half_pixel") == "asymmetric" and \
                    attrs.get("nearest_mode") == "floor":
                out = T.repeat(out, int(sc), axis=a)
                continue
            ctx.fail(f"Resize of dim {a}, unknown when building ({x.type}), with mode {mode!r}: theon "
                     f"needs the input size except for integer nearest upsampling")
        roi_a = (0.0, 1.0) if rois is None else rois.get(a, (0.0, 1.0))
        if attrs.get("antialias", 0) and mode in ("linear", "cubic") and sc < 1:
            taps, outside = _antialias_taps(attrs, d, size, sc, roi_a)
        else:
            taps, outside = axis_taps(attrs, d, size, sc, roi_a)
        out = _resize_axis(out, a, taps, outside, attrs.get("extrapolation_value", 0.0))
    return out


@converter("Resize")
def resize_op(ctx):
    x = ctx.x(0)
    if ctx.opset < 11:
        scales = ctx.const(1, "scales")
        return resize(ctx, x, scales, None, None)
    # the region of interest matters only to tf_crop_and_resize, which then needs its values
    crop = ctx.attr("coordinate_transformation_mode") == "tf_crop_and_resize"
    roi = (ctx.const(1, "roi") if crop else ctx.static(1)) if ctx.has(1) else None
    scales = ctx.const(2, "scales") if ctx.has(2) else None
    sizes = ctx.const(3, "sizes") if ctx.has(3) else None
    if scales is not None and np.asarray(scales).size == 0:
        scales = None
    return resize(ctx, x, scales, sizes, roi)


@converter("Upsample")
def upsample(ctx):
    x = ctx.x(0)
    scales = ctx.attr("scales") if ctx.opset < 9 else ctx.const(1, "scales")
    ctx.attrs = dict(ctx.attrs)
    ctx.attrs.setdefault("coordinate_transformation_mode", "asymmetric")
    if ctx.attrs.get("mode", "nearest") == "nearest":
        ctx.attrs["nearest_mode"] = "floor"
    return resize(ctx, x, scales, None, None)
