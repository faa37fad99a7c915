"""`PointwiseConv`: activation(conv2d(x, w, b)) for a 1x1 convolution with stride 1, no
padding and one group, with the weight given as its (Co, C) matrix. Made by the compiler's
formulate pass (not by users) from such a convolution and the ReLU or hard-swish that alone
reads it.

On the CPU in float32 it is one GEMM (bias added in it) on a view of the input
(ops/nn_conv_formulations.py), then the activation in place on the GEMM's fresh output: at
PP-OCR's batch-1 sizes each saved kernel call and allocation is a few microseconds of a
layer that costs ten. The weight arrives already as a matrix: the pass writes its reshape
in the graph, where it is work on weights alone and runs once per weight value
(compile/hoist.py) instead of once a call. Elsewhere ATen's convolution runs on a view of
the weight. The gradient is the unfused graph's.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..errors import ShapeError
from ..graph import TensorType
from ..graph.types import format_shape
from .base import Op
from .nn_conv import Conv, _same_dtype
from .nn_conv_activation import ConvActivation
from .nn_conv_formulations import matmul_over_channels, runs_here
from .shape import reshape


@dataclass(frozen=True)
class PointwiseConv(ConvActivation, Op):
    """(x (N, C, H, W), w (Co, C)[, b (Co,)]) -> activation(conv2d(x, w[:, :, None, None], b));
    activation "" (none), "relu" or "hard_swish"."""
    activation: str = ""
    allocates: ClassVar[bool] = True
    name: ClassVar[str] = "pointwise_conv"

    def infer(self, x, w, b=None):
        dtype = _same_dtype(self.name, *(v for v in (x, w, b) if v is not None))
        xs, ws = x.type.shape, w.type.shape
        if x.ndim != 4 or w.ndim != 2 or (xs[1] is not None and ws[1] is not None and xs[1] != ws[1]):
            raise ShapeError(f"pointwise_conv expects input (N, C, H, W) and a weight (Co, C), got input "
                             f"{format_shape(xs)} and weight {format_shape(ws)}")
        if b is not None and (b.ndim != 1 or None not in (b.type.shape[0], ws[0]) and b.type.shape[0] != ws[0]):
            raise ShapeError(f"pointwise_conv: bias {format_shape(b.type.shape)} does not match weight "
                             f"{format_shape(ws)}")
        return [TensorType(dtype, (xs[0], ws[0], xs[2], xs[3]))]

    def kernel(self, x, w, b=None):
        y = matmul_over_channels(x, w, b) if runs_here(x) else None
        if y is None:
            y = torch.ops.aten.convolution(x, w[:, :, None, None], b, [1, 1], [0, 0], [1, 1], False, [0, 0], 1)
        return self.activate(y)

    def decompose(self, inputs) -> list:
        """The convolution and its activation in theon ops (the graph the pass replaced)."""
        x, w = inputs[0], inputs[1]
        return [self.activated(Conv()(x, reshape(w, (w.shape[0], w.shape[1], 1, 1)), *inputs[2:]))]

    def grad(self, inputs, outputs, output_grads):
        """The activation's gradient, then the convolution's: each op's own (ops/ sits below
        autodiff)."""
        x, w, *bias = inputs
        w4 = reshape(w, (w.shape[0], w.shape[1], 1, 1))
        conv = Conv()
        z = conv(x, w4, *bias)
        (g,) = output_grads
        act = self.activation_op()
        if act is not None:
            (g,) = act.grad([z], [act(z)], [g])
        gx, gw, *gb = conv.grad([x, w4, *bias], [z], [g])
        return [gx, reshape(gw, w.shape), *gb]
