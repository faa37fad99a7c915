"""relu / hard_swish(y) -> the op that made y with activation=that, where that op is a
convolution with an `activation` attribute (ops/nn_conv_activation.py) and none yet, and
nothing else reads y: the activation runs in place on the convolution's fresh output, one
call and one buffer fewer. The formulate pass takes them into PointwiseConv, fuse_direct_conv
into DirectConv."""
from __future__ import annotations

from ...ops.elementwise import relu
from ...ops.nn_fused import HardSwish


def activation_rewrites(op_class) -> list:
    """(op class, rewrite) pairs for rewrite_present: ReLU and hard-swish into `op_class`."""

    def take_activation(node, count):
        y = node.inputs[0]
        conv = y.owner
        if conv is None or not isinstance(conv.op, op_class) or conv.op.activation or count.get(id(y)) != 1:
            return None
        activation = "relu" if isinstance(node.op, relu.op) else "hard_swish"
        return [conv.op.with_activation(activation)(*conv.inputs)]

    return [(relu.op, take_activation), (HardSwish, take_activation)]
