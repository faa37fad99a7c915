"""What a generated conv+ReLU+max-pool kernel is specialised to, shared by its two backends
(conv_pool_cpp.py's C++ on the CPU, conv_pool_triton.py's Triton on CUDA), and the names of
the two functions each backend's build defines, so the ops (conv_pool.py) call either alike:

    conv_relu_pool(x, w, b, want_indices) -> (pooled, int64 argmax or None)
    conv_relu_pool_backward(g, pooled, indices, x) -> (weight gradient, bias gradient)

and, in the C++ backend's build only (elsewhere the op runs the unfused kernels),

    conv_relu_pool_backward_input(g, pooled, indices, x, w) -> (weight, bias and input gradients)
"""
from __future__ import annotations

from dataclasses import dataclass

FUNCTION = "conv_relu_pool"
BACKWARD = "conv_relu_pool_backward"
INPUT_BACKWARD = "conv_relu_pool_backward_input"   # the C++ backend's only (CUDA: unfused)


@dataclass(frozen=True)
class ConvPoolSpec:
    """One layer's sizes: x (N, channels, height, width) with N free, w (out_channels,
    channels, *kernel), stride 1, zero `padding`, then a max pool of window and stride `pool`."""
    channels: int
    height: int
    width: int
    out_channels: int
    kernel: tuple
    padding: tuple
    pool: tuple

    @property
    def conv_plane(self) -> tuple:
        """(height, width) of the convolution output."""
        sizes = (self.height, self.width)
        return tuple(n + 2 * p - k + 1 for n, p, k in zip(sizes, self.padding, self.kernel))

    @property
    def pooled_plane(self) -> tuple:
        """(height, width) of the pooled output (floor mode)."""
        return tuple(n // p for n, p in zip(self.conv_plane, self.pool))
