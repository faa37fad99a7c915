"""Fused forms of common layer patterns, made by the compiler's fuse pass (not by users):
one kernel call where the plain graph makes several.

`ConvRelu` is relu(conv(x, w, b)): on the CPU, oneDNN's convolution with a fused ReLU
post-op (one pass over the output instead of two); elsewhere the convolution followed by
an in-place ReLU on its own fresh output. Its gradient is the plain graph's, so a graph
fused after differentiation and one differentiated after fusing agree.

`HardSwish` is x * clip(x + 3, 0, 6) / 6 as one ATen kernel (torch's hardswish computes
exactly that expression, in that order, so the values are the chain's to the bit): mobile
networks exported from Paddle or TensorFlow write it as those four elementwise ops.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from .base import Op
from .elementwise import ReluGrad, clip, logical_and, where
from .nn_conv import Conv, ConvAttrs


def _mkldnn_ready(op: ConvAttrs, x: torch.Tensor) -> bool:
    return (x.device.type == "cpu" and x.dtype == torch.float32 and torch.backends.mkldnn.is_available()
            and not op.transposed and len(op.stride) == 2 and op.padding != "same")


@dataclass(frozen=True)
class ConvRelu(ConvAttrs):
    """(x, w, b) -> relu(conv(x, w, b)) with the convolution's attributes."""
    allocates: ClassVar[bool] = True
    name: ClassVar[str] = "conv_relu"

    def infer(self, x, w, b):
        return Conv(**self.attrs()).infer(x, w, b)

    def kernel(self, x, w, b):
        if _mkldnn_ready(self, x):
            return torch.ops.mkldnn._convolution_pointwise(
                x, w, b, list(self.padding), list(self.stride), list(self.dilation), self.groups,
                "relu", [], None)
        return Conv(**self.attrs()).kernel(x, w, b).relu_()

    def grad(self, inputs, outputs, output_grads):
        g = ReluGrad()(output_grads[0], outputs[0])
        return Conv(**self.attrs()).grad(inputs, [None], [g])


def conv_relu(x, w, b, conv: ConvAttrs):
    """The fused node for relu(conv(x, w, b)) with `conv`'s attributes."""
    return ConvRelu(**conv.attrs())(x, w, b)


@dataclass(frozen=True)
class HardSwish(Op):
    """x -> x * clip(x + 3, 0, 6) / 6, one kernel (float inputs)."""
    name: ClassVar[str] = "hard_swish"

    def infer(self, x):
        return [x.type]

    def kernel(self, x):
        return F.hardswish(x)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        # the chain's own derivative: clip passes gradient on its closed interval
        inside = logical_and(x >= -3.0, x <= 3.0)
        return [g * (clip(x + 3.0, 0.0, 6.0) + where(inside, x, 0.0)) / 6.0]


def hard_swish(x):
    """The fused node for x * clip(x + 3, 0, 6) / 6."""
    return HardSwish()(x)
