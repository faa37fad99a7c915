"""Layers the zoo's torch-born architectures need beyond theon.nn: torch's ceil-mode max
pooling, adaptive average pooling (VGG's fixed 7x7 before its classifier) and a permutation of
the non-batch axes (MTCNN flattens its features channels-last)."""
from __future__ import annotations

from ..errors import ShapeError
from ..graph import format_shape
from ..ops.nn_pool import adaptive_avg_pool2d, max_pool2d
from ..ops.shape import transpose
from ..nn.layer import Layer

__all__ = ["CeilMaxPool2D", "Permute", "AdaptiveAvgPool2D"]


def _ceil_windows(size, kernel: int, stride: int):
    """torch's ceil_mode output size without padding: a last partial window counts when it
    starts inside the input."""
    if size is None:
        return None
    out = -(-(size - kernel) // stride) + 1
    if (out - 1) * stride >= size:
        out -= 1
    return out


class CeilMaxPool2D(Layer):
    """torch.nn.MaxPool2d(pool_size, strides, ceil_mode=True) over (N, C, H, W): windows that
    run past the bottom/right edge are kept and take the max of what they cover."""

    def __init__(self, pool_size: int = 2, strides: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self.strides = self.pool_size if strides is None else int(strides)
        if self.pool_size < 1 or self.strides < 1:
            raise ValueError(f"CeilMaxPool2D: pool_size and strides must be positive, got "
                             f"{self.pool_size} and {self.strides}")

    def _check(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(f"layer {self.name!r} (CeilMaxPool2D) expects inputs (N, C, H, W), got "
                             f"{format_shape((None, *input_shape))}")

    def call(self, x, training=False):
        self._check(x.type.shape[1:])
        return max_pool2d(x, self.pool_size, self.strides, 0, ceil_mode=True)

    def output_shape(self, input_shape):
        self._check(input_shape)
        return (input_shape[0], *(_ceil_windows(n, self.pool_size, self.strides) for n in input_shape[1:]))

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides}


class Permute(Layer):
    """The non-batch axes reordered: dims is a permutation of 1..rank (Keras' Permute), so
    Permute((3, 2, 1)) is torch's x.permute(0, 3, 2, 1)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(self.dims)}, got {self.dims}")

    def call(self, x, training=False):
        if x.ndim != len(self.dims) + 1:
            raise ShapeError(f"layer {self.name!r} (Permute{self.dims}) expects inputs of rank "
                             f"{len(self.dims) + 1}, got {format_shape(x.type.shape)}")
        return transpose(x, (0, *self.dims))

    def output_shape(self, input_shape):
        return tuple(input_shape[d - 1] for d in self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class AdaptiveAvgPool2D(Layer):
    """torch.nn.AdaptiveAvgPool2d(output_size): (N, C, H, W) -> (N, C, *output_size), each
    output cell the mean of its share of the input (inputs smaller than the output repeat)."""

    def __init__(self, output_size=7, **kwargs):
        super().__init__(**kwargs)
        size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
        if len(size) != 2 or any(int(s) < 1 for s in size):
            raise ValueError(f"AdaptiveAvgPool2D: output_size must be a positive int or pair, got "
                             f"{output_size!r}")
        self.output_size = tuple(int(s) for s in size)

    def call(self, x, training=False):
        if x.ndim != 4:
            raise ShapeError(f"layer {self.name!r} (AdaptiveAvgPool2D) expects inputs (N, C, H, W), got "
                             f"{format_shape(x.type.shape)}")
        return adaptive_avg_pool2d(x, self.output_size)

    def output_shape(self, input_shape):
        return (input_shape[0], *self.output_size)

    def get_config(self):
        return {**super().get_config(), "output_size": list(self.output_size)}
