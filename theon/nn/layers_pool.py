"""Pooling layers over (N, C, H, W): MaxPool2D, AvgPool2D, GlobalAvgPool2D.

padding: "valid", "same" (ceil(size / stride) outputs; padded positions never win a max and
are not counted in an average, as in Keras), or an int/pair (torch's symmetric padding).
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..graph import constant, format_shape
from ..ops.nn_pool import avg_pool2d, max_pool2d
from ..ops.rearrange import pad
from ..ops.reduce import mean
from .layer import Layer
from .layers_conv import _padding_arg, _tuple, resolve_padding, window_output

__all__ = ["MaxPool2D", "AvgPool2D", "GlobalAvgPool2D"]


def _check_input(layer, input_shape):
    if len(input_shape) != 3:
        raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}) expects inputs (N, C, H, W) "
                         f"(channels first), got {format_shape((None, *input_shape))}")


class _Pool2D(Layer):
    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        what = type(self).__name__
        self.pool_size = _tuple(pool_size, 2, f"{what} pool_size")
        self.strides = self.pool_size if strides is None else _tuple(strides, 2, f"{what} strides")
        if min(self.pool_size) < 1 or min(self.strides) < 1:
            raise ValueError(f"{what}: pool_size and strides must be positive, got {self.pool_size} "
                             f"and {self.strides}")
        self.padding = _padding_arg(padding, 2, what)
        if not isinstance(self.padding, str) and any(2 * p > k for p, k in zip(self.padding, self.pool_size)):
            raise ValueError(f"{what}: padding {self.padding} must be at most half the pool size "
                             f"{self.pool_size}")

    def _pads(self, spatial) -> list:
        return resolve_padding(self, self.padding, spatial, self.pool_size, self.strides, (1, 1))

    def output_shape(self, input_shape):
        _check_input(self, input_shape)
        pads = self._pads(tuple(input_shape[1:]))
        return (input_shape[0], *(window_output(n, k, s, b, a) for n, k, s, (b, a)
                                  in zip(input_shape[1:], self.pool_size, self.strides, pads)))

    def call(self, x, training=False):
        if x.ndim != 4:
            _check_input(self, x.type.shape[1:])
        pads = self._pads(x.type.shape[2:])
        if all(b == a for b, a in pads):
            return self.pool(x, tuple(b for b, _ in pads), None)
        return self.pool(x, (0, 0), pads)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding if isinstance(self.padding, str) else list(self.padding)}


class MaxPool2D(_Pool2D):
    """The maximum over pool_size windows (strides default to pool_size)."""

    def pool(self, x, padding, explicit):
        if explicit is not None:
            x = pad(x, ((0, 0), (0, 0), *explicit), constant_values=-np.inf)
        return max_pool2d(x, self.pool_size, self.strides, padding)


class AvgPool2D(_Pool2D):
    """The mean over pool_size windows (strides default to pool_size). count_include_pad:
    whether padded zeros count in the mean (torch's default is True; Keras' 'same' is False)."""

    def __init__(self, pool_size=2, strides=None, padding="valid", count_include_pad: bool = False,
                 **kwargs):
        super().__init__(pool_size, strides, padding, **kwargs)
        self.count_include_pad = bool(count_include_pad)

    def pool(self, x, padding, explicit):
        if explicit is None:
            return avg_pool2d(x, self.pool_size, self.strides, padding,
                              count_include_pad=self.count_include_pad)
        y = avg_pool2d(pad(x, ((0, 0), (0, 0), *explicit)), self.pool_size, self.strides, 0)
        if self.count_include_pad:
            return y
        # windows overlapping the padding average over their real elements only
        if None in x.type.shape[2:]:
            raise ShapeError(f"layer {self.name!r} (AvgPool2D): padding='same' here needs the "
                             f"spatial dims known, got input {format_shape(x.type.shape)}")
        sizes = [[min(o * s - b + k, n) - max(o * s - b, 0)
                  for o in range(window_output(n, k, s, b, a))]
                 for n, k, s, (b, a) in zip(x.type.shape[2:], self.pool_size, self.strides, explicit)]
        scale = np.prod(self.pool_size) / np.outer(sizes[0], sizes[1])
        return y * constant(scale[None, None].astype(x.dtype))

    def get_config(self):
        return {**super().get_config(), "count_include_pad": self.count_include_pad}


class GlobalAvgPool2D(Layer):
    """The mean over H and W: (N, C, H, W) -> (N, C), or (N, C, 1, 1) with keepdims."""

    def __init__(self, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.keepdims = bool(keepdims)

    def call(self, x, training=False):
        if x.ndim != 4:
            _check_input(self, x.type.shape[1:])
        return mean(x, axis=(2, 3), keepdims=self.keepdims)

    def output_shape(self, input_shape):
        _check_input(self, input_shape)
        return (input_shape[0], 1, 1) if self.keepdims else (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}
