"""Convolutions with few input channels per group -> direct_conv nodes
(theon/codegen/direct_conv.py), with the ReLU or hard-swish that alone reads one taken in:

- conv(x, w, b), depthwise or over <= 4 input channels per group -> direct_conv(x, w, b)
- conv_relu(x, w, b) likewise                   -> direct_conv(x, w, b, activation='relu')
- relu / hard_swish(direct_conv(...))           -> direct_conv(..., activation=that)

where the generated kernel's shape rule holds (float32, 2-D, known sizes, a kernel size and
stride it has), a bias is there, and the fuse pass is on (THEON_FUSE). The node runs ATen's
convolution until its generated kernel is built and measured faster, so values change only
by rounding.
"""
from __future__ import annotations

from ... import config
from ...codegen.direct_conv import DirectConv, fits
from ...ops.nn_conv import Conv
from ...ops.nn_fused import ConvRelu
from .conv_activation import activation_rewrites
from .fuse import rewrite_present


def _direct(node, count):
    op = node.op
    if len(node.inputs) != 3 or getattr(op, "formulation", "") or not fits(node.inputs[0].type, node.inputs[1].type, op):
        return None
    activation = "relu" if isinstance(op, ConvRelu) else ""
    return [DirectConv(**op.attrs(), activation=activation)(*node.inputs)]


REWRITES = [(Conv, _direct), (ConvRelu, _direct), *activation_rewrites(DirectConv)]


def fuse_direct_conv(outputs) -> list:
    """Apply each rewrite of REWRITES (THEON_FUSE=0: none)."""
    if not config.FUSE:
        return outputs
    return rewrite_present(outputs, REWRITES)
