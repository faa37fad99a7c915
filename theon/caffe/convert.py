"""Caffe layers as theon layers, and the functional model they make.

Each Caffe layer becomes one theon layer of the same name ('/' becomes '.'), called on the
current values of its bottom blobs; its output becomes the new value of its top blob. So
an in-place layer (BatchNorm, Scale, ReLU writing the blob it reads) gets its own output
and `model.get_layer("conv_1").output` stays the convolution's own output. A layer with
several tops (Slice) becomes one theon layer per top: the first keeps the name, the others
are named "<name>:<top>". Weights are the layers' parameters in theon's layouts (a
convolution's kernel is Caffe's weight blob as it is; InnerProduct's is transposed to
(in, out); BatchNorm's mean and variance are divided by its scale-factor blob).

Every layer type or setting theon cannot import is found before anything is built and
reported in one UnsupportedLayersError; every weight blob missing from the caffemodel or
of the wrong shape is found while building and reported in one CaffeError.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import nn
from ..errors import TheonError
from .errors import CaffeError, UnsupportedLayersError
from .layers import (CaffeEltwise, CaffeFlatten, CaffeInnerProduct, CaffePooling, CaffePower, CaffeReshape,
                     CaffeScale, CaffeSlice, CaffeSplit)
from .net import CaffeNet, LayerSpec, shape_text

__all__ = ["CONVERTERS", "unsupported_layers", "build_model"]


@dataclass
class Converter:
    build: Callable  # (spec, inputs, weights) -> one output per top
    check: Callable | None = None  # (spec) -> why this layer cannot be imported, or None
    bottoms: tuple = (1, 1)  # the fewest and most bottoms
    param: str | None = None  # its *_param field, whose unknown fields make it unsupported


CONVERTERS: dict = {}


def converter(*types, check=None, bottoms=(1, 1), param=None):
    def register(fn):
        for t in types:
            CONVERTERS[t] = Converter(fn, check, bottoms, param)
        return fn
    return register


# the most values theon initialises itself for one layer whose weights no file gives
MAX_FRESH_VALUES = 2**28


class _Weights:
    """Checks each layer's blobs against the shapes its theon layer needs, before the layer
    is built; collects every mismatch, reported together at the end."""

    def __init__(self, net: CaffeNet):
        self.net = net
        self.problems: list = []

    def take(self, spec: LayerSpec, expected: list):
        """The layer's blobs as arrays of the `expected` shapes; None when no file gives them
        (the layer keeps its initial values) or they do not fit (a problem is recorded)."""
        blobs = spec.blobs
        wanted = ", ".join(shape_text(e) for e in expected) or "none"
        problem = None
        if blobs is None:
            if expected and self.net.caffemodel is not None:
                problem = f"no weights in {self.net.caffemodel} (it needs {len(expected)} blob(s): {wanted})"
        elif len(blobs) != len(expected):
            got = ", ".join(shape_text(b.shape) for b in blobs) or "none"
            problem = (f"{spec.blobs_from} gives {len(blobs)} blob(s) ({got}), the prototxt's settings need "
                       f"{len(expected)} ({wanted})")
        else:
            bad = [f"blob {i} is {shape_text(b.shape)}, expected {shape_text(e)}"
                   for i, (b, e) in enumerate(zip(blobs, expected)) if not b.matches(e)]
            if bad:
                problem = f"in {spec.blobs_from}, " + "; ".join(bad)
        if problem is None and blobs is not None:
            return [b.values(e) for b, e in zip(blobs, expected)]
        fresh = sum(math.prod(e) for e in expected)
        if fresh > MAX_FRESH_VALUES:  # a hostile prototxt: refuse before allocating
            raise CaffeError(f"{spec.describe()}: its settings ask for {fresh:,} weights that no file gives; "
                             f"theon initialises at most {MAX_FRESH_VALUES:,} for one layer"
                             + (f" ({problem})" if problem else ""))
        if problem:
            self.problems.append(f"{spec.describe()}: {problem}")
        return None

    @staticmethod
    def put(layer, values: dict) -> None:
        for key, value in values.items():
            p = layer.param(key)
            p.set_value(np.ascontiguousarray(value, dtype=p.dtype))


def _known(spec, x, axis: int, what: str) -> int:
    n = x.type.shape[axis]
    if n is None:
        raise CaffeError(f"{spec.describe()} needs the {what} of its input known, got {x.type.shape}")
    return int(n)


# ---- convolutions --------------------------------------------------------------------------

def _spatial(spec, p, name: str, h: str, w: str, rank: int, default):
    """A repeated setting (kernel_size, stride, pad) as one value per spatial axis, from its
    list (one value for all axes, or one each) or from the _h/_w pair (2-d only)."""
    if h is not None and (p.has(h) or p.has(w)):
        if p.count(name):
            raise CaffeError(f"{spec.describe()}: give {name} or {h} and {w}, not both")
        if rank != 2:
            raise CaffeError(f"{spec.describe()}: {h} and {w} are for 2-d inputs, this one has {rank} spatial axes")
        if default is None and not (p.has(h) and p.has(w)):
            raise CaffeError(f"{spec.describe()}: give both {h} and {w}")
        return (p.get(h) if p.has(h) else default, p.get(w) if p.has(w) else default)
    values = p.list(name)
    if not values:
        if default is None:
            raise CaffeError(f"{spec.describe()}: {name} is required")
        return (default,) * rank
    if len(values) == 1:
        return tuple(values) * rank
    if len(values) != rank:
        raise CaffeError(f"{spec.describe()}: {name} has {len(values)} values for {rank} spatial axes")
    return tuple(values)


def _conv_settings(spec, x):
    p = spec.param("convolution_param")
    rank = x.ndim - 2
    if rank < 1:
        raise CaffeError(f"{spec.describe()} needs inputs (N, C, spatial...), got {x.type.shape}")
    if p.get("axis") not in (1, -(rank + 1)):
        raise CaffeError(f"{spec.describe()}: channel axis {p.get('axis')} is not supported (only 1)")
    kernel = _spatial(spec, p, "kernel_size", "kernel_h", "kernel_w", rank, None)
    stride = _spatial(spec, p, "stride", "stride_h", "stride_w", rank, 1)
    pad = _spatial(spec, p, "pad", "pad_h", "pad_w", rank, 0)
    dilation = _spatial(spec, p, "dilation", None, None, rank, 1)
    num_output, group = p.get("num_output"), p.get("group")
    if num_output < 1:
        raise CaffeError(f"{spec.describe()}: num_output must be positive, got {num_output}")
    return p, rank, kernel, stride, pad, dilation, num_output, group


@converter("Convolution", param="convolution_param")
def _convolution(spec, ins, weights):
    x = ins[0]
    p, rank, kernel, stride, pad, dilation, num_output, group = _conv_settings(spec, x)
    cls = {1: nn.Conv1D, 2: nn.Conv2D, 3: nn.Conv3D}.get(rank)
    if cls is None:
        raise CaffeError(f"{spec.describe()}: convolutions over {rank} spatial axes are not supported (1 to 3)")
    bias = p.get("bias_term")
    c = _known(spec, x, 1, "channels")
    blobs = weights.take(spec, [(num_output, c // max(group, 1), *kernel)] + ([(num_output,)] if bias else []))
    layer = cls(num_output, kernel, strides=stride, padding=pad, dilation=dilation, groups=group, use_bias=bias,
                name=spec.layer_name)
    y = layer(x)
    if blobs:
        weights.put(layer, {"kernel": blobs[0], **({"bias": blobs[1]} if bias else {})})
    return [y]


@converter("Deconvolution", param="convolution_param")
def _deconvolution(spec, ins, weights):
    x = ins[0]
    p, rank, kernel, stride, pad, dilation, num_output, group = _conv_settings(spec, x)
    if rank != 2:
        raise CaffeError(f"{spec.describe()}: deconvolutions over {rank} spatial axes are not supported (only 2)")
    bias = p.get("bias_term")
    c = _known(spec, x, 1, "channels")
    blobs = weights.take(spec, [(c, num_output // max(group, 1), *kernel)] + ([(num_output,)] if bias else []))
    layer = nn.Conv2DTranspose(num_output, kernel, strides=stride, padding=pad, dilation=dilation, groups=group,
                               use_bias=bias, name=spec.layer_name)
    y = layer(x)
    if blobs:
        weights.put(layer, {"kernel": blobs[0], **({"bias": blobs[1]} if bias else {})})
    return [y]


# ---- pooling and dense ---------------------------------------------------------------------

def _pool_pair(spec, p, name: str, h: str, w: str, default):
    if p.has(h) or p.has(w):
        if p.has(name):
            raise CaffeError(f"{spec.describe()}: give {name} or {h} and {w}, not both")
        if not (p.has(h) and p.has(w)) and default is None:
            raise CaffeError(f"{spec.describe()}: give both {h} and {w}")
        return (p.get(h) if p.has(h) else default, p.get(w) if p.has(w) else default)
    if not p.has(name) and default is None:
        raise CaffeError(f"{spec.describe()}: kernel_size (or kernel_h and kernel_w) is required")
    value = p.get(name) if p.has(name) else default
    return (value, value)


def _pool_check(spec):
    if spec.param("pooling_param").get("pool") not in ("MAX", "AVE"):
        return f"pool: {spec.param('pooling_param').get('pool')}"
    return None


@converter("Pooling", check=_pool_check, param="pooling_param")
def _pooling(spec, ins, weights):
    p = spec.param("pooling_param")
    glob = p.get("global_pooling")
    kernel = (1, 1) if glob else _pool_pair(spec, p, "kernel_size", "kernel_h", "kernel_w", None)
    layer = CaffePooling("max" if p.get("pool") == "MAX" else "ave", kernel,
                         _pool_pair(spec, p, "stride", "stride_h", "stride_w", 1),
                         _pool_pair(spec, p, "pad", "pad_h", "pad_w", 0), global_pooling=glob,
                         round_mode=p.get("round_mode").lower(), name=spec.layer_name)
    weights.take(spec, [])
    return [layer(ins[0])]


@converter("InnerProduct", param="inner_product_param")
def _inner_product(spec, ins, weights):
    p = spec.param("inner_product_param")
    bias, transpose, n = p.get("bias_term"), p.get("transpose"), p.get("num_output")
    if n < 1:
        raise CaffeError(f"{spec.describe()}: num_output must be positive, got {n}")
    layer = CaffeInnerProduct(n, axis=p.get("axis"), use_bias=bias, name=spec.layer_name)
    _, k = layer._split(ins[0].type.shape[1:])
    blobs = weights.take(spec, [(k, n) if transpose else (n, k)] + ([(n,)] if bias else []))
    y = layer(ins[0])
    if blobs:
        weights.put(layer, {"kernel": blobs[0] if transpose else blobs[0].T, **({"bias": blobs[1]} if bias else {})})
    return [y]


# ---- activations ---------------------------------------------------------------------------

@converter("ReLU", param="relu_param")
def _relu(spec, ins, weights):
    layer = nn.ReLU(spec.param("relu_param").get("negative_slope"), name=spec.layer_name)
    weights.take(spec, [])
    return [layer(ins[0])]


@converter("PReLU", param="prelu_param")
def _prelu(spec, ins, weights):
    shared = spec.param("prelu_param").get("channel_shared")
    x = ins[0]
    if x.ndim < 2 and not shared:
        raise CaffeError(f"{spec.describe()} needs inputs (N, C, ...), got {x.type.shape}")
    n = 1 if shared else _known(spec, x, 1, "channels")
    blobs = weights.take(spec, [(n,)])
    layer = nn.PReLU(channelwise=not shared, name=spec.layer_name)
    y = layer(x)
    if blobs:
        weights.put(layer, {"alpha": blobs[0]})
    return [y]


@converter("ELU", param="elu_param")
def _elu(spec, ins, weights):
    layer = nn.ELU(spec.param("elu_param").get("alpha"), name=spec.layer_name)
    weights.take(spec, [])
    return [layer(ins[0])]


@converter("Sigmoid", "TanH", param=None)
def _squash(spec, ins, weights):
    layer = nn.Activation("sigmoid" if spec.type == "Sigmoid" else "tanh", name=spec.layer_name)
    weights.take(spec, [])
    return [layer(ins[0])]


@converter("Softmax", param="softmax_param")
def _softmax(spec, ins, weights):
    layer = nn.Softmax(spec.param("softmax_param").get("axis"), name=spec.layer_name)
    weights.take(spec, [])
    return [layer(ins[0])]


@converter("Power", param="power_param")
def _power(spec, ins, weights):
    p = spec.param("power_param")
    layer = CaffePower(p.get("power"), p.get("scale"), p.get("shift"), name=spec.layer_name)
    weights.take(spec, [])
    return [layer(ins[0])]


@converter("Dropout", param="dropout_param")
def _dropout(spec, ins, weights):
    layer = nn.Dropout(spec.param("dropout_param").get("dropout_ratio"), name=spec.layer_name)
    weights.take(spec, [])
    return [layer(ins[0])]


# ---- normalisation -------------------------------------------------------------------------

@converter("BatchNorm", param="batch_norm_param")
def _batch_norm(spec, ins, weights):
    # use_global_stats is not read: as Caffe's defaults for each phase, inference uses the
    # stored statistics and training calls the batch's
    p = spec.param("batch_norm_param")
    momentum = min(max(1.0 - p.get("moving_average_fraction"), 0.0), 1.0)
    x = ins[0]
    c = _known(spec, x, 1, "channels")
    blobs = weights.take(spec, [(c,), (c,), (1,)])
    layer = nn.BatchNorm(momentum=momentum, eps=p.get("eps"), center=False, scale=False, name=spec.layer_name)
    y = layer(x)
    if blobs:
        # Caffe keeps running sums and their count; the statistics are the sums over the count
        factor = 0.0 if blobs[2][0] == 0 else 1.0 / blobs[2][0]
        weights.put(layer, {"running_mean": blobs[0] * factor, "running_var": blobs[1] * factor})
    return [y]


def _lrn_check(spec):
    p = spec.param("lrn_param")
    if p.get("local_size") % 2 == 0:
        return "an even local_size (Caffe requires an odd one)"
    return None


@converter("LRN", check=_lrn_check, param="lrn_param")
def _lrn(spec, ins, weights):
    p = spec.param("lrn_param")
    within = p.get("norm_region") == "WITHIN_CHANNEL"
    # Caffe's within-channel LRN adds 1, whatever k says
    layer = nn.LocalResponseNormalization(p.get("local_size"), p.get("alpha"), p.get("beta"),
                                          1.0 if within else p.get("k"), region="within" if within else "across",
                                          name=spec.layer_name)
    weights.take(spec, [])
    return [layer(ins[0])]


def _scale_like(spec, ins, weights, scale: bool):
    p = spec.param("scale_param" if scale else "bias_param")
    bias = p.get("bias_term") if scale else True
    layer = CaffeScale(p.get("axis"), p.get("num_axes"), scale=scale, bias=bias, name=spec.layer_name)
    shape = layer._param_shape([v.type.shape[1:] for v in ins])
    keys = []
    if len(ins) == 1 and scale:
        keys.append("gamma")
    if bias and (len(ins) == 1 or scale):
        keys.append("beta")
    blobs = weights.take(spec, [(1,) if shape is None else shape] * len(keys))
    y = layer(list(ins))
    if blobs:
        weights.put(layer, dict(zip(keys, blobs)))
    return [y]


@converter("Scale", bottoms=(1, 2), param="scale_param")
def _scale(spec, ins, weights):
    return _scale_like(spec, ins, weights, scale=True)


@converter("Bias", bottoms=(1, 2), param="bias_param")
def _bias(spec, ins, weights):
    return _scale_like(spec, ins, weights, scale=False)


# ---- joining and splitting -----------------------------------------------------------------

def _eltwise_check(spec):
    p = spec.param("eltwise_param")
    if p.count("coeff") and p.get("operation") != "SUM":
        return "coeff with an operation other than SUM"
    if p.count("coeff") and p.count("coeff") != len(spec.bottoms):
        return f"{p.count('coeff')} coefficients for {len(spec.bottoms)} bottoms"
    return None


@converter("Eltwise", check=_eltwise_check, bottoms=(2, None), param="eltwise_param")
def _eltwise(spec, ins, weights):
    p = spec.param("eltwise_param")
    layer = CaffeEltwise(p.get("operation").lower(), p.list("coeff") or None, name=spec.layer_name)
    weights.take(spec, [])
    return [layer(list(ins))]


def _axis_of(spec, p, axis_field: str, legacy_field: str) -> int:
    if p.has(axis_field) and p.has(legacy_field):
        raise CaffeError(f"{spec.describe()}: give {axis_field} or {legacy_field}, not both")
    return p.get(legacy_field) if p.has(legacy_field) else p.get(axis_field)


@converter("Concat", bottoms=(1, None), param="concat_param")
def _concat(spec, ins, weights):
    axis = _axis_of(spec, spec.param("concat_param"), "axis", "concat_dim")
    if len(ins) == 1:
        layer = CaffeSplit(name=spec.layer_name)
        weights.take(spec, [])
        return [layer(ins[0])]
    rank = ins[0].ndim
    if axis in (0, -rank):
        raise CaffeError(f"{spec.describe()}: concatenating along the batch axis is not supported")
    layer = nn.Concatenate(axis, name=spec.layer_name)
    weights.take(spec, [])
    return [layer(list(ins))]


@converter("Split")
def _split(spec, ins, weights):
    layer = CaffeSplit(name=spec.layer_name)
    weights.take(spec, [])
    y = layer(ins[0])
    return [y] * len(spec.tops)


@converter("Slice", param="slice_param")
def _slice(spec, ins, weights):
    p = spec.param("slice_param")
    x = ins[0]
    axis = _axis_of(spec, p, "axis", "slice_dim")
    a = axis + x.ndim if axis < 0 else axis
    if not 1 <= a < x.ndim:
        raise CaffeError(f"{spec.describe()}: slicing axis {axis} of inputs of rank {x.ndim} is not supported "
                         f"(the batch axis, or out of range)")
    n = _known(spec, x, a, f"axis {a}")
    tops, points = len(spec.tops), p.list("slice_point")
    if points:
        if len(points) != tops - 1 or any(b <= a_ for a_, b in zip(points, points[1:])) or points[-1] >= n \
                or points[0] <= 0:
            raise CaffeError(f"{spec.describe()}: slice points {points} do not cut {n} into {tops} pieces")
        bounds = [0, *points, n]
    else:
        if n % tops:
            raise CaffeError(f"{spec.describe()}: {n} does not split evenly into {tops} tops")
        bounds = [i * n // tops for i in range(tops + 1)]
    outs = []
    for i, top in enumerate(spec.tops):
        name = spec.layer_name if i == 0 else f"{spec.layer_name}:{top.replace('/', '.')}"
        layer = CaffeSlice(a, bounds[i], bounds[i + 1], name=name)
        if i == 0:
            weights.take(spec, [])
        outs.append(layer(x))
    return outs


@converter("Flatten", param="flatten_param")
def _flatten(spec, ins, weights):
    p = spec.param("flatten_param")
    layer = CaffeFlatten(p.get("axis"), p.get("end_axis"), name=spec.layer_name)
    weights.take(spec, [])
    return [layer(ins[0])]


@converter("Reshape", param="reshape_param")
def _reshape(spec, ins, weights):
    p = spec.param("reshape_param")
    shape = p.get("shape")
    layer = CaffeReshape(shape.list("dim") if shape is not None else [], p.get("axis"), p.get("num_axes"),
                         name=spec.layer_name)
    weights.take(spec, [])
    return [layer(ins[0])]


# ---- the whole net -------------------------------------------------------------------------

def unsupported_layers(net: CaffeNet) -> None:
    """Raise one UnsupportedLayersError listing every layer theon cannot import."""
    found = defaultdict(list)
    for spec in net.layers:
        conv = CONVERTERS.get(spec.type)
        if conv is None:
            found[spec.type].append(spec.name)
            continue
        unknown = spec.param(conv.param).unknown if conv.param else []
        why = conv.check(spec) if conv.check else None
        if unknown:
            why = f"{conv.param} fields theon does not know: {', '.join(sorted(set(unknown)))}"
        if why:
            found[f"{spec.type} with {why}"].append(spec.name)
    if found:
        total = sum(len(v) for v in found.values())
        parts = [f"{kind} x{len(names)} ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})"
                 for kind, names in sorted(found.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
        raise UnsupportedLayersError(f"{net.prototxt}: theon cannot import {total} layer(s): " + "; ".join(parts),
                                     dict(found))


def build_model(net: CaffeNet) -> nn.Model:
    """The functional model of a checked net (see the module docstring)."""
    unsupported_layers(net)
    values, inputs = {}, []
    for spec in net.inputs:
        v = nn.Input(spec.shape, name=spec.blob)
        values[spec.blob] = v
        inputs.append(v)
    weights = _Weights(net)
    consumed, produced = set(), []
    for spec in net.layers:
        conv = CONVERTERS[spec.type]
        lo, hi = conv.bottoms
        if not (lo <= len(spec.bottoms) and (hi is None or len(spec.bottoms) <= hi)) or not spec.tops:
            want = f"{lo}" if lo == hi else f"{lo} or more" if hi is None else f"{lo} to {hi}"
            raise CaffeError(f"{net.prototxt}: {spec.describe()} takes {want} bottom(s) and gives at least one "
                             f"top; it has {len(spec.bottoms)} and {len(spec.tops)}")
        ins = []
        for b in spec.bottoms:
            if b not in values:
                why = "a training-only layer or a label top makes it" if b in net.dropped_blobs else \
                    "no earlier layer makes it"
                raise CaffeError(f"{net.prototxt}: {spec.describe()} reads the blob {b!r}, but {why}")
            ins.append(values[b])
        try:
            outs = conv.build(spec, ins, weights)
        except CaffeError as e:
            raise CaffeError(f"{net.prototxt}: {e}") from None
        except (TheonError, ValueError, TypeError) as e:
            raise CaffeError(f"{net.prototxt}: {spec.describe()}: {e}") from None
        consumed.update(id(v) for v in ins)
        for top, out in zip(spec.tops, outs):
            values[top] = out
            if top not in produced:
                produced.append(top)
    if weights.problems:
        where = f"{net.prototxt} and {net.caffemodel}" if net.caffemodel else net.prototxt
        raise CaffeError(f"{where} do not fit together ({len(weights.problems)} problem(s)):\n  "
                         + "\n  ".join(weights.problems))
    outputs = []
    for top in produced:
        v = values[top]
        if id(v) not in consumed and all(v is not o for o in outputs):
            outputs.append(v)
    if not outputs:
        raise CaffeError(f"{net.prototxt}: the net has no output (every blob is read by a later layer)")
    return nn.Model(inputs[0] if len(inputs) == 1 else inputs, outputs[0] if len(outputs) == 1 else outputs,
                    name=net.name)
