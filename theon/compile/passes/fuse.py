"""Fusion and layout rewrites over the whole graph: patterns become fewer, larger kernels.

Each rewrite applies only where the intermediate it removes has no other reader, so no
work is ever duplicated. Values change only by rounding (a fused kernel may order its
arithmetic differently); tests compare every rewrite with the unfused program.

- relu(conv(x, w, b))         -> conv_relu(x, w, b)       (oneDNN's fused ReLU on the CPU)
- batch_norm_eval(conv(...))  -> conv with the batch norm folded into its weight and bias
                                 (inference graphs; the folded weights are computed in the
                                 graph from the shared ones, so training them stays possible)
- transpose(a @ b)            -> b.T @ a.T                (a contiguous result: a Dense
                                 layer's weight gradient no longer reaches the optimiser as
                                 a strided view)
"""
from __future__ import annotations

from ... import config
from ...graph import toposort
from .node_rewrites import rewrite_each
from ...ops.elementwise import relu, rsqrt
from ...ops.linalg import Matmul, matrix_transpose
from ...ops.nn_conv import Conv
from ...ops.nn_fused import conv_relu
from ...ops.nn_norm import BatchNormEval
from ...ops.shape import Transpose, reshape


def _only_reader(v, count) -> bool:
    return v.owner is not None and count.get(id(v)) == 1


def _fold_batch_norm(node, count):
    x = node.inputs[0]
    if not (_only_reader(x, count) and isinstance(x.owner.op, Conv) and not x.owner.op.transposed):
        return None
    conv = x.owner
    _, rm, rv, gamma, beta = node.inputs
    xin, w = conv.inputs[0], conv.inputs[1]
    scale = gamma * rsqrt(rv + node.op.eps)
    w_folded = w * reshape(scale, (-1,) + (1,) * (w.ndim - 1))
    shift = (conv.inputs[2] - rm) if len(conv.inputs) == 3 else -rm
    return [conv.op(xin, w_folded, shift * scale + beta)]


def _conv_relu(node, count):
    x = node.inputs[0]
    if not (_only_reader(x, count) and isinstance(x.owner.op, Conv) and len(x.owner.inputs) == 3):
        return None
    op = x.owner.op
    if op.transposed or len(op.stride) != 2 or op.padding == "same" or x.dtype != "float32":
        return None
    return [conv_relu(*x.owner.inputs, op)]


def _transpose_of_matmul(node, count):
    m = node.inputs[0]
    if not (node.op.axes == (1, 0) and _only_reader(m, count) and isinstance(m.owner.op, Matmul)):
        return None
    a, b = m.owner.inputs
    if a.ndim != 2 or b.ndim != 2:
        return None
    return [m.owner.op(matrix_transpose(b), matrix_transpose(a))]


REWRITES = [(BatchNormEval, _fold_batch_norm), (relu.op, _conv_relu), (Transpose, _transpose_of_matmul)]


def fuse(outputs) -> list:
    """Apply each rewrite of REWRITES over the graph, in order (THEON_FUSE=0: none)."""
    if not config.FUSE:
        return outputs
    present = {type(n.op) for n in toposort(outputs)}
    for op_class, rewrite in REWRITES:
        if any(issubclass(c, op_class) for c in present):
            outputs = rewrite_each(outputs, op_class, rewrite)
    return outputs
