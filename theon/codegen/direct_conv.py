"""`DirectConv`: activation(conv2d(x, w, b)) for a convolution with few input channels per
group (a depthwise convolution, a first layer over an image's channels), made by the
compiler's fuse_direct_conv pass (not by users) from such a convolution and the ReLU or
hard-swish that alone reads it.

On the CPU in float32 its kernel is generated C++ (direct_conv_cpp.py), built in a
background thread on first use (kept on disk, so a later process loads it), and once built
timed against ATen's kernels on the node's own inputs (timed.TimedChoice): the faster runs
from then on. ATen's convolution has a fixed cost of tens of microseconds a call on these
layers that dominates the small planes of a mobile network at batch 1 (PP-OCR's classifier:
its 11 depthwise convolutions took more than onnxruntime's whole model); on large planes
oneDNN's JIT code wins and stays. Until then, on other devices and dtypes, and with
THEON_CODEGEN=off, ATen's convolution runs (on a channels-last input when grouped, as
ops/nn_conv_formulations.py does), then the activation in place.

The gradient is the unfused graph's (the convolution's gradients and the activation's).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F

from .. import config
from ..autodiff import vjp
from ..ops.elementwise import relu
from ..ops.nn_conv import Conv, ConvAttrs
from ..ops.nn_fused import hard_swish
from . import cache
from .direct_conv_cpp import ACTIVATIONS, FUNCTION, MAX_GROUP_CHANNELS, cpp_source, supported
from .timed import CFLAGS, TimedChoice, can_build, cpu_signature

_NAME = "theon_direct_conv"


def fits(x_type, w_type, conv: ConvAttrs) -> bool:
    """The shape rule: a 2-D float32 convolution with at most MAX_GROUP_CHANNELS input
    channels per group, every size known, no dilation, and a kernel size and stride the
    build instantiates."""
    xs, ws = x_type.shape, w_type.shape
    return (len(xs) == 4 and len(ws) == 4 and None not in xs and None not in ws and x_type.dtype == "float32"
            and not conv.transposed and conv.padding != "same" and tuple(conv.dilation) == (1, 1)
            and ws[1] <= MAX_GROUP_CHANNELS and supported(ws[2:], conv.stride))


@dataclass(frozen=True)
class DirectConv(ConvAttrs):
    """(x, w, b) -> activation(conv(x, w, b)) with the convolution's attributes; activation
    "" (none), "relu" or "hard_swish"."""
    activation: str = ""
    _choice: dict = field(default_factory=dict, compare=False, repr=False, hash=False)
    allocates: ClassVar[bool] = True
    name: ClassVar[str] = "direct_conv"

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"direct_conv: activation must be one of {ACTIVATIONS}, got {self.activation!r}")

    def infer(self, x, w, b):
        return Conv(**self.attrs()).infer(x, w, b)

    def kernel(self, x, w, b):
        fn = self._generated(x, w, b)
        return self.unfused(x, w, b) if fn is None else fn(x, w, b)

    def unfused(self, x, w, b):
        """ATen's convolution, then the activation in place on its fresh output."""
        formulation = "channels_last" if self.groups > 1 else ""
        y = Conv(**self.attrs(), formulation=formulation).kernel(x, w, b)
        if self.activation == "relu":
            return y.relu_()
        if self.activation == "hard_swish":
            return F.hardswish(y, inplace=True)
        return y

    def _generated(self, x, w, b):
        """The built kernel when it is ready and measured faster for this node, else None."""
        if config.CODEGEN == "off" or not x.is_cpu or x.dtype != torch.float32 or not can_build():
            return None
        key = tuple(x.shape)
        choice = self._choice.get(key)
        if choice is None:
            fn = cache.cpp_function(cpp_source(cpu_signature()), _NAME, FUNCTION, CFLAGS)
            if fn is None:
                return None      # building (or failed): ATen's kernels meanwhile
            (sh, sw), (ph, pw), act = self.stride, self.padding, ACTIVATIONS.index(self.activation)
            groups = self.groups
            choice = self._choice[key] = TimedChoice(lambda x, w, b: fn(x, w, b, sh, sw, ph, pw, groups, act))
        return choice.pick(self.unfused, x, w, b)

    def decompose(self, inputs) -> list:
        """The convolution and its activation in theon ops (the graph the pass replaced)."""
        y = Conv(**self.attrs())(*inputs)
        if self.activation == "relu":
            y = relu(y)
        elif self.activation == "hard_swish":
            y = hard_swish(y)
        return [y]

    def grad(self, inputs, outputs, output_grads):
        return vjp(self.decompose(inputs), list(inputs), list(output_grads))
