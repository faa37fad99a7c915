"""Convolution layers, channels first (NCHW) like th.nn.conv2d: Conv1D, Conv2D, Conv3D,
Conv2DTranspose, DepthwiseConv2D.

Kernels use torch's layout: (filters, in_channels / groups, *kernel_size) for convolutions,
(in_channels, filters / groups, *kernel_size) for transposed ones. Parameters: "kernel",
"bias". padding: "valid", "same" (output size ceil(size / stride); when the padding needed
is odd the extra row/column goes after, as in TensorFlow and torch), an int or a tuple.
"""
from __future__ import annotations

from typing import ClassVar

from ..errors import ShapeError
from ..graph import format_shape
from ..ops.nn_conv import conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d
from ..ops.rearrange import pad
from . import activations, initializers
from .layer import Layer

__all__ = ["Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "DepthwiseConv2D", "same_padding",
           "window_output"]

_CONV = {1: conv1d, 2: conv2d, 3: conv3d}
_CONV_T = {1: conv_transpose1d, 2: conv_transpose2d, 3: conv_transpose3d}


def _tuple(value, n: int, what: str) -> tuple:
    t = (int(value),) * n if isinstance(value, int) else tuple(int(v) for v in value)
    if len(t) != n:
        raise ValueError(f"{what} must be an int or {n} ints, got {value!r}")
    return t


def same_padding(size, kernel: int, stride: int, dilation: int = 1):
    """(before, after) padding giving ceil(size / stride) outputs; None when size is unknown
    and stride > 1."""
    span = dilation * (kernel - 1) + 1
    if stride == 1:
        total = span - 1
    elif size is None:
        return None
    else:
        total = max((-(-size // stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def window_output(size, kernel: int, stride: int, before: int, after: int, dilation: int = 1):
    """The number of windows along a dim of `size` (None stays None)."""
    if size is None:
        return None
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def resolve_padding(layer, padding, spatial, kernel, strides, dilation) -> list:
    """[(before, after)] per spatial dim for a padding spec ('valid', 'same', int, tuple)."""
    n = len(kernel)
    if padding == "valid":
        return [(0, 0)] * n
    if padding == "same":
        pads = [same_padding(s, k, st, d) for s, k, st, d in zip(spatial, kernel, strides, dilation)]
        if None in pads:
            raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}): padding='same' with "
                             f"strides {strides} needs the spatial dims known, got {format_shape(spatial)}")
        return pads
    return [(p, p) for p in _tuple(padding, n, f"{type(layer).__name__} padding")]


def _padding_arg(padding, n: int, what: str):
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(f"{what}: padding must be 'valid', 'same', an int or a tuple, got {padding!r}")
        return padding
    pads = _tuple(padding, n, f"{what} padding")
    if min(pads) < 0:
        raise ValueError(f"{what}: padding must be non-negative, got {padding!r}")
    return pads


def _check_input(layer, input_shape, rank: int) -> int:
    layout = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[rank]
    if len(input_shape) != rank + 1:
        raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}) expects inputs {layout} "
                         f"(channels first), got {format_shape((None, *input_shape))}")
    if input_shape[0] is None:
        raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}) needs the channel dim known "
                         f"when it is built, got input {format_shape((None, *input_shape))}")
    return int(input_shape[0])


