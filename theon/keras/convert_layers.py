"""One converter per Keras layer class: read its config, check and read its weights in
Keras' layouts, make the theon layer of the same name, call it, and set the weights in
theon's layouts (convert.py describes the channels-first conversion).

Keras layouts, and theon's:
  Conv1D/2D kernel (*k, in / groups, out)   -> (out, in / groups, *k)
  DepthwiseConv2D (kh, kw, C, m)            -> (C * m, 1, kh, kw)   (output channel c * m + j)
  SeparableConv2D pointwise (1, 1, C*m, F)  -> (F, C * m, 1, 1)
  Dense kernel (in, out)                    -> the same
  LSTM/GRU/SimpleRNN kernel (in, G*H), recurrent (H, G*H) -> torch's (G*H, in), (G*H, H);
    GRU gates z, r, h -> r, z, n; GRU bias (2, 3H) -> bias_ih, bias_hh
"""
from __future__ import annotations

import numpy as np

from .. import nn
from .convert import ACTIVATIONS, T, _check_activation, _check_conv, activation_name, converter
from .errors import KerasError
from .layers import KerasAvgPool1D, KerasMaxPool1D, KerasMerge, KerasPermute, KerasPReLU

__all__: list = []


def _act(c):
    return ACTIVATIONS[activation_name(c.get("activation", "linear") or "linear")]


def _ints(value, n: int, what: str) -> tuple:
    t = (int(value),) * n if isinstance(value, (int, np.integer)) else tuple(int(v) for v in value)
    if len(t) != n:
        raise KerasError(f"{what} must have {n} values, got {value!r}")
    return t


def _known(spec, t: T, what: str) -> int:
    d = t.keras_shape()[-1]
    if d is None:
        raise KerasError(f"{spec.describe()} needs the {what} of its input known, got {t.keras_shape()}")
    return int(d)


def _one(spec, ins) -> T:
    if len(ins) != 1:
        raise KerasError(f"{spec.describe()} takes one input, got {len(ins)}")
    return ins[0]


def _no_channel_softmax(spec, act):
    if act in ("softmax", "log_softmax"):
        raise KerasError(f"{spec.describe()}: a {act} over the channels of a convolution is not supported; "
                         f"use a Softmax or Activation layer after it")


# ---- convolutions --------------------------------------------------------------------------

