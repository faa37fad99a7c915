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

from ..autodiff import vjp
from ..ops.nn_conv import Conv, ConvAttrs
from ..ops.nn_conv_activation import ACTIVATIONS, ConvActivation
from . import timed
from .direct_conv_cpp import FUNCTION, MAX_GROUP_CHANNELS, cpp_source, supported

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
class DirectConv(ConvActivation, ConvAttrs):
    """(x, w, b) -> activation(conv(x, w, b)) with the convolution's attributes; activation
    "" (none), "relu" or "hard_swish"."""
    activation: str = ""
    _choice: dict = field(default_factory=dict, init=False, compare=False, repr=False, hash=False)
    allocates: ClassVar[bool] = True
    name: ClassVar[str] = "direct_conv"

    def infer(self, x, w, b):
        return Conv(**self.attrs()).infer(x, w, b)

    def kernel(self, x, w, b):
        fn = timed.cpu_kernel(self._choice, cpp_source, _NAME, FUNCTION, self.adapt, self.unfused, x, w, b)
        return self.unfused(x, w, b) if fn is None else fn(x, w, b)

    def unfused(self, x, w, b):
        """ATen's convolution, then the activation in place on its fresh output."""
        formulation = "channels_last" if self.groups > 1 else ""
        return self.activate(Conv(**self.attrs(), formulation=formulation).kernel(x, w, b))

    def adapt(self, fn):
        """The built function, taking what `unfused` does."""
        (sh, sw), (ph, pw), act = self.stride, self.padding, ACTIVATIONS.index(self.activation)
        groups = self.groups
        return lambda x, w, b: fn(x, w, b, sh, sw, ph, pw, groups, act)

    def decompose(self, inputs) -> list:
        """The convolution and its activation in theon ops (the graph the pass replaced)."""
        return [self.activated(Conv(**self.attrs())(*inputs))]

    def grad(self, inputs, outputs, output_grads):
        return vjp(self.decompose(inputs), list(inputs), list(output_grads))
