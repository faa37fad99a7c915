"""Neural-network ops: linear, convolutions (and the fused conv + relu), pooling, batch and layer norm (inference),
softmax, cross-entropy, attention and embedding."""
from __future__ import annotations

import math

import numpy as np
from onnx import helper

from ....ops import nn_attention, nn_conv, nn_fused, nn_loss, nn_misc, nn_norm, nn_pool
from ....ops.shape import Transpose
from ..registry import Unsupported, rule
from .common import as_int64, cast, reduce, shape_of, slice_, squeeze, unsqueeze


@rule(nn_conv.Linear)
def _linear(ctx):
    x, w = ctx.x(0), ctx.x(1)
    wv = ctx.inputs[1]
    # Dense computes x @ kernel with the kernel transposed into torch's (out, in) layout
    untransposed = wv.owner is not None and isinstance(wv.owner.op, Transpose) and wv.owner.op.axes == (1, 0)
    rhs = ctx.graph.lookup(wv.owner.inputs[0]) if untransposed else ctx.emit("Transpose", [w], perm=[1, 0])
    y = ctx.emit("MatMul", [x, rhs])
    return ctx.emit("Add", [y, ctx.x(2)]) if len(ctx.inputs) == 3 else y


@rule(nn_conv.Conv)
def _conv(ctx):
    op = ctx.op
    x, w = ctx.x(0), ctx.x(1)
    kernel = ctx.shape(1)[2:]
    if op.padding == "same":  # torch pads the extra column of an even window on the right
        if None in kernel:
            raise Unsupported("padding='same' with a kernel size unknown when exporting")
        spans = [d * (k - 1) for k, d in zip(kernel, op.dilation)]
        pads = [s // 2 for s in spans] + [s // 2 + s % 2 for s in spans]
    else:
        pads = list(op.padding) * 2
    attrs = {"strides": list(op.stride), "dilations": list(op.dilation), "group": op.groups, "pads": pads}
    inputs = [x, w] + ([ctx.x(2)] if len(ctx.inputs) == 3 else [])
    if op.transposed:
        return ctx.emit("ConvTranspose", inputs, output_padding=list(op.output_padding), **attrs)
    return ctx.emit("Conv", inputs, **attrs)


def _rank(ctx) -> int:
    """The number of spatial dims a pool works over (1, 2 or 3)."""
    return len(ctx.op.output_size if hasattr(ctx.op, "output_size") else ctx.op.kernel_size)


def _batched(ctx, x: str):
    """(x with a batch dim, whether one was added): pooling takes (C, *spatial) inputs too."""
    if len(ctx.shape()) == _rank(ctx) + 1:
        return unsqueeze(ctx, x, [0]), True
    return x, False


def _ceil_mode(ctx, dilation=(1, 1, 1)) -> int:
    """ONNX's ceil_mode for a pool in ceil mode: torch drops a last window that would start
    in the right padding, which ONNX's formula does not; where theon's output size shows
    that, floor mode gives the same windows."""
    op = ctx.op
    if not op.ceil_mode:
        return 0
    n = _rank(ctx)
    ins, outs = ctx.shape()[-n:], ctx.outputs[0].type.shape[-n:]
    for n, o, k, s, p, d in zip(ins, outs, op.kernel_size, op.stride, op.padding, dilation):
        if n is None or o is None:
            return 1  # onnxruntime follows torch here
        if o > (n + 2 * p - d * (k - 1) - 1) // s + 1:
            return 1
    return 0


def _pool_attrs(op):
    return {"kernel_shape": list(op.kernel_size), "strides": list(op.stride), "pads": list(op.padding) * 2}


@rule(nn_pool.MaxPool2d)
def _max_pool(ctx):
    x, added = _batched(ctx, ctx.x(0))
    y = ctx.emit("MaxPool", [x], dilations=list(ctx.op.dilation), ceil_mode=_ceil_mode(ctx, ctx.op.dilation),
                 **_pool_attrs(ctx.op))
    return squeeze(ctx, y, [0]) if added else y


@rule(nn_pool.MaxPool2dWithIndices)
def _max_pool_indices(ctx):
    x, added = _batched(ctx, ctx.x(0))
    y, idx = ctx.emit("MaxPool", [x], n_out=2, dilations=list(ctx.op.dilation),
                      ceil_mode=_ceil_mode(ctx, ctx.op.dilation), **_pool_attrs(ctx.op))
    # ONNX counts indices over the whole tensor, theon within each (H, W) plane
    plane = reduce(ctx, "ReduceProd", shape_of(ctx, x, 2, 4), [0], False)
    idx = ctx.emit("Mod", [idx, plane])
    if added:
        y, idx = squeeze(ctx, y, [0]), squeeze(ctx, idx, [0])
    return [y, idx]


@rule(nn_pool.AvgPool2d)
def _avg_pool(ctx):
    op = ctx.op
    x, added = _batched(ctx, ctx.x(0))
    ceil = _ceil_mode(ctx)
    include = op.count_include_pad
    if op.divisor_override is not None:
        if ceil:
            raise Unsupported("divisor_override in ceil mode")
        include = True  # every window then counts kernel_size elements
    y = ctx.emit("AveragePool", [x], ceil_mode=ceil, count_include_pad=int(include), **_pool_attrs(op))
    if op.divisor_override is not None:
        scale = math.prod(op.kernel_size) / op.divisor_override
        y = ctx.emit("Mul", [y, ctx.scalar(scale, ctx.dtype())])
    return squeeze(ctx, y, [0]) if added else y


@rule(nn_pool.AdaptiveAvgPool2d)
def _adaptive_avg_pool(ctx):
    x, added = _batched(ctx, ctx.x(0))
    rank = _rank(ctx)
    ins = ctx.shape()[-rank:]
    outs = [n if o is None else o for n, o in zip(ins, ctx.op.output_size)]
    if outs == [1] * rank:
        y = ctx.emit("GlobalAveragePool", [x])
    elif None not in ins and all(n % o == 0 for n, o in zip(ins, outs)):
        kernel = [n // o for n, o in zip(ins, outs)]
        y = ctx.emit("AveragePool", [x], kernel_shape=kernel, strides=kernel)
    else:
        y = x  # windows of unequal sizes: the mean over each axis in turn (they are separable)
        for axis, n, o in zip(range(2, 2 + rank), ins, outs):
            if n != o:
                y = _adaptive_axis(ctx, y, axis, n, o)
    return squeeze(ctx, y, [0]) if added else y


def _adaptive_axis(ctx, x: str, axis: int, n, o: int) -> str:
    """Means over windows [floor(i n / o), ceil((i + 1) n / o)) along `axis` of size n (an
    int, or None: read when running), for i < o."""
    if n is not None:
        bounds = [([i * n // o], [-(-(i + 1) * n // o)]) for i in range(o)]
    else:
        size = ctx.emit("Gather", [shape_of(ctx, x), ctx.ints([axis])], axis=0)

        def bound(k: int, round_up: bool) -> str:  # floor or ceil of k n / o, in int64
            top = ctx.emit("Mul", [size, ctx.ints([k])])
            if round_up:
                top = ctx.emit("Add", [top, ctx.ints([o - 1])])
            return ctx.emit("Div", [top, ctx.ints([o])])
        bounds = [(bound(i, False), bound(i + 1, True)) for i in range(o)]
    pieces = [reduce(ctx, "ReduceMean", slice_(ctx, x, start, stop, [axis]), [axis], True) for start, stop in bounds]
    return ctx.emit("Concat", pieces, axis=axis)


@rule(nn_norm.BatchNormEval)
def _batch_norm(ctx):
    x, mean, var, w, b = ctx.xs()
    return ctx.emit("BatchNormalization", [x, w, b, mean, var], epsilon=float(ctx.op.eps))


@rule(nn_norm.BatchNormTrain)
def _batch_norm_train(ctx):
    raise Unsupported("training mode: export the model's inference graph, which uses the running "
                      "statistics")


@rule(nn_norm.LayerNorm)
def _layer_norm(ctx):
    x, w, b = ctx.xs()
    k = len(ctx.op.normalized_shape)
    dtype = ctx.dtype()
    if dtype in ("float32", "float16"):
        return ctx.emit("LayerNormalization", [x, w, b], n_out=3, axis=-k, epsilon=float(ctx.op.eps))
    # ONNX's LayerNormalization computes its statistics in float32: float64 needs them written out
    axes = list(range(len(ctx.shape()) - k, len(ctx.shape())))
    mean = reduce(ctx, "ReduceMean", x, axes, True)
    centred = ctx.emit("Sub", [x, mean])
    var = reduce(ctx, "ReduceMean", ctx.emit("Mul", [centred, centred]), axes, True)
    inv = ctx.emit("Reciprocal", [ctx.emit("Sqrt", [ctx.emit("Add", [var, ctx.scalar(ctx.op.eps, dtype)])])])
    y = ctx.emit("Add", [ctx.emit("Mul", [ctx.emit("Mul", [centred, inv]), w]), b])
    return [y, mean, inv]


@rule(nn_loss.Softmax)
def _softmax(ctx):
    return ctx.emit("Softmax", [ctx.x(0)], axis=ctx.op.axis)


@rule(nn_loss.LogSoftmax)
def _log_softmax(ctx):
    return ctx.emit("LogSoftmax", [ctx.x(0)], axis=ctx.op.axis)


@rule(nn_loss.CrossEntropy)
def _cross_entropy(ctx):
    """torch's per-sample cross-entropy: (1 - s) w[y] (-log p[y]) + (s / C) sum_c w_c (-log p_c),
    0 where the label is ignore_index (w = 1 without class weights)."""
    op = ctx.op
    logits, labels = ctx.x(0), as_int64(ctx, ctx.x(1), ctx.dtype(1))
    axis, s = op.axis, op.label_smoothing
    dtype = ctx.dtype()
    weight = ctx.x(2) if op.weighted else None
    keep = None
    if op.ignore_index is not None:  # an ignored label may be out of range: gather class 0 there
        keep = ctx.emit("Not", [ctx.emit("Equal", [labels, ctx.scalar(op.ignore_index, "int64")])])
        labels = ctx.emit("Where", [keep, labels, ctx.scalar(0, "int64")])
    logp = ctx.emit("LogSoftmax", [logits], axis=axis)
    picked = ctx.emit("GatherElements", [logp, unsqueeze(ctx, labels, [axis])], axis=axis)
    loss = ctx.emit("Neg", [squeeze(ctx, picked, [axis])])
    if weight is not None:
        loss = ctx.emit("Mul", [loss, ctx.emit("Gather", [weight, labels], axis=0)])
    if s:
        rank = len(ctx.shape())
        weighted = logp
        if weight is not None:  # the class weights along `axis`
            others = [a for a in range(rank) if a != axis]
            weighted = ctx.emit("Mul", [logp, unsqueeze(ctx, weight, others) if others else weight])
        smooth = ctx.emit("Neg", [reduce(ctx, "ReduceMean", weighted, [axis], False)])
        loss = ctx.emit("Add", [ctx.emit("Mul", [loss, ctx.scalar(1 - s, dtype)]),
                                ctx.emit("Mul", [smooth, ctx.scalar(s, dtype)])])
    if keep is not None:
        loss = ctx.emit("Where", [keep, loss, ctx.scalar(0, dtype)])
    return loss


@rule(nn_fused.ConvRelu)
def _conv_relu(ctx):
    return ctx.emit("Relu", [_conv(ctx)])


@rule(nn_fused.HardSwish)
def _hard_swish(ctx):  # the chain it fuses, exact in float64 too (HardSwish's 1/6 is a float32 attribute)
    x, dtype = ctx.x(0), ctx.dtype()
    clipped = ctx.emit("Clip", [ctx.emit("Add", [x, ctx.scalar(3, dtype)]), ctx.scalar(0, dtype), ctx.scalar(6, dtype)])
    return ctx.emit("Div", [ctx.emit("Mul", [x, clipped]), ctx.scalar(6, dtype)])


def _causal_mask(ctx, scores: str, rank: int) -> str:
    """bool (L, S): True on and below the diagonal of the scores' last two dims."""
    ones = ctx.emit("ConstantOfShape", [shape_of(ctx, scores, rank - 2, rank)],
                    value=helper.make_tensor("value", helper.np_dtype_to_tensor_dtype(np.dtype("int64")), [1], [1]))
    return cast(ctx, ctx.emit("Trilu", [ones], upper=0), "bool")


@rule(nn_attention.CausalMask)
def _causal_mask_rule(ctx):
    return _causal_mask(ctx, ctx.x(0), len(ctx.shape()))


@rule(nn_attention.Attention)
def _attention(ctx):
    q, k, v = ctx.x(0), ctx.x(1), ctx.x(2)
    dtype = ctx.dtype()
    e = ctx.shape(0)[-1]
    rank_k = len(ctx.shape(1))
    kt = ctx.emit("Transpose", [k], perm=list(range(rank_k - 2)) + [rank_k - 1, rank_k - 2])
    scores = ctx.emit("MatMul", [q, kt])
    if ctx.op.scale is not None:
        scale = ctx.scalar(ctx.op.scale, dtype)
    elif e is not None:
        scale = ctx.scalar(1 / math.sqrt(e), dtype)
    else:
        size = cast(ctx, ctx.emit("Gather", [shape_of(ctx, q), ctx.const(np.int64(-1))], axis=0), dtype)
        scale = ctx.emit("Reciprocal", [ctx.emit("Sqrt", [size])])
    scores = ctx.emit("Mul", [scores, scale])
    rank = len(ctx.outputs[0].type.shape)
    neg_inf = ctx.scalar(-np.inf, dtype)
    if ctx.op.is_causal:
        scores = ctx.emit("Where", [_causal_mask(ctx, scores, rank), scores, neg_inf])
    if len(ctx.inputs) == 4:
        mask = ctx.x(3)
        if ctx.dtype(3) == "bool":
            scores = ctx.emit("Where", [mask, scores, neg_inf])
        else:
            scores = ctx.emit("Add", [scores, mask])
    return ctx.emit("MatMul", [ctx.emit("Softmax", [scores], axis=-1), v])


@rule(nn_misc.Embedding)
def _embedding(ctx):
    return ctx.emit("Gather", [ctx.x(1), as_int64(ctx, ctx.x(0), ctx.dtype(0))], axis=0)