@converter("Conv1D", "Conv2D", "Convolution1D", "Convolution2D", check=_check_conv)
def _conv(spec, ins, ctx):
    c = spec.config
    rank = 1 if spec.class_name.endswith("1D") else 2
    x = ctx.channels_first(_one(spec, ins))
    if x.rank != rank + 2:
        raise KerasError(f"{spec.describe()} needs inputs of rank {rank + 2}, got {x.keras_shape()}")
    cin = _known(spec, x, "channels")
    k = _ints(c["kernel_size"], rank, "kernel_size")
    groups, filters, bias = int(c.get("groups", 1)), int(c["filters"]), bool(c.get("use_bias", True))
    act = _act(c)
    _no_channel_softmax(spec, act)
    w = ctx.take(spec, [(*k, cin // max(groups, 1), filters)] + ([(filters,)] if bias else []))
    layer = (nn.Conv1D if rank == 1 else nn.Conv2D)(
        filters, k, strides=_ints(c.get("strides", 1), rank, "strides"), padding=c.get("padding", "valid"),
        dilation=_ints(c.get("dilation_rate", 1), rank, "dilation_rate"), groups=groups, activation=act,
        use_bias=bias, name=spec.name)
    y = layer(x.var)
    if w:
        ctx.put(layer, {"kernel": np.transpose(w[0], (rank + 1, rank, *range(rank))),
                        **({"bias": w[1]} if bias else {})})
    return T(y, True, spec.name)


def _depthwise_kernel(w):
    kh, kw, ch, m = w.shape
    return np.transpose(w.reshape(kh, kw, ch * m), (2, 0, 1))[:, None]


@converter("DepthwiseConv2D", check=_check_conv)
def _depthwise(spec, ins, ctx):
    c = spec.config
    x = ctx.channels_first(_one(spec, ins))
    cin = _known(spec, x, "channels")
    k = _ints(c["kernel_size"], 2, "kernel_size")
    m, bias = int(c.get("depth_multiplier", 1)), bool(c.get("use_bias", True))
    act = _act(c)
    _no_channel_softmax(spec, act)
    w = ctx.take(spec, [(*k, cin, m)] + ([(cin * m,)] if bias else []))
    layer = nn.DepthwiseConv2D(k, strides=_ints(c.get("strides", 1), 2, "strides"), padding=c.get("padding"),
                               depth_multiplier=m, dilation=_ints(c.get("dilation_rate", 1), 2, "dilation_rate"),
                               activation=act, use_bias=bias, name=spec.name)
    y = layer(x.var)
    if w:
        ctx.put(layer, {"kernel": _depthwise_kernel(w[0]), **({"bias": w[1]} if bias else {})})
    return T(y, True, spec.name)


@converter("SeparableConv2D", "SeparableConvolution2D", check=_check_conv)
def _separable(spec, ins, ctx):
    c = spec.config
    x = ctx.channels_first(_one(spec, ins))
    cin = _known(spec, x, "channels")
    k = _ints(c["kernel_size"], 2, "kernel_size")
    m, filters, bias = int(c.get("depth_multiplier", 1)), int(c["filters"]), bool(c.get("use_bias", True))
    act = _act(c)
    _no_channel_softmax(spec, act)
    w = ctx.take(spec, [(*k, cin, m), (1, 1, cin * m, filters)] + ([(filters,)] if bias else []))
    layer = nn.SeparableConv2D(filters, k, strides=_ints(c.get("strides", 1), 2, "strides"),
                               padding=c.get("padding"), depth_multiplier=m,
                               dilation=_ints(c.get("dilation_rate", 1), 2, "dilation_rate"), activation=act,
                               use_bias=bias, name=spec.name)
    y = layer(x.var)
    if w:
        ctx.put(layer, {"depthwise_kernel": _depthwise_kernel(w[0]),
                        "pointwise_kernel": np.transpose(w[1], (3, 2, 0, 1)), **({"bias": w[2]} if bias else {})})
    return T(y, True, spec.name)


# ---- pooling and padding -------------------------------------------------------------------

def _check_pool(spec):
    padding = spec.config.get("padding", "valid")
    return _check_format(spec) or (f"padding {padding!r}" if padding not in ("valid", "same") else None)


@converter("MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D", check=_check_pool)
def _pool(spec, ins, ctx):
    c = spec.config
    x = ctx.channels_first(_one(spec, ins))
    size = _ints(c.get("pool_size", 2), 2, "pool_size")
    strides = size if c.get("strides") is None else _ints(c["strides"], 2, "strides")
    if spec.class_name.startswith("Max"):
        layer = nn.MaxPool2D(size, strides, c.get("padding", "valid"), name=spec.name)
    else:
        layer = nn.AvgPool2D(size, strides, c.get("padding", "valid"), count_include_pad=False, name=spec.name)
    return T(layer(x.var), True, spec.name)


def _check_format(spec):
    if spec.config.get("data_format", "channels_last") not in ("channels_last", None):
        return f"data_format {spec.config.get('data_format')!r}"
    return None


@converter("MaxPooling1D", "AveragePooling1D", "MaxPool1D", "AvgPool1D", check=_check_pool)
def _pool1d(spec, ins, ctx):
    c = spec.config
    x = ctx.channels_first(_one(spec, ins))
    (size,) = _ints(c.get("pool_size", 2), 1, "pool_size")
    (strides,) = (size,) if c.get("strides") is None else _ints(c["strides"], 1, "strides")
    cls = KerasMaxPool1D if spec.class_name.startswith("Max") else KerasAvgPool1D
    return T(cls(size, strides, c.get("padding", "valid"), name=spec.name)(x.var), True, spec.name)


_GLOBAL = {"GlobalAveragePooling2D": nn.GlobalAvgPool2D, "GlobalMaxPooling2D": nn.GlobalMaxPool2D,
           "GlobalAveragePooling1D": nn.GlobalAvgPool1D, "GlobalMaxPooling1D": nn.GlobalMaxPool1D,
           "GlobalAvgPool2D": nn.GlobalAvgPool2D, "GlobalMaxPool2D": nn.GlobalMaxPool2D,
           "GlobalAvgPool1D": nn.GlobalAvgPool1D, "GlobalMaxPool1D": nn.GlobalMaxPool1D}


@converter(*_GLOBAL, check=_check_format)
def _global_pool(spec, ins, ctx):
    keep = bool(spec.config.get("keepdims", False))
    x = ctx.channels_first(_one(spec, ins))
    y = _GLOBAL[spec.class_name](keepdims=keep, name=spec.name)(x.var)
    return T(y, keep, spec.name)


@converter("ZeroPadding2D", check=_check_format)
def _zero_padding(spec, ins, ctx):
    x = ctx.channels_first(_one(spec, ins))
    p = spec.config.get("padding", 1)
    p = tuple(tuple(v) if isinstance(v, (list, tuple)) else v for v in p) if isinstance(p, (list, tuple)) else p
    return T(nn.ZeroPadding2D(p, name=spec.name)(x.var), True, spec.name)


# ---- dense, shape, activations -------------------------------------------------------------

@converter("Dense", check=_check_activation)
def _dense(spec, ins, ctx):
    c = spec.config
    x = ctx.channels_last(_one(spec, ins))
    n_in, units, bias = _known(spec, x, "features"), int(c["units"]), bool(c.get("use_bias", True))
    w = ctx.take(spec, [(n_in, units)] + ([(units,)] if bias else []))
    layer = nn.Dense(units, activation=_act(c), use_bias=bias, name=spec.name)
    y = layer(x.var)
    if w:
        ctx.put(layer, {"kernel": w[0], **({"bias": w[1]} if bias else {})})
    return T(y, False, spec.name)


@converter("Flatten")
def _flatten(spec, ins, ctx):
    if spec.config.get("data_format", "channels_last") not in ("channels_last", None):
        raise KerasError(f"{spec.describe()}: data_format {spec.config['data_format']!r} is not supported")
    x = ctx.channels_last(_one(spec, ins))
    return T(nn.Flatten(name=spec.name)(x.var), False, spec.name)


@converter("Reshape")
def _reshape(spec, ins, ctx):
    x = ctx.channels_last(_one(spec, ins))
    return T(nn.Reshape(tuple(spec.config["target_shape"]), name=spec.name)(x.var), False, spec.name)


@converter("Permute")
def _permute(spec, ins, ctx):
    x = ctx.channels_last(_one(spec, ins))
    return T(KerasPermute(spec.config["dims"], name=spec.name)(x.var), False, spec.name)


@converter("Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
           "ActivityRegularization")
def _inference_identity(spec, ins, ctx):
    # theon's Dropout drops elements; the others, identities at inference, import as rate-0 Dropout
    x = _one(spec, ins)
    rate = float(spec.config.get("rate", 0.0)) if spec.class_name == "Dropout" else 0.0
    return T(nn.Dropout(rate, name=spec.name)(x.var), x.cf, spec.name)


@converter("Activation", check=_check_activation)
def _activation(spec, ins, ctx):
    act = _act(spec.config)
    x = _one(spec, ins)
    if act in ("softmax", "log_softmax"):  # over Keras' last axis
        x = ctx.channels_last(x)
    return T(nn.Activation(act, name=spec.name)(x.var), x.cf, spec.name)


def _check_relu(spec):
    if float(spec.config.get("threshold", 0.0) or 0.0) != 0.0:
        return "threshold other than 0"
    return None


@converter("ReLU", check=_check_relu)
def _relu(spec, ins, ctx):
    c = spec.config
    x = _one(spec, ins)
    layer = nn.ReLU(float(c.get("negative_slope", 0.0) or 0.0), c.get("max_value"), name=spec.name)
    return T(layer(x.var), x.cf, spec.name)


@converter("LeakyReLU")
def _leaky_relu(spec, ins, ctx):
    c = spec.config
    slope = c.get("negative_slope", c.get("alpha", 0.3))
    x = _one(spec, ins)
    return T(nn.ReLU(float(slope), name=spec.name)(x.var), x.cf, spec.name)


@converter("ELU")
def _elu(spec, ins, ctx):
    x = _one(spec, ins)
    return T(nn.ELU(float(spec.config.get("alpha", 1.0)), name=spec.name)(x.var), x.cf, spec.name)


@converter("Softmax")
def _softmax(spec, ins, ctx):
    x = _one(spec, ins)
    axis = spec.config.get("axis", -1)
    if isinstance(axis, list):
        if len(axis) != 1:
            raise KerasError(f"{spec.describe()}: a softmax over several axes is not supported")
        axis = axis[0]
    return T(nn.Softmax(ctx.axis(spec, x, int(axis)), name=spec.name)(x.var), x.cf, spec.name)


@converter("PReLU")
def _prelu(spec, ins, ctx):
    x = _one(spec, ins)
    shape = list(x.keras_shape()[1:])
    for a in spec.config.get("shared_axes") or []:
        shape[int(a) - 1] = 1
    if None in shape:
        raise KerasError(f"{spec.describe()} needs its input's shape known, got {x.keras_shape()}")
    w = ctx.take(spec, [tuple(shape)])
    alpha_shape = (shape[-1], *shape[:-1]) if x.cf else shape
    layer = KerasPReLU(alpha_shape, name=spec.name)
    y = layer(x.var)
    if w:
        ctx.put(layer, {"alpha": np.moveaxis(w[0], -1, 0) if x.cf else w[0]})
    return T(y, x.cf, spec.name)


# ---- normalisation -------------------------------------------------------------------------

@converter("BatchNormalization")
def _batch_norm(spec, ins, ctx):
    c = spec.config
    x = _one(spec, ins)
    axis = c.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    r = x.rank
    if not isinstance(axis, int) or axis % r != r - 1:
        raise KerasError(f"{spec.describe()}: normalising over axis {axis} is not supported (only the last, "
                         f"the channels)")
    x = ctx.channels_first(x)
    n = _known(spec, x, "channels")
    center, scale = bool(c.get("center", True)), bool(c.get("scale", True))
    w = ctx.take(spec, [(n,)] * (int(scale) + int(center) + 2))
    layer = nn.BatchNorm(momentum=1.0 - float(c.get("momentum", 0.99)), eps=float(c.get("epsilon", 1e-3)),
                         center=center, scale=scale, name=spec.name)
    y = layer(x.var)
    if w:
        keys = (["gamma"] if scale else []) + (["beta"] if center else []) + ["running_mean", "running_var"]
        ctx.put(layer, dict(zip(keys, w)))
    return T(y, x.cf, spec.name)


# ---- merges --------------------------------------------------------------------------------

@converter("Add")
def _add(spec, ins, ctx):
    xs = ctx.same_layout(ins)
    return T(nn.Add(name=spec.name)([t.var for t in xs]), xs[0].cf, spec.name)


@converter("Multiply", "Subtract", "Average", "Maximum", "Minimum")
def _merge(spec, ins, ctx):
    xs = ctx.same_layout(ins)
    layer = KerasMerge(spec.class_name.lower(), name=spec.name)
    return T(layer([t.var for t in xs]), xs[0].cf, spec.name)


@converter("Concatenate")
def _concatenate(spec, ins, ctx):
    xs = ctx.same_layout(ins)
    axis = ctx.axis(spec, xs[0], int(spec.config.get("axis", -1)))
    return T(nn.Concatenate(axis, name=spec.name)([t.var for t in xs]), xs[0].cf, spec.name)


# ---- embeddings and recurrent layers -------------------------------------------------------

def _check_embedding(spec):
    if spec.config.get("mask_zero"):
        return "mask_zero=True"
    return None


@converter("Embedding", check=_check_embedding)
def _embedding(spec, ins, ctx):
    c = spec.config
    x = ctx.channels_last(_one(spec, ins))
    n, d = int(c["input_dim"]), int(c["output_dim"])
    w = ctx.take(spec, [(n, d)])
    layer = nn.Embedding(n, d, name=spec.name)
    y = layer(x.var)
    if w:
        ctx.put(layer, {"embeddings": w[0]})
    return T(y, False, spec.name)


def _check_recurrent(spec):
    c = spec.config
    for key in ("go_backwards", "stateful", "return_state", "time_major"):
        if c.get(key):
            return f"{key}=True"
    act = activation_name(c.get("activation", "tanh"))
    if spec.class_name != "SimpleRNN" and act != "tanh":
        return f"activation {act!r} (theon's cells use tanh)"
    if spec.class_name == "SimpleRNN" and act not in ACTIVATIONS:
        return f"activation {act!r}"
    rec = activation_name(c.get("recurrent_activation", "sigmoid"))
    if spec.class_name != "SimpleRNN" and rec != "sigmoid":
        return f"recurrent_activation {rec!r} (theon's cells use sigmoid)"
    if spec.class_name == "GRU" and not c.get("reset_after", True):
        return "reset_after=False (theon's GRU is Keras' reset_after=True, as torch)"
    return None


_GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}


def _gru_order(w, h: int):
    """Keras' GRU gates (z, r, h) along the last axis, as torch's (r, z, n)."""
    z, r, n = w[..., :h], w[..., h:2 * h], w[..., 2 * h:]
    return np.concatenate([r, z, n], axis=-1)


@converter("SimpleRNN", "LSTM", "GRU", check=_check_recurrent)
def _recurrent(spec, ins, ctx):
    c = spec.config
    x = ctx.channels_last(_one(spec, ins))
    if x.rank != 3:
        raise KerasError(f"{spec.describe()} needs (batch, steps, features) inputs, got {x.keras_shape()}")
    f, h, bias = _known(spec, x, "features"), int(c["units"]), bool(c.get("use_bias", True))
    g = _GATES[spec.class_name] * h
    bias_shape = (2, g) if spec.class_name == "GRU" else (g,)
    w = ctx.take(spec, [(f, g), (h, g)] + ([bias_shape] if bias else []))
    seq = bool(c.get("return_sequences", False))
    if spec.class_name == "SimpleRNN":
        layer = nn.SimpleRNN(h, activation=_act(c), return_sequences=seq, use_bias=bias, name=spec.name)
    elif spec.class_name == "LSTM":
        layer = nn.LSTM(h, return_sequences=seq, use_bias=bias, name=spec.name)
    else:
        layer = nn.GRU(h, return_sequences=seq, use_bias=bias, name=spec.name)
    y = layer(x.var)
    if w:
        kernel, recurrent = w[0], w[1]
        b_ih = b_hh = np.zeros(g, np.float32)
        if bias:
            b_ih, b_hh = (w[2][0], w[2][1]) if spec.class_name == "GRU" else (w[2], b_hh)
        if spec.class_name == "GRU":
            kernel, recurrent, b_ih, b_hh = (_gru_order(v, h) for v in (kernel, recurrent, b_ih, b_hh))
        values = {"weight_ih": kernel.T, "weight_hh": recurrent.T}
        if bias:
            values.update(bias_ih=b_ih, bias_hh=b_hh)
        ctx.put(layer, values)
    return T(y, False, spec.name)
