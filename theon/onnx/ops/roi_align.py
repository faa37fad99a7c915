"""ONNX RoiAlign as matrix products, so it differentiates with respect to X and the boxes.

Each output bin samples a sampling_ratio x sampling_ratio grid of points; a point's value
is the bilinear blend of its four neighbouring pixels, w_ab * X[y_a, x_b] (a, b: low or
high corner). The blend separates: with Wy_a (R, points, H) holding each point's row
weight at its row y_a, and Wx_b likewise for columns, Wy_a @ X[roi's image] @ Wx_b^T is
every point's term (a, b) at once. 'avg' averages the sum of the four terms over the
grid, 'max' takes the largest term (the reference's rule) over the grid."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from . import converter


def _corner_weights(start, bin_size, pooled: int, ratio: int, size: int, dtype: str):
    """(low, high) weight matrices (R, pooled * ratio, size) for one axis, zero rows for
    points outside [-1, size]; start and bin_size are (R,)."""
    steps = (np.arange(pooled)[:, None] + (np.arange(ratio)[None, :] + 0.5) / ratio).reshape(-1)
    pos = start[:, None] + bin_size[:, None] * steps.astype(dtype)      # (R, P)
    inside = T.cast(T.logical_and(T.greater_equal(pos, np.asarray(-1.0, dtype)),
                                  T.less_equal(pos, np.asarray(size, dtype))), dtype)
    pos = T.maximum(pos, np.asarray(0.0, dtype))
    low = T.floor(pos)
    at_edge = T.greater_equal(low, np.asarray(size - 1, dtype))
    low = T.where(at_edge, np.asarray(size - 1, dtype), low)
    frac = T.where(at_edge, np.asarray(0.0, dtype), pos - low)          # weight of the high pixel
    high = T.where(at_edge, low, low + np.asarray(1.0, dtype))
    grid = np.arange(size).astype(dtype)
    hot_low = T.cast(T.equal(T.expand_dims(low, -1), grid), dtype)
    hot_high = T.cast(T.equal(T.expand_dims(high, -1), grid), dtype)
    w_low = T.expand_dims((np.asarray(1.0, dtype) - frac) * inside, -1) * hot_low
    w_high = T.expand_dims(frac * inside, -1) * hot_high
    return w_low, w_high


@converter("RoiAlign")
def roi_align(ctx):
    x, rois, batch = ctx.x(0), ctx.x(1), ctx.x(2)
    if x.ndim != 4 or None in x.type.shape[2:]:
        ctx.fail(f"RoiAlign needs X (N, C, H, W) with H and W known when building, got {x.type}")
    dtype = x.dtype
    out_h, out_w = ctx.attr("output_height", 1), ctx.attr("output_width", 1)
    ratio = ctx.attr("sampling_ratio", 0)
    if ratio <= 0:
        ctx.fail("RoiAlign with sampling_ratio 0 (a grid sized by each box, known only when "
                 "run) is not supported; give sampling_ratio > 0")
    mode = ctx.attr("mode", "avg")
    # opset 16 added half_pixel; the default before it (and of output_half_pixel) is no offset
    half_pixel = ctx.attr("coordinate_transformation_mode",
                          "half_pixel" if ctx.opset >= 16 else "output_half_pixel") == "half_pixel"
    scale = np.asarray(ctx.attr("spatial_scale", 1.0), dtype)
    offset = np.asarray(0.5 if half_pixel else 0.0, dtype)
    boxes = T.cast(rois, dtype) * scale - offset                         # x1, y1, x2, y2
    x1, y1, x2, y2 = (boxes[:, i] for i in range(4))
    roi_w, roi_h = x2 - x1, y2 - y1
    if not half_pixel:   # malformed boxes become 1 x 1, as the reference does
        one = np.asarray(1.0, dtype)
        roi_w, roi_h = T.maximum(roi_w, one), T.maximum(roi_h, one)
    height, width = x.type.shape[2:]
    wy = _corner_weights(y1, roi_h / np.asarray(out_h, dtype), out_h, ratio, height, dtype)
    wx = _corner_weights(x1, roi_w / np.asarray(out_w, dtype), out_w, ratio, width, dtype)
    images = T.take(x, T.cast(batch, "int64"), axis=0)                   # (R, C, H, W)
    terms = [T.matmul(T.matmul(T.expand_dims(a, 1), images), T.expand_dims(T.transpose(b, (0, 2, 1)), 1))
             for a in wy for b in wx]                                    # each (R, C, Ph*r, Pw*r)
    if mode == "avg":
        points = terms[0] + terms[1] + terms[2] + terms[3]
    elif mode == "max":
        points = T.maximum(T.maximum(terms[0], terms[1]), T.maximum(terms[2], terms[3]))
    else:
        ctx.fail(f"RoiAlign mode {mode!r}: ONNX has 'avg' and 'max'")
    n_rois, channels = T.dim(rois, 0), T.dim(x, 1)
    grid = T.reshape(points, [n_rois, channels, out_h, ratio, out_w, ratio])
    if mode == "avg":
        return T.mean(grid, axis=(3, 5))
    return T.max(grid, axis=(3, 5))
