"""The fastest formulation of an op for the shapes at hand, chosen by a shape rule and
printed in the program (`max_pool2d(..., formulation='strided')`); values never change.

- max_pool2d over non-overlapping windows (stride = kernel, no padding or dilation, at most
  3x3) -> the maximum of its strided views (ops/nn_pool_strided.py): LeNet's pools run
  about 5x faster than ATen's NCHW kernel. The training graph's pool that also returns the
  argmax keeps ATen's NCHW kernel, except:
- max_pool_with_indices2d over 16 or more channels -> ATen's channels-last kernel on a
  channels-last copy (LeNet's second pool: half the time, copy included).
- conv2d with groups (depthwise) -> its input in channels-last order
  (ops/nn_conv_formulations.py): oneDNN without its per-call reorders; the order carries
  through the ops after it.
- conv2d (or conv_relu) 1x1, stride 1, no padding, one group -> pointwise_conv
  (ops/nn_conv_pointwise.py): a matrix product over the channels, its weight reshaped to a
  matrix in the graph (work on weights alone: hoisted, once per weight value); its bias and
  activation one generated pass where that times faster (codegen/pointwise_conv.py).
- relu / hard_swish(pointwise_conv(...)) that alone reads it -> pointwise_conv(...,
  activation=that): applied in place on the product's output, one call and one buffer fewer.
- reshape(reduction(..., keepdims=True)) that drops exactly the kept unit dims, the reshape
  alone reading the reduction -> the reduction without keepdims (a global pool's Flatten).
At batch 1 a call saved is a few microseconds of ATen's dispatch, and more when its code is
cold in the instruction cache (each distinct kernel of a model's tail runs once a call).
"""
from __future__ import annotations

import dataclasses

from ... import config
from ...graph import is_float
from ...ops.nn_conv import Conv
from ...codegen.pointwise_conv import GeneratedPointwiseConv
from ...ops.nn_conv_pointwise import PointwiseConv
from ...ops.nn_fused import ConvRelu
from ...ops.nn_pool import MaxPool, MaxPoolWithIndices
from ...ops.nn_pool_strided import MIN_CHANNELS_LAST, strided_pool_fits
from ...ops.reduce import Reduction
from ...ops.shape import Reshape, reshape
from .conv_activation import activation_rewrites
from .fuse import rewrite_present


def _strided_max_pool(node, count):
    op, x = node.op, node.inputs[0]
    if op.formulation or not is_float(x.dtype) or not strided_pool_fits(
            op.kernel_size, op.stride, op.padding, op.dilation, x.type.shape):
        return None
    return [dataclasses.replace(op, formulation="strided")(x)]


def _channels_last_max_pool(node, count):
    op, x = node.op, node.inputs[0]
    if op.formulation or op.rank != 2 or x.ndim != 4 or (x.type.shape[1] or 0) < MIN_CHANNELS_LAST:
        return None
    return dataclasses.replace(op, formulation="channels_last")(x)


def _conv_formulation(node, count):
    op, x, w = node.op, node.inputs[0], node.inputs[1]
    if op.formulation or op.transposed or x.ndim != 4 or x.dtype != "float32" or op.padding == "same":
        return None
    if op.groups > 1:
        return [dataclasses.replace(op, formulation="channels_last")(*node.inputs)]
    return _pointwise(node, "")


def _pointwise(node, activation):
    """pointwise_conv for a 1x1 convolution with stride 1, no padding, one group, dilation
    irrelevant (a 1x1 window), known channel counts; else None."""
    op, x, w = node.op, node.inputs[0], node.inputs[1]
    co, c, *window = w.type.shape
    if (tuple(window) != (1, 1) or tuple(op.stride) != (1, 1) or op.padding == "same" or any(op.padding)
            or op.groups != 1 or op.transposed or None in (co, c) or x.ndim != 4 or x.dtype != "float32"):
        return None
    return [GeneratedPointwiseConv(activation=activation)(x, reshape(w, (co, c)), *node.inputs[2:])]


def _conv_relu(node, count):
    return _pointwise(node, "relu")


def _reduction_without_kept_dims(node, count):
    """The reduction with keepdims=False for a reshape that only drops its kept unit dims."""
    y = node.inputs[0]
    red = y.owner
    if (len(node.inputs) != 1 or red is None or not isinstance(red.op, Reduction) or not red.op.keepdims
            or count.get(id(y)) != 1):
        return None
    plain = dataclasses.replace(red.op, keepdims=False)(*red.inputs)
    return [plain] if plain.type == node.outputs[0].type and plain.type.is_concrete else None


REWRITES = [(MaxPool, _strided_max_pool), (MaxPoolWithIndices, _channels_last_max_pool),
            (Conv, _conv_formulation), (ConvRelu, _conv_relu), *activation_rewrites(PointwiseConv),
            (Reshape, _reduction_without_kept_dims)]


def formulate(outputs) -> list:
    """Apply each rewrite of REWRITES (THEON_FUSE=0: none, like the fuse pass)."""
    if not config.FUSE:
        return outputs
    return rewrite_present(outputs, REWRITES)
