"""Faster formulations of max pooling that the compiler picks by shape
(compile/passes/formulate.py), each equal to ATen's NCHW pool.

Plain pooling over non-overlapping windows as maxima of strided views
(`MaxPool(formulation="strided")`), where it beats ATen's pooling kernel.

A window of kh x kw with stride equal to the kernel, no padding and no dilation is the
elementwise maximum of the kh row views x[..., i::kh, :] (unit-stride rows: vectorised),
then of the kw column views of that, y[..., j::kw]: a few passes over the input instead of
ATen's per-window loop over NCHW planes (LeNet's first pool: about 6x faster on one core). Results equal ATen's: the same maxima, NaN where a window holds one
(a window of +0 and -0 may give either zero). Only the plain pool has this form: the
training graph's pool that also returns each window's argmax keeps ATen's kernel (finding
the argmax from the views costs more than ATen's whole loop).

The pool that also returns the argmax, over many channels, as ATen's channels-last kernel
on a channels-last copy (`MaxPoolWithIndices(formulation="channels_last")`): it vectorises
over channels, and with 16 or more (a vector of float32) the copy and the pool together
take half the NCHW kernel's time (LeNet's second pool). The indices are the same (flat in
each plane); values and indices come back contiguous.
"""
from __future__ import annotations

import torch

aten = torch.ops.aten

MIN_CHANNELS_LAST = 16  # channels for which the channels-last pool pays for its copy
MAX_WINDOW = 9  # views per window: beyond 3x3, ATen's loop wins


def strided_pool_fits(kernel_size, stride, padding, dilation, shape) -> bool:
    """The shape rule: 2-D non-overlapping windows of at most MAX_WINDOW elements that fit
    the input at least once (ceil mode adds no partial window only when they tile it)."""
    if len(kernel_size) != 2 or tuple(kernel_size) != tuple(stride):
        return False
    if any(padding) or any(d != 1 for d in dilation) or kernel_size[0] * kernel_size[1] > MAX_WINDOW:
        return False
    return len(shape) in (3, 4) and all(s is not None and s >= k for s, k in zip(shape[-2:], kernel_size))


def _runs_here(x: torch.Tensor, kernel_size, ceil_mode: bool) -> bool:
    """What the shape rule cannot know: a CPU float tensor, and no partial ceil-mode window."""
    if not x.is_cpu or not x.dtype.is_floating_point:
        return False
    return not ceil_mode or (x.shape[-2] % kernel_size[0] == 0 and x.shape[-1] % kernel_size[1] == 0)


def _maximum(views):
    y = torch.maximum(views[0], views[1])
    for v in views[2:]:
        torch.maximum(y, v, out=y)
    return y


def _window_maxima(x, kernel_size):
    """Rows first, then columns: the maximum over a window's kh rows reads views whose last
    dimension is unit-stride (vectorised, at kw times the output's size), which leaves only
    kw - 1 passes over stride-kw views at the output's size (all kh * kw - 1 passes read
    strided views otherwise: the PP-OCR classifier's 2x2 pool over 200x2x96 took 3x longer)."""
    kh, kw = kernel_size
    ho, wo = x.shape[-2] // kh, x.shape[-1] // kw
    tiled = x.shape[-2] == ho * kh and x.shape[-1] == wo * kw
    rows = x if tiled else x[..., :ho * kh, :wo * kw]  # a slice call costs as much as a small pass
    if kh > 1:
        rows = _maximum([rows[..., i::kh, :] for i in range(kh)])
    if kw > 1:
        return _maximum([rows[..., j::kw] for j in range(kw)])
    return rows if kh > 1 else rows.clone()


def strided_max_pool(x, kernel_size, ceil_mode, aten_pool):
    """The pooled maxima; `aten_pool()` where the strided form does not apply."""
    if not _runs_here(x, kernel_size, ceil_mode):
        return aten_pool()
    return _window_maxima(x, kernel_size)


def with_indices_channels_last(x, aten_pool):
    """`aten_pool(x)` (values, indices) run on a channels-last copy of a 4-D CPU x."""
    if x.dim() != 4 or not x.is_cpu:
        return aten_pool(x)
    y, idx = aten_pool(x.contiguous(memory_format=torch.channels_last))
    return y.contiguous(), idx.contiguous()
