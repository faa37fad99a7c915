"""Faster formulations of 2-D convolution on the CPU that the compiler picks by shape
(compile/passes/formulate.py): `Conv(formulation=...)`, equal to ATen's convolution up to
rounding (the same products, summed in another order).

- "channels_last": the input in channels-last memory order before ATen's convolution, so
  oneDNN reads and writes NHWC directly instead of reordering NCHW to its blocked layout
  and back on every call. Used for grouped (depthwise) convolutions, whose time on small
  mobile-network shapes is mostly those reorders: about half of it goes. The output is
  channels-last too, and so stay the elementwise ops after it and the convolutions they
  feed, so the copy is paid once, where a chain of NCHW values enters.
- "matmul": a 1x1 convolution with stride 1 and no padding is a matrix product over the
  channels: one GEMM (with the bias added in it) on a view of the input, in whichever of
  the two memory orders the input comes, instead of ATen's convolution path, whose fixed
  cost dominates at these sizes (PP-OCR's pointwise convolutions at batch 1: 20-60 %).
  The formulate pass runs it as ops/nn_conv_pointwise.py's `pointwise_conv` (weight
  already a matrix, activation in place); a Conv built with this formulation still runs it.

Other devices and dtypes run ATen's convolution unchanged.
"""
from __future__ import annotations

import torch

CHANNELS_LAST = torch.channels_last


def runs_here(x: torch.Tensor) -> bool:
    return x.is_cpu and x.dtype == torch.float32 and x.dim() == 4


def channels_last_input(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=CHANNELS_LAST) if runs_here(x) else x


def pointwise_matmul(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None):
    """conv2d(x, w, b) for a 1x1 w, stride 1, no padding, one group; None when x is in
    neither plain nor channels-last order (the caller then runs ATen's convolution)."""
    return matmul_over_channels(x, w.reshape(w.shape[0], w.shape[1]), b)


def matmul_over_channels(x: torch.Tensor, w2: torch.Tensor, b: torch.Tensor | None):
    """conv2d(x, w2[:, :, None, None], b) for a (Co, C) matrix w2, as pointwise_matmul; a
    fresh output, so the caller may apply an activation in place."""
    n, c, h, wd = x.shape
    co = w2.shape[0]
    if x.is_contiguous():
        if n == 1:
            x2 = x.view(c, h * wd)
            y = torch.mm(w2, x2) if b is None else torch.addmm(b.view(co, 1), w2, x2)
            return y.view(1, co, h, wd)
        y = torch.matmul(w2, x.view(n, c, h * wd))
        if b is not None:
            y.add_(b.view(co, 1))
        return y.view(n, co, h, wd)
    if x.is_contiguous(memory_format=CHANNELS_LAST):
        x2 = x.permute(0, 2, 3, 1).view(n * h * wd, c)  # rows of channels: a view
        y = torch.mm(x2, w2.t()) if b is None else torch.addmm(b, x2, w2.t())
        return y.view(n, h, wd, co).permute(0, 3, 1, 2)  # (N, Co, H, W) in channels-last order
    return None
