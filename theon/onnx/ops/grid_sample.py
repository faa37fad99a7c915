"""ONNX GridSample (any number of spatial dims) composed from theon ops: sample positions
are computed as tensors, neighbours gathered with take_along_axis and blended with
linear, cubic or nearest weights; zeros/border/reflection padding as in the spec."""
from __future__ import annotations

import itertools
import math

import numpy as np

from ... import ops as T
from . import converter


def _reflect(v, lo, hi):
    rng = hi - lo
    below, above = T.less(v, lo), T.greater(v, hi)
    dx = T.where(below, lo - v, v - hi)
    n = T.floor(dx / rng)
    r = dx - n * rng
    even = T.equal(T.mod(n, np.asarray(2, v.dtype)), np.asarray(0, v.dtype))
    return T.where(below, T.where(even, lo + r, hi - r), T.where(above, T.where(even, hi - r, lo + r), v))


def _cubic_coeffs(t):
    a = -0.75

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    one = np.asarray(1, t.dtype)
    two = np.asarray(2, t.dtype)
    return [far(t + one), near(t), near(one - t), far(two - t)]


@converter("GridSample")
def grid_sample(ctx):
    x, grid = ctx.x(0), ctx.x(1)
    mode = ctx.attr("mode", "linear" if ctx.opset >= 20 else "bilinear")
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    padding = ctx.attr("padding_mode", "zeros")
    align = bool(ctx.attr("align_corners", 0))
    dims = list(x.type.shape[2:])
    out_dims = list(grid.type.shape[1:-1])
    if None in dims or None in out_dims or None in x.type.shape[:2]:
        ctx.fail("GridSample needs the input and grid shapes when building")
    n, c = x.type.shape[:2]
    k = len(dims)
    dt = x.dtype
    npos = math.prod(out_dims)
    g = T.reshape(T.cast_to(grid, dt), [n, npos, k])
    coords, taps = [], []
    for axis in range(k):
        size = dims[axis]
        v = g[:, :, k - 1 - axis]  # the grid lists x (the last dim) first
        v = (v + np.asarray(1, dt)) / np.asarray(2, dt) * np.asarray(size - 1, dt) if align else \
            ((v + np.asarray(1, dt)) * np.asarray(size, dt) - np.asarray(1, dt)) / np.asarray(2, dt)
        if mode == "nearest":
            v = T.round(v)
        lo, hi = (0.0, size - 1.0) if align else (-0.5, size - 0.5)
        lo_v, hi_v = np.asarray(lo, dt), np.asarray(hi, dt)
        if padding == "border":
            v = T.clip(v, 0.0, float(size - 1))
        elif padding == "reflection":
            v = _reflect(v, lo_v, hi_v)
        coords.append((v, lo_v, hi_v))
        if mode == "nearest":
            taps.append([(v, None)])
        else:
            base = T.floor(v)
            t = v - base
            if mode == "linear":
                taps.append([(base, np.asarray(1, dt) - t), (base + np.asarray(1, dt), t)])
            else:
                ws = _cubic_coeffs(t)
                taps.append([(base + np.asarray(o, dt), w) for o, w in zip((-1, 0, 1, 2), ws)])
    flat = T.reshape(x, [n, c, math.prod(dims)])
    strides = [math.prod(dims[a + 1:]) for a in range(k)]
    out = None
    for combo in itertools.product(*taps):
        index = None
        weight = None
        valid = None
        for axis, (pos, w) in enumerate(combo):
            size = dims[axis]
            _, lo_v, hi_v = coords[axis]
            if padding == "reflection":
                r = _reflect(pos, lo_v, hi_v)
                pos = T.sign(r) * T.floor(T.abs(r))
            inside = T.logical_and(T.greater_equal(pos, np.asarray(0, dt)),
                                   T.less_equal(pos, np.asarray(size - 1, dt)))
            idx = T.cast_to(T.clip(pos, 0.0, float(size - 1)), "int64")
            index = idx * np.int64(strides[axis]) if index is None else index + idx * np.int64(strides[axis])
            if w is not None:
                weight = w if weight is None else weight * w
            if padding == "zeros":
                valid = inside if valid is None else T.logical_and(valid, inside)
        gathered = T.take_along_axis(flat, T.broadcast_to(T.expand_dims(index, 1), [n, c, npos]), 2)
        if valid is not None:
            weight = T.cast_to(valid, dt) if weight is None else weight * T.cast_to(valid, dt)
        term = gathered if weight is None else gathered * T.expand_dims(weight, 1)
        out = term if out is None else out + term
    return T.reshape(out, [n, c] + out_dims)
