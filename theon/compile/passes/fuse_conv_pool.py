"""max_pool(conv_relu(x, w, b)) -> conv_relu_pool(x, w, b): the convolution, its ReLU and a
max pool over non-overlapping windows as one node whose generated kernel never writes the
full-size convolution output (theon/codegen/conv_pool.py).

In a training graph the convolution's output is also read by the pool's gradient
(max_pool_backward(g, y, indices)) and the ReLU's (relu_grad(that, y)). Those two become
max_pool_scatter(relu_grad(g, pooled), indices): the same values, since relu(y) at a
window's argmax is the pooled value, so the ReLU mask is taken on the pooled gradient. Where
that feeds only the layer's weight and bias gradients (a first layer: its input needs none),
the three become one conv_relu_pool_backward node, whose generated kernel works from the
pooled gradient alone; where it feeds the input's gradient too (a second layer),
conv_relu_pool_backward_with_input, which also gives that. The rewrite applies only where every reader of the convolution output is one of these, where
the shape rule of the generated kernel holds (an early layer over few input channels), and
with the fuse pass on (THEON_FUSE).
"""
from __future__ import annotations

from ... import config
from ...codegen.conv_pool import (ConvReluPool, ConvReluPoolBackward, ConvReluPoolBackwardWithInput,
                                  ConvReluPoolWithIndices, fits, scatter_pooled_gradient)
from ...graph import apply, located, rebuild, toposort
from ...ops.elementwise import ReluGrad
from ...ops.nn_conv import ConvBackwardInput, ConvBackwardWeight
from ...ops.nn_fused import ConvRelu
from ...ops.nn_pool import MaxPool, MaxPoolBackward, MaxPoolWithIndices
from ...ops.reduce import Sum


def _plain_pool(op) -> bool:
    return (op.rank == 2 and tuple(op.kernel_size) == tuple(op.stride) and not any(op.padding)
            and tuple(op.dilation) == (1, 1) and not op.ceil_mode and not op.formulation)


def _plain_conv(node) -> bool:
    op = node.op
    return (isinstance(op, ConvRelu) and len(node.inputs) == 3 and not op.transposed
            and op.padding != "same" and tuple(op.stride) == (1, 1) and tuple(op.dilation) == (1, 1)
            and op.groups == 1 and all(i.dtype == "float32" for i in node.inputs))


def _match(pool, readers, graph_outputs) -> dict | None:
    """{id(node): role} for the pool, and the gradient nodes it replaces; None when the
    pattern does not hold exactly."""
    y = pool.inputs[0]
    conv = y.owner
    if conv is None or not _plain_conv(conv) or not _plain_pool(pool.op) or id(y) in graph_outputs:
        return None
    x, w, _ = conv.inputs
    if not fits(x.type.shape, w.type.shape, conv.op.padding, pool.op.kernel_size):
        return None
    plan = {id(pool): ("pool", pool)}
    for reader in readers.get(id(y), []):
        if reader is pool or id(reader) in plan:   # a mask found from its backward below
            continue
        if not (isinstance(pool.op, MaxPoolWithIndices) and isinstance(reader.op, MaxPoolBackward)
                and reader.op.attrs() == pool.op.attrs() and reader.inputs[1] is y
                and reader.inputs[2] is pool.outputs[1] and reader.inputs[0] is not y):
            return None
        grad_readers = readers.get(id(reader.outputs[0]), [])
        mask = grad_readers[0] if len(grad_readers) == 1 else None
        if (mask is None or not isinstance(mask.op, ReluGrad) or mask.inputs[0] is not reader.outputs[0]
                or mask.inputs[1] is not y or id(reader.outputs[0]) in graph_outputs):
            return None
        plan[id(reader)] = ("drop", reader)
        gradients = _weight_gradients(mask, conv, readers, graph_outputs)
        plan[id(mask)] = ("mask_fused" if gradients else "mask", reader, pool)
        plan.update(gradients)
    return plan


