"""`ConvActivation`: what the convolutions that end in an optional ReLU or hard-swish (their
`activation` attribute: PointwiseConv, codegen's DirectConv) share: the check of its value,
the activation applied in place on the convolution's fresh output, the same in theon ops
(the graph the compiler's pass replaced), and the same op with another activation (the
rewrite that takes in an activation reading the op's output: compile/passes/conv_activation.py).
"""
from __future__ import annotations

import dataclasses

import torch.nn.functional as F

from .elementwise import relu
from .nn_fused import HardSwish, hard_swish

ACTIVATIONS = ("", "relu", "hard_swish")   # "": none


class ConvActivation:
    """A mixin for a frozen dataclass op with an `activation` field (one of ACTIVATIONS)."""

    def __post_init__(self):
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"{self.name}: activation must be one of {ACTIVATIONS}, got {self.activation!r}")

    def activate(self, y):
        """The activation on the convolution's output y, in place (y is the op's own fresh
        buffer)."""
        if self.activation == "relu":
            return y.relu_()
        if self.activation == "hard_swish":
            return F.hardswish(y, inplace=True)
        return y

    def activation_op(self):
        """The activation as a theon op, or None for none."""
        if self.activation == "relu":
            return relu.op()
        if self.activation == "hard_swish":
            return HardSwish()
        return None

    def activated(self, y):
        """The activation on the variable y, in theon ops."""
        if self.activation == "relu":
            return relu(y)
        if self.activation == "hard_swish":
            return hard_swish(y)
        return y

    def with_activation(self, activation: str):
        """This op with `activation` instead (fresh bookkeeping: fields with init=False are
        made anew)."""
        return dataclasses.replace(self, activation=activation)
