"""ONNX ops of sequence models composed from theon ops: RotaryEmbedding and
CausalConvWithState (a depthwise causal 1-d convolution carrying its last inputs)."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from ...control import scan as th_scan
from ...ops import nn as NN
from . import converter
from .nn import _as_2d, _pad_spatial, _pool_args
from .pooling_nd import pool_by_slices
from .shape import shape_elems


@converter("RotaryEmbedding")
def rotary_embedding(ctx):
    x, cos, sin = ctx.x(0), ctx.x(1), ctx.x(2)
    pos = ctx.x(3)
    rank4 = x.ndim == 4
    shape = shape_elems(x)
    if rank4:
        x = T.transpose(x, (0, 2, 1, 3))
    else:
        b, s, hidden = shape
        heads = ctx.attr("num_heads")
        x = T.reshape(x, [b, s, heads, hidden // heads])
    head = x.type.shape[3]
    dim = ctx.attr("rotary_embedding_dim", 0) or head
    rot, rest = x[..., :dim], x[..., dim:]
    if pos is not None:
        cos, sin = T.take(cos, pos, axis=0), T.take(sin, pos, axis=0)
    cos, sin = T.expand_dims(cos, 2), T.expand_dims(sin, 2)
    if ctx.attr("interleaved", 0):
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
    else:
        x1, x2 = rot[..., :dim // 2], rot[..., dim // 2:]
    real = cos * x1 - sin * x2
    imag = sin * x1 + cos * x2
    if ctx.attr("interleaved", 0):
        rot = T.reshape(T.stack([real, imag], axis=-1), shape_elems(rot))
    else:
        rot = T.concatenate([real, imag], axis=-1)
    out = T.concatenate([rot, rest], axis=-1) if dim < head else rot
    return T.transpose(out, (0, 2, 1, 3)) if rank4 else T.reshape(out, shape)


@converter("CausalConvWithState")
def causal_conv_with_state(ctx):
    x, w, b, past = ctx.x(0), ctx.x(1), ctx.x(2), ctx.x(3)
    k = w.type.shape[2]
    channels = x.type.shape[1]
    if past is None:
        past = T.zeros([T.dim(x, 0), channels, k - 1], dtype=x.dtype)
    padded = T.concatenate([past, x], axis=2)
    y = NN.conv1d(padded, w, b, groups=channels)
    if ctx.attr("activation", "none") in ("silu", "swish"):
        y = y * T.sigmoid(y)
    n = padded.type.shape[2]
    state = padded[:, :, n - (k - 1):] if n is not None else padded[:, :, -(k - 1):]
    return [y, state]


@converter("LpPool")
def lp_pool(ctx):
    x = ctx.x(0)
    n, kernel, strides, dilations, pads = _pool_args(ctx, x)
    p = ctx.attr("p", 2)
    if n > 2 or any(d != 1 for d in dilations):
        return pool_by_slices(x, kernel, strides, dilations, pads, bool(ctx.attr("ceil_mode", 0)), "lp", p=p)
    xp = _pad_spatial(T.power(T.abs(x), np.asarray(p, x.dtype)), pads)
    x2, (k, s) = _as_2d(xp, n, kernel, strides)
    total = NN.avg_pool2d(x2, k, s, 0, ceil_mode=bool(ctx.attr("ceil_mode", 0)), count_include_pad=False,
                          divisor_override=1)
    y = T.power(total, np.asarray(1.0 / p, x.dtype))
    return T.squeeze(y, 2) if n == 1 else y


@converter("GlobalLpPool")
def global_lp_pool(ctx):
    x = ctx.x(0)
    p = ctx.attr("p", 2)
    total = T.sum(T.power(T.abs(x), np.asarray(p, x.dtype)), axis=tuple(range(2, x.ndim)), keepdims=True)
    return T.power(total, np.asarray(1.0 / p, x.dtype))


@converter("AffineGrid")
def affine_grid(ctx):
    theta = ctx.x(0)
    size = [int(s) for s in np.asarray(ctx.const(1, "size")).reshape(-1)]
    align = ctx.attr("align_corners", 0)
    spatial = size[2:]

    def axis(n):
        if align:
            return np.linspace(-1, 1, n) if n > 1 else np.zeros(1)
        return (np.arange(n) * 2 + 1) / n - 1

    grids = np.meshgrid(*[axis(n) for n in spatial], indexing="ij")
    # coordinates in (x, y[, z]) order: the last spatial dim first
    base = np.stack([g for g in reversed(grids)] + [np.ones_like(grids[0])], axis=-1)
    base = base.reshape(-1, len(spatial) + 1).astype(theta.dtype)
    out = T.matmul(T.as_variable(base), T.swapaxes(theta, 1, 2))
    return T.reshape(out, [size[0]] + spatial + [len(spatial)])


def _heads_first(x, heads):
    """(B, T, H*D) -> (T, B, H, D): time first, for th.scan."""
    b, t, hd = shape_elems(x)
    return T.transpose(T.reshape(x, [b, t, heads, hd // heads]), (1, 0, 2, 3))


@converter("LinearAttention")
def linear_attention(ctx):
    q, k, v, past, decay, beta = (ctx.x(i) for i in range(6))
    rule = ctx.attr("update_rule", "gated_delta")
    hq, hkv = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
    gating, delta = rule in ("gated", "gated_delta"), rule in ("delta", "gated_delta")
    out_dtype = q.dtype
    b, t, _ = shape_elems(q)
    dk = q.type.shape[2] // hq
    dv = v.type.shape[2] // hkv
    group = hq // hkv
    f32 = lambda a: T.cast_to(a, "float32")  # noqa: E731
    seqs = [f32(_heads_first(q, hq)), f32(_heads_first(k, hkv)), f32(_heads_first(v, hkv))]
    if gating:
        last = decay.type.shape[-1]
        seqs.append(f32(_heads_first(decay, hkv)) if last != hkv else
                    f32(T.expand_dims(T.transpose(decay, (1, 0, 2)), -1)))
    if delta:
        seqs.append(f32(T.expand_dims(T.transpose(beta, (1, 0, 2)), -1)))
    state0 = f32(past) if past is not None else T.zeros([b, hkv, dk, dv], dtype="float32")
    scale = ctx.attr("scale", 0.0) or 1.0 / np.sqrt(dk)

    def step(state, xs):
        q_t, k_t, v_t = xs[0], xs[1], xs[2]
        rest = list(xs[3:])
        if gating:
            state = state * T.expand_dims(T.exp(rest.pop(0)), -1)
        if delta:
            retrieved = T.einsum("bhdm,bhd->bhm", state, k_t)
            v_t = rest.pop(0) * (v_t - retrieved)
        state = state + T.expand_dims(k_t, -1) * T.expand_dims(v_t, -2)
        read = T.repeat(state, group, axis=1) if group > 1 else state
        return state, T.einsum("bhd,bhdm->bhm", q_t, read) * np.float32(scale)

    final, ys = th_scan(step, state0, tuple(seqs))
    out = T.reshape(T.transpose(ys, (1, 0, 2, 3)), [b, t, hq * dv])
    return [T.cast_to(out, out_dtype), T.cast_to(final, past.dtype if past is not None else out_dtype)]
