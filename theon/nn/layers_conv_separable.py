"""SeparableConv2D: a depthwise convolution (each input channel with its own
depth_multiplier filters) followed by a pointwise 1x1 convolution that mixes channels.

Parameters, in torch's convolution layout: "depthwise_kernel" (C * depth_multiplier, 1, kh, kw),
"pointwise_kernel" (filters, C * depth_multiplier, 1, 1) and "bias" (filters,), so the layer is
`F.conv2d(F.conv2d(x, depthwise_kernel, groups=C, ...), pointwise_kernel, bias)`.
"""
from __future__ import annotations

from ..ops.nn_conv import conv2d
from ..ops.rearrange import pad
from . import activations, initializers
from .layer import Layer
from .layers_conv import _check_input, _padding_arg, _tuple, resolve_padding, window_output

__all__ = ["SeparableConv2D"]


class SeparableConv2D(Layer):
    """Depthwise then pointwise 2-d convolution over (N, C, H, W). strides, padding ('valid',
    'same', an int or a pair) and dilation apply to the depthwise step."""

    def __init__(self, filters: int, kernel_size, strides=1, padding="valid", depth_multiplier: int = 1,
                 dilation=1, activation=None, use_bias: bool = True, depthwise_initializer="glorot_uniform",
                 pointwise_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = _tuple(kernel_size, 2, "SeparableConv2D kernel_size")
        self.strides = _tuple(strides, 2, "SeparableConv2D strides")
        self.dilation = _tuple(dilation, 2, "SeparableConv2D dilation")
        self.depth_multiplier = int(depth_multiplier)
        if self.filters < 1 or self.depth_multiplier < 1 or min(self.kernel_size) < 1 \
                or min(self.strides) < 1 or min(self.dilation) < 1:
            raise ValueError("SeparableConv2D: filters, kernel_size, strides, dilation and depth_multiplier "
                             "must be positive")
        self.padding = _padding_arg(padding, 2, "SeparableConv2D")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        channels = _check_input(self, input_shape, 2)
        middle = channels * self.depth_multiplier
        self.depthwise_kernel = self.add_param("depthwise_kernel", (middle, 1, *self.kernel_size),
                                               self.depthwise_initializer)
        self.pointwise_kernel = self.add_param("pointwise_kernel", (self.filters, middle, 1, 1),
                                               self.pointwise_initializer)
        self.bias = self.add_param("bias", (self.filters,), self.bias_initializer) if self.use_bias else None

    def _pads(self, spatial):
        return resolve_padding(self, self.padding, spatial, self.kernel_size, self.strides, self.dilation)

    def call(self, x, training=False):
        x = self.cast_input(x)
        pads = self._pads(x.type.shape[2:])
        if all(b == a for b, a in pads):
            padding = tuple(b for b, _ in pads)
        else:
            x = pad(x, ((0, 0), (0, 0), *pads))
            padding = 0
        channels = x.type.shape[1]
        y = conv2d(x, self.depthwise_kernel, None, stride=self.strides, padding=padding,
                   dilation=self.dilation, groups=channels)
        return self.activation(conv2d(y, self.pointwise_kernel, self.bias))

    def output_shape(self, input_shape):
        _check_input(self, input_shape, 2)
        spatial = tuple(input_shape[1:])
        return (self.filters, *(window_output(n, k, s, b, a, d) for n, k, s, d, (b, a)
                                in zip(spatial, self.kernel_size, self.strides, self.dilation,
                                       self._pads(spatial))))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides),
                "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
                "depth_multiplier": self.depth_multiplier, "dilation": list(self.dilation),
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}