def _weight_gradients(mask, conv, readers, graph_outputs) -> dict:
    """Where the masked gradient feeds only the layer's weight gradient, its bias gradient (a
    sum over images and positions) and its input gradient (none in a first layer), all from
    the pooled gradient in one conv_relu_pool_backward node (with_input when the input's is
    asked); else {} (the scatter stays)."""
    g = mask.outputs[0]
    weight, bias, data = [], [], []
    for r in readers.get(id(g), []):
        if (isinstance(r.op, ConvBackwardWeight) and r.op.attrs() == conv.op.attrs() and r.inputs[0] is g
                and r.inputs[1] is conv.inputs[0]):
            weight.append(r)
        elif (isinstance(r.op, ConvBackwardInput) and r.op.attrs() == conv.op.attrs() and r.inputs[0] is g
              and r.inputs[1] is conv.inputs[1]):
            data.append(r)
        elif isinstance(r.op, Sum) and r.op.axes == (0, 2, 3) and not r.op.keepdims:
            bias.append(r)
        else:
            return {}
    if len(weight) != 1 or len(bias) > 1 or len(data) > 1 or id(g) in graph_outputs:
        return {}
    kernel = conv.inputs[1].type.shape[2:]
    if data and any(p > k - 1 for p, k in zip(conv.op.padding, kernel)):
        return {}    # the input gradient's kernel frames the planes with kernel - 1 zeros
    plan = {id(weight[0]): ("weight_grad", mask, 0)}
    if bias:
        plan[id(bias[0])] = ("weight_grad", mask, 1)
    if data:
        plan[id(data[0])] = ("weight_grad", mask, 2)
    return plan


def fuse_conv_pool(outputs) -> list:
    if not config.FUSE:
        return outputs
    nodes = toposort(outputs)
    if not any(isinstance(n.op, ConvRelu) for n in nodes):
        return outputs
    readers: dict = {}
    for node in nodes:
        for i in node.inputs:
            readers.setdefault(id(i), []).append(node)
    graph_outputs = {id(o) for o in outputs}
    plan: dict = {}
    for node in nodes:
        if isinstance(node.op, (MaxPool, MaxPoolWithIndices)):
            plan.update(_match(node, readers, graph_outputs) or {})
    if not plan:
        return outputs
    backwards: dict = {}   # id(mask) -> the fused weight-gradient node's outputs

    def visit(node, inputs, value):
        role = plan.get(id(node))
        if role is None:
            return None
        kind = role[0]
        with located(node.loc):
            if kind == "pool":
                conv = node.inputs[0].owner
                fused = (ConvReluPoolWithIndices if node.op.nout == 2 else ConvReluPool)(
                    tuple(conv.op.padding), tuple(node.op.kernel_size))
                return apply(fused, [value(i) for i in conv.inputs], loc=node.loc).outputs
            if kind == "mask":
                backward, pool = role[1], role[2]
                return [scatter_pooled_gradient(value(backward.inputs[0]), value(pool.outputs[0]),
                                                value(pool.outputs[1]), pool.op.kernel_size,
                                                pool.inputs[0].type.shape[2:])]
            if kind == "weight_grad":
                mask, slot = role[1], role[2]
                if id(mask) not in backwards:
                    with_input = any(r[0] == "weight_grad" and r[1] is mask and r[2] == 2 for r in plan.values())
                    backwards[id(mask)] = _fused_backward(plan[id(mask)], value, node.loc, with_input)
                return [backwards[id(mask)][slot]]
        # "drop" (the pool's backward) and "mask_fused": nothing reads them any more
        return node.outputs

    return rebuild(outputs, visit, nodes)


def _fused_backward(role, value, loc, with_input: bool) -> list:
    """conv_relu_pool_backward[_with_input](g, pooled, indices, x, w) for a mask's layer."""
    _, backward, pool = role
    conv = pool.inputs[0].owner
    kind = ConvReluPoolBackwardWithInput if with_input else ConvReluPoolBackward
    op = kind(tuple(conv.op.padding), tuple(pool.op.kernel_size))
    inputs = [value(backward.inputs[0]), value(pool.outputs[0]), value(pool.outputs[1]),
              value(conv.inputs[0]), value(conv.inputs[1])]
    return apply(op, inputs, loc=loc).outputs
