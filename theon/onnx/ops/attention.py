"""ONNX Attention (opset 23+) composed from theon ops: heads split from 3-D inputs, past
key/value caches, grouped-query heads, boolean/additive masks, causal and sliding-window
masks, softcap, the optional QK output, and fully masked rows giving zeros."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from ..importer.tensors import theon_dtype
from . import converter
from .shape import shape_elems


def _heads(x, n):
    b, s, hidden = shape_elems(x)
    return T.transpose(T.reshape(x, [b, s, n, hidden // n]), (0, 2, 1, 3))


def _const_like(x, value):
    return np.asarray(value, dtype=x.dtype)


@converter("Attention")
def attention(ctx):
    q, k, v = ctx.x(0), ctx.x(1), ctx.x(2)
    mask, past_k, past_v = ctx.x(3), ctx.x(4), ctx.x(5)
    nonpad = ctx.x(6) if ctx.n_in > 6 else None
    rank3 = q.ndim == 3
    if rank3:
        qh, kvh = ctx.attr("q_num_heads"), ctx.attr("kv_num_heads")
        q, k, v = _heads(q, qh), _heads(k, kvh), _heads(v, kvh)
    scale = ctx.attr("scale")
    hd = q.type.shape[3]
    if scale is None:
        if hd is None:
            ctx.fail("Attention without scale needs the head size when building")
        scale = 1 / np.sqrt(hd)
    root = np.sqrt(np.asarray(scale, dtype=q.dtype)).astype(q.dtype)
    present_k = T.concatenate([past_k, k], axis=2) if past_k is not None else k
    present_v = T.concatenate([past_v, v], axis=2) if past_v is not None else v
    k, v = present_k, present_v
    lq, lkv = q.type.shape[2], k.type.shape[2]
    if lq is None or lkv is None:
        ctx.fail("Attention needs the sequence lengths when building")
    bias = None
    if mask is not None:
        pad = lkv - mask.type.shape[-1]
        if pad > 0:
            width = [(0, 0)] * (mask.ndim - 1) + [(0, pad)]
            mask = T.pad(mask, width, constant_values=False if mask.dtype == "bool" else -np.inf)
        if mask.dtype == "bool":
            mask = T.where(mask, _const_like(q, 0), _const_like(q, -np.inf))
        bias = T.cast_to(mask, q.dtype)
    left, right = ctx.attr("left_window_size", -1), ctx.attr("right_window_size", -1)
    nonpad_value = ctx.const(6, "nonpad_kv_seqlen") if nonpad is not None else None
    if nonpad is not None and nonpad_value is None:
        ctx.fail("Attention's nonpad_kv_seqlen must be known when building")
    if past_k is None and nonpad_value is not None:
        offset = np.asarray(nonpad_value).reshape(-1, 1, 1, 1) - lq
    else:
        offset = past_k.type.shape[2] if past_k is not None else 0
        if offset is None:
            ctx.fail("Attention needs the past length when building")
    i = np.arange(lq).reshape(lq, 1)
    j = np.arange(lkv).reshape(1, lkv)
    allowed = np.ones((1, 1, lq, lkv), bool)
    if ctx.attr("is_causal", 0):
        allowed = allowed & (j <= i + offset)
    if left >= 0 or right >= 0:
        diff = (i + offset) - j
        if left >= 0:
            allowed = allowed & (diff <= left)
        if right >= 0:
            allowed = allowed & (-diff <= right)
    if nonpad_value is not None:
        allowed = allowed & (np.arange(lkv) < np.asarray(nonpad_value).reshape(-1, 1, 1, 1))
    if not allowed.all():
        extra = T.as_variable(np.where(allowed, 0, -np.inf).astype(q.dtype))
        bias = extra if bias is None else bias + extra
    heads_q, heads_k = q.type.shape[1], k.type.shape[1]
    if heads_q is not None and heads_k is not None and heads_q != heads_k:
        k = T.repeat(k, heads_q // heads_k, axis=1)
        v = T.repeat(v, heads_q // heads_k, axis=1)
    qk = T.matmul(q * root, T.swapaxes(k * root, 2, 3))
    softcap = ctx.attr("softcap", 0.0)
    if softcap and softcap > 0:
        qk = T.tanh(qk / _const_like(qk, softcap)) * _const_like(qk, softcap)
    scores = qk if bias is None else qk + bias
    mode = ctx.attr("qk_matmul_output_mode", 0)
    qk_out = scores if mode == 2 else qk
    precision = ctx.attr("softmax_precision")
    work = T.cast_to(scores, theon_dtype(precision, "softmax_precision")) if precision else scores
    top = T.max(work, axis=-1, keepdims=True)
    masked_row = T.isinf(top) & T.less(top, _const_like(top, 0))
    safe = T.where(masked_row, T.zeros_like(top), top)
    e = T.exp(work - safe)
    total = T.sum(e, axis=-1, keepdims=True)
    probs = e / T.where(T.equal(total, _const_like(total, 0)), T.ones_like(total), total)
    if bias is not None:
        bmax = T.max(bias, axis=-1, keepdims=True)
        all_masked = T.isinf(bmax) & T.less(bmax, _const_like(bmax, 0))
        probs = T.where(all_masked, _const_like(probs, 0), probs)
    if mode == 3:
        qk_out = probs
    probs = T.cast_to(probs, q.dtype)
    y = T.matmul(probs, v)
    if rank3:
        b, h, s, d = shape_elems(y)
        y = T.reshape(T.transpose(y, (0, 2, 1, 3)), [b, s, h * d])
    return [y, present_k, present_v, T.cast_to(qk_out, q.dtype)]