class _Conv(Layer):
    rank: ClassVar[int] = 2
    transposed: ClassVar[bool] = False

    def __init__(self, filters: int, kernel_size, strides=1, padding="valid", dilation=1, groups: int = 1,
                 activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", output_padding=0, **kwargs):
        super().__init__(**kwargs)
        what = type(self).__name__
        n = self.rank
        self.filters = int(filters)
        self.kernel_size = _tuple(kernel_size, n, f"{what} kernel_size")
        self.strides = _tuple(strides, n, f"{what} strides")
        self.dilation = _tuple(dilation, n, f"{what} dilation")
        self.output_padding = _tuple(output_padding, n, f"{what} output_padding")
        self.groups = int(groups)
        if self.filters < 1 or min(self.kernel_size) < 1 or min(self.strides) < 1 \
                or min(self.dilation) < 1 or self.groups < 1:
            raise ValueError(f"{what}: filters, kernel_size, strides, dilation and groups must be "
                             f"positive")
        if self.filters % self.groups:
            raise ValueError(f"{what}: filters {self.filters} is not divisible by groups {self.groups}")
        self.padding = _padding_arg(padding, n, what)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def kernel_shape(self, channels: int) -> tuple:
        if self.transposed:
            return (channels, self.filters // self.groups, *self.kernel_size)
        return (self.filters, channels // self.groups, *self.kernel_size)

    def build(self, input_shape):
        channels = _check_input(self, input_shape, self.rank)
        if channels % self.groups:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}): {channels} input channels "
                             f"are not divisible by groups {self.groups}")
        self.kernel = self.add_param("kernel", self.kernel_shape(channels), self.kernel_initializer)
        self.bias = self.add_param("bias", (self.filters,), self.bias_initializer) if self.use_bias else None

    def _pads(self, spatial) -> list:
        return resolve_padding(self, self.padding, spatial, self.kernel_size, self.strides, self.dilation)

    def call(self, x, training=False):
        x = self.cast_input(x)
        if self.transposed:
            return self.activation(self._call_transposed(x))
        pads = self._pads(x.type.shape[2:])
        if all(b == a for b, a in pads):
            padding = tuple(b for b, _ in pads)
        else:
            x = pad(x, ((0, 0), (0, 0), *pads))
            padding = 0
        y = _CONV[self.rank](x, self.kernel, self.bias, stride=self.strides, padding=padding,
                             dilation=self.dilation, groups=self.groups)
        return self.activation(y)

    def _transposed_args(self) -> tuple:
        """(padding, output_padding, crop_after) for torch's transposed convolution."""
        if self.padding == "same":
            p, op, crop = [], [], []
            for k, s, d in zip(self.kernel_size, self.strides, self.dilation):
                t = d * (k - 1) + 1 - s  # the full output is size * stride + t
                p.append(max(t, 0) // 2)
                op.append(max(-t, 0))
                crop.append(max(t, 0) % 2)
            return tuple(p), tuple(op), tuple(crop)
        pads = (0,) * self.rank if self.padding == "valid" else self.padding
        return pads, self.output_padding, (0,) * self.rank

    def _call_transposed(self, x):
        padding, output_padding, crop = self._transposed_args()
        y = _CONV_T[self.rank](x, self.kernel, self.bias, stride=self.strides, padding=padding,
                               output_padding=output_padding, groups=self.groups, dilation=self.dilation)
        if any(crop):
            y = y[(slice(None), slice(None), *(slice(0, -c if c else None) for c in crop))]
        return y

    def output_shape(self, input_shape):
        _check_input(self, input_shape, self.rank)
        spatial = tuple(input_shape[1:])
        if self.transposed:
            padding, output_padding, crop = self._transposed_args()
            out = [None if n is None else (n - 1) * s - 2 * p + d * (k - 1) + op + 1 - c
                   for n, k, s, d, p, op, c in zip(spatial, self.kernel_size, self.strides, self.dilation,
                                                   padding, output_padding, crop)]
        else:
            pads = self._pads(spatial)
            out = [window_output(n, k, s, b, a, d) for n, k, s, d, (b, a)
                   in zip(spatial, self.kernel_size, self.strides, self.dilation, pads)]
        return (self.filters, *out)

    def get_config(self):
        config = {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                  "strides": list(self.strides),
                  "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
                  "dilation": list(self.dilation), "groups": self.groups,
                  "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                  "kernel_initializer": initializers.serialize(self.kernel_initializer),
                  "bias_initializer": initializers.serialize(self.bias_initializer)}
        if self.transposed:
            config["output_padding"] = list(self.output_padding)
        return config


class Conv1D(_Conv):
    """1-d convolution over (N, C, L)."""
    rank = 1

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation=1, groups=1,
                 activation=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, dilation, groups, activation, **kwargs)


class Conv2D(_Conv):
    """2-d convolution over (N, C, H, W)."""
    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation=1, groups=1,
                 activation=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, dilation, groups, activation, **kwargs)


class Conv3D(_Conv):
    """3-d convolution over (N, C, D, H, W)."""
    rank = 3

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation=1, groups=1,
                 activation=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, dilation, groups, activation, **kwargs)


class Conv2DTranspose(_Conv):
    """Transposed 2-d convolution over (N, C, H, W): 'valid' gives (size - 1) * stride +
    dilation * (kernel - 1) + 1 + output_padding, 'same' gives size * stride; an int padding
    is torch's (output_padding applies to 'valid' and int padding)."""
    rank = 2
    transposed = True

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=0, dilation=1,
                 groups=1, activation=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, dilation, groups, activation,
                         output_padding=output_padding, **kwargs)
        if any(op >= max(s, d) for op, s, d in zip(self.output_padding, self.strides, self.dilation)):
            raise ValueError(f"Conv2DTranspose: output_padding {self.output_padding} must be smaller "
                             f"than strides {self.strides} or dilation {self.dilation}")


class DepthwiseConv2D(_Conv):
    """Each input channel convolved with its own `depth_multiplier` filters (groups = C):
    output channels C * depth_multiplier, kernel (C * depth_multiplier, 1, kh, kw)."""
    rank = 2

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier: int = 1, dilation=1,
                 activation=None, **kwargs):
        self.depth_multiplier = int(depth_multiplier)
        if self.depth_multiplier < 1:
            raise ValueError(f"DepthwiseConv2D: depth_multiplier must be positive, got {depth_multiplier}")
        # filters and groups are fixed by the input's channels when built
        super().__init__(1, kernel_size, strides, padding, dilation, 1, activation, **kwargs)

    def build(self, input_shape):
        channels = _check_input(self, input_shape, self.rank)
        self.filters, self.groups = channels * self.depth_multiplier, channels
        super().build(input_shape)

    def output_shape(self, input_shape):
        channels = _check_input(self, input_shape, self.rank)
        return (channels * self.depth_multiplier, *super().output_shape(input_shape)[1:])

    def get_config(self):
        config = super().get_config()
        for key in ("filters", "groups"):
            config.pop(key)
        return {**config, "depth_multiplier": self.depth_multiplier}
