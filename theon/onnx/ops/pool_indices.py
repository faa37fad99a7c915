"""MaxPool's Indices output and MaxUnpool, in ONNX's flat-index convention.

ONNX indexes the whole input tensor: index = (n * C + c) * plane + position, where the
position in the (unpadded) spatial plane is row-major, or column-major with
storage_order=1 (h + w * H for 2-d). theon's pool op (ATen's) gives the position in the
padded plane it pooled; the indices are converted with integer arithmetic."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from ...ops.nn_pool import MaxPoolWithIndices
from ...ops.scatter import scatter_elements
from . import converter


def _channel_offsets(x, plane: int):
    """(N, C, 1, ...) int64: where each (n, c) plane starts in the flattened x."""
    n, c = T.dim(x, 0), T.dim(x, 1)
    starts = T.arange(n * c) * np.int64(plane)
    return T.reshape(starts, [n, c] + [1] * (x.ndim - 2))


def onnx_indices(local, padded_sizes, pads, sizes, column_major: bool, x):
    """Positions in the padded plane (ATen's) -> ONNX flat indices into unpadded x."""
    coords, rest = [], local
    for size in reversed(padded_sizes):   # unravel, last dim fastest
        coords.append(rest % np.int64(size))
        rest = rest // np.int64(size)
    coords = [c - np.int64(b) for c, (b, _) in zip(reversed(coords), pads)]
    order = list(range(len(sizes)))
    if column_major:
        order.reverse()
    flat = None
    for i in order:                        # ravel in the chosen order
        flat = coords[i] if flat is None else flat * np.int64(sizes[i]) + coords[i]
    return flat + _channel_offsets(x, int(np.prod(sizes)))


def max_pool_with_indices(ctx, x, kernel, strides, dilations, pads, ceil):
    """(values, ONNX indices) of MaxPool over x (N, C, *spatial), 1 to 3 spatial dims."""
    n = x.ndim - 2
    sizes = list(x.type.shape[2:])
    if None in sizes or n > 3 or not x.dtype.startswith("float"):
        ctx.fail(f"MaxPool's Indices output needs a float input with 1 to 3 spatial dims "
                 f"known when building, got {x.type}")
    width = [(0, 0), (0, 0)] + [tuple(p) for p in pads]
    xp = T.pad(x, width, constant_values=-np.inf) if any(b or e for b, e in pads) else x
    padded = [s + b + e for s, (b, e) in zip(sizes, pads)]
    if n == 1:   # ATen pools 1-d as 2-d over (1, L)
        xp, kernel, strides, dilations = (T.expand_dims(xp, 2), [1, *kernel], [1, *strides],
                                          [1, *dilations])
    op = MaxPoolWithIndices(kernel_size=tuple(kernel), stride=tuple(strides), padding=(0,) * len(kernel),
                            ceil_mode=ceil, dilation=tuple(dilations))
    y, local = op(xp)
    if n == 1:
        y, local = T.squeeze(y, 2), T.squeeze(local, 2)
    column_major = bool(ctx.attr("storage_order", 0)) and n > 1
    return y, onnx_indices(local, padded, pads, sizes, column_major, x)


@converter("MaxUnpool")
def max_unpool(ctx):
    """Each value of X put at its flat index in zeros of the size a MaxPool with these
    attributes would have pooled; an explicit output_shape larger than that gets that
    block in its leading corner, as ONNX's reference places it."""
    x, idx = ctx.x(0), ctx.x(1)
    n = x.ndim - 2
    kernel = list(ctx.attr("kernel_shape"))
    strides = ctx.attr("strides", [1] * n)
    p = ctx.attr("pads", [0] * (2 * n))
    sizes = x.type.shape[2:]
    if None in sizes:
        ctx.fail(f"MaxUnpool needs the spatial dims known when building, got {x.type}")
    inferred = [(s - 1) * st - (p[i] + p[i + n]) + k
                for i, (s, st, k) in enumerate(zip(sizes, strides, kernel))]
    lead = [T.dim(x, 0), T.dim(x, 1)]
    plane = int(np.prod(inferred))
    zeros = T.zeros([T.dim(x, 0) * T.dim(x, 1) * np.int64(plane)], x.dtype)
    out = scatter_elements(zeros, T.reshape(T.cast(idx, "int64"), [-1]), T.reshape(x, [-1]))
    y = T.reshape(out, lead + inferred)
    if ctx.has(2):
        target = [int(v) for v in np.asarray(ctx.const(2, "output_shape")).reshape(-1)][2:]
        grow = [t - s for t, s in zip(target, inferred)]
        if any(g < 0 for g in grow):
            ctx.fail(f"output_shape {target} is smaller than the unpooled size {inferred}")
        if any(grow):
            y = T.pad(y, [(0, 0), (0, 0)] + [(0, g) for g in grow])
    return y
