"""A squeeze-and-excitation block with a hard-sigmoid gate -> one squeeze_excite node
(theon/codegen/squeeze_excite.py):

    x * clip(conv(relu(conv(mean(x, (2, 3), keepdims), w1, b1)), w2, b2) * alpha + beta, 0, 1)

(the ReLU also as a conv_relu; the products and sum in either operand order, or folded
into the second convolution's weight and bias by the fuse pass already), where both
convolutions are 1x1 with a bias, stride 1, no padding, one group; x is float32 (N, C, H, W)
of known shape; and every intermediate is read only inside the block. With the fuse pass
on (THEON_FUSE).
"""
from __future__ import annotations

from ... import config
from ...codegen.squeeze_excite import SqueezeExcite
from ...graph import Constant, toposort
from ...ops.elementwise import Clip, add, multiply, relu
from ...ops.nn_conv import Conv
from ...ops.nn_fused import ConvRelu
from ...ops.reduce import Mean
from .fuse import rewrite_each


def _owned(v, count, op_class):
    """v's node when it is an op_class node read only once, else None."""
    node = v.owner
    return node if node is not None and isinstance(node.op, op_class) and count.get(id(v)) == 1 else None


def _scalar(v):
    return float(v.value) if isinstance(v, Constant) and v.ndim == 0 and v.dtype == "float32" else None


def _split_scalar(node):
    """(the other operand, the scalar) of a binary node with one float32 scalar constant."""
    a, b = node.inputs
    if _scalar(b) is not None:
        return a, _scalar(b)
    if _scalar(a) is not None:
        return b, _scalar(a)
    return None, None


def _affine(v, count):
    """(u, alpha, beta) with v = u * alpha + beta, each step optional (the fuse pass may have
    folded them into the convolution's weight and bias already)."""
    alpha, beta = 1.0, 0.0
    shifted = _owned(v, count, add.op)
    if shifted is not None:
        u, b = _split_scalar(shifted)
        if u is not None:
            v, beta = u, b
    scaled = _owned(v, count, multiply.op)
    if scaled is not None:
        u, a = _split_scalar(scaled)
        if u is not None:
            v, alpha = u, a
    return v, alpha, beta


def _pointwise_conv(node) -> bool:
    op = node.op
    return (len(node.inputs) == 3 and not op.transposed and tuple(op.stride) == (1, 1) and op.groups == 1
            and op.padding != "same" and not any(op.padding) and tuple(op.dilation) == (1, 1)
            and tuple(node.inputs[1].type.shape[2:]) == (1, 1) and not getattr(op, "formulation", ""))


def _match(node, count):
    """(x, w1, b1, w2, b2, alpha, beta) of the block ending at this multiply, or None."""
    for side in (0, 1):
        x, gate = node.inputs[side], node.inputs[1 - side]
        clipped = _owned(gate, count, Clip)
        if clipped is None or (clipped.op.lo, clipped.op.hi) != (0.0, 1.0):
            continue
        fc2_out, alpha, beta = _affine(clipped.inputs[0], count)
        fc2 = fc2_out is not None and _owned(fc2_out, count, Conv)
        if not fc2 or not _pointwise_conv(fc2):
            continue
        hidden = fc2.inputs[0]
        fc1 = _owned(hidden, count, ConvRelu)
        if fc1 is None:
            rectified = _owned(hidden, count, relu.op)
            fc1 = rectified and _owned(rectified.inputs[0], count, Conv)
        if not fc1 or not _pointwise_conv(fc1):
            continue
        squeezed = _owned(fc1.inputs[0], count, Mean)
        if (squeezed is None or squeezed.inputs[0] is not x or not squeezed.op.keepdims
                or tuple(squeezed.op.axes) != (2, 3)):
            continue
        return x, fc1.inputs[1], fc1.inputs[2], fc2.inputs[1], fc2.inputs[2], alpha, beta
    return None


def _squeeze_excite(node, count):
    if node.outputs[0].dtype != "float32" or node.outputs[0].ndim != 4 or not node.outputs[0].type.is_concrete:
        return None
    found = _match(node, count)
    if found is None or found[0].type != node.outputs[0].type:
        return None
    x, w1, b1, w2, b2, alpha, beta = found
    return [SqueezeExcite(alpha=alpha, beta=beta)(x, w1, b1, w2, b2)]


def fuse_squeeze_excite(outputs) -> list:
    """Apply the rewrite (THEON_FUSE=0: none)."""
    if not config.FUSE:
        return outputs
    present = {type(n.op) for n in toposort(outputs)}
    if Mean not in present or Clip not in present:
        return outputs
    return rewrite_each(outputs, multiply.op, _squeeze_excite, ())[0]
