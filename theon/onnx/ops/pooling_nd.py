"""Pooling over any number of spatial dims, with dilation and ceil mode, written as a
max/sum over the kernel's offsets of strided slices of the padded input (shapes must be
known when building). Used where theon's 2-d pooling ops do not reach: 3-d windows and
dilated average/Lp pooling."""
from __future__ import annotations

import itertools

import numpy as np

from ... import ops as T


def _out_len(size, pad_b, pad_e, k, s, d, ceil):
    eff = (k - 1) * d + 1
    span = size + pad_b + pad_e - eff
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= size + pad_b:
        out -= 1
    return out, max((out - 1) * s + eff - (size + pad_b + pad_e), 0)


def pool_by_slices(x, kernel, strides, dilations, pads, ceil, kind, count_include_pad=False, p=2):
    """kind: 'max', 'avg' or 'lp' over windows of x (N, C, *spatial)."""
    sizes = x.type.shape[2:]
    if None in sizes:
        raise ValueError(f"pooling with these attributes needs the spatial dims when building, got {x.type}")
    outs, ends = [], []
    for size, (b, e), k, s, d in zip(sizes, pads, kernel, strides, dilations):
        o, extra = _out_len(size, b, e, k, s, d, ceil)
        outs.append(o)
        ends.append(e + extra)
    if kind == "max":
        fill = -np.inf if x.dtype.startswith("float") else np.iinfo(x.dtype).min
        src = x
    elif kind == "lp":
        fill, src = 0, T.power(T.abs(x), np.asarray(p, x.dtype))
    else:
        fill, src = 0, x
    width = [(0, 0), (0, 0)] + [(b, e) for (b, _), e in zip(pads, ends)]
    xp = T.pad(src, width, constant_values=fill)
    mask = None
    if kind == "avg":
        ones = T.ones_like(x)
        inner = [(0, 0), (0, 0)] + list(pads)
        m = T.pad(ones, inner, constant_values=1.0 if count_include_pad else 0.0)
        mask = T.pad(m, [(0, 0), (0, 0)] + [(0, e - pe) for e, (_, pe) in zip(ends, pads)])
    acc = macc = None
    for offsets in itertools.product(*[range(k) for k in kernel]):
        key = (slice(None), slice(None)) + tuple(
            slice(o * d, o * d + (n - 1) * s + 1, s) for o, d, n, s in zip(offsets, dilations, outs, strides))
        part = xp[key]
        if kind == "max":
            acc = part if acc is None else T.maximum(acc, part)
        else:
            acc = part if acc is None else acc + part
            if mask is not None:
                mp = mask[key]
                macc = mp if macc is None else macc + mp
    if kind == "avg":
        return acc / macc
    if kind == "lp":
        return T.power(acc, np.asarray(1.0 / p, x.dtype))
    return acc
