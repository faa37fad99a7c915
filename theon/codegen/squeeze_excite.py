"""`SqueezeExcite`: x * clip(alpha * conv(relu(conv(mean(x), w1, b1)), w2, b2) + beta, 0, 1)
with 1x1 convolutions over the channel means, made by the compiler's fuse_squeeze_excite
pass (not by users) from those eight nodes, as MobileNetV3-style models (PP-OCR's) write
their squeeze-and-excitation blocks with a hard sigmoid.

On the CPU in float32 its kernel is generated C++ (squeeze_excite_cpp.py: one call where
ATen makes eight, each a few microseconds of dispatch at batch 1), built in the background
and kept on disk, then timed once against the ATen calls on the node's own inputs
(timed.TimedChoice). Until then, elsewhere, and with THEON_CODEGEN=off, the ATen calls run.
The gradient is the unfused graph's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from ..autodiff import vjp
from ..graph import constant
from ..ops.base import Op
from ..ops.elementwise import clip, relu
from ..ops.nn_conv import Conv
from ..ops.reduce import mean
from . import timed
from .squeeze_excite_cpp import FUNCTION, cpp_source

_NAME = "theon_squeeze_excite"


@dataclass(frozen=True)
class SqueezeExcite(Op):
    """(x, w1, b1, w2, b2) -> x scaled per channel by the block's hard-sigmoid gate;
    w1 (R, C, 1, 1), w2 (C, R, 1, 1)."""
    alpha: float = 0.2
    beta: float = 0.5
    _choice: dict = field(default_factory=dict, init=False, compare=False, repr=False, hash=False)
    allocates: ClassVar[bool] = True
    name: ClassVar[str] = "squeeze_excite"

    def infer(self, x, w1, b1, w2, b2):
        return [x.type]

    def kernel(self, x, w1, b1, w2, b2):
        args = (x, w1, b1, w2, b2)
        fn = timed.cpu_kernel(self._choice, cpp_source, _NAME, FUNCTION, self.adapt, self.unfused, *args)
        return self.unfused(*args) if fn is None else fn(*args)

    def unfused(self, x, w1, b1, w2, b2):
        """The block's ATen calls: the two 1x1 convolutions as products over the channels."""
        n, c = x.shape[:2]
        s = x.mean((2, 3)).to(x.dtype)
        h = torch.addmm(b1, s, w1.reshape(w1.shape[0], c).t()).relu_()
        g = torch.addmm(b2, h, w2.reshape(c, w1.shape[0]).t())
        g = g.mul_(self.alpha).add_(self.beta).clamp_(0.0, 1.0)
        return x * g.view(n, c, 1, 1)

    def adapt(self, fn):
        """The built function, taking what `unfused` does."""
        alpha, beta = self.alpha, self.beta   # the C++ reads the 1x1 weights as they are
        return lambda x, w1, b1, w2, b2: fn(x, w1, b1, w2, b2, alpha, beta)

    def decompose(self, inputs) -> list:
        """The block in theon ops (the graph the pass replaced)."""
        x, w1, b1, w2, b2 = inputs
        h = relu(Conv()(mean(x, axis=(2, 3), keepdims=True), w1, b1))
        g = Conv()(h, w2, b2) * constant(self.alpha, dtype=x.dtype) + constant(self.beta, dtype=x.dtype)
        return [x * clip(g, 0.0, 1.0)]

    def grad(self, inputs, outputs, output_grads):
        return vjp(self.decompose(inputs), list(inputs), list(output_grads))
