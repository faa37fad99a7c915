"""ONNX LSTM / GRU / RNN as th.scan over time (one scan per direction). The input
projection of every step is one matmul before the loop; the loop does the recurrent part."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from ...control import scan as th_scan
from . import converter


def _act(name, alpha=None, beta=None):
    name = name.lower()
    if name == "sigmoid":
        return T.sigmoid
    if name == "tanh":
        return T.tanh
    if name == "relu":
        return T.relu
    if name == "hardsigmoid":
        a, b = 0.2 if alpha is None else alpha, 0.5 if beta is None else beta
        return lambda x: T.clip(x * np.asarray(a, x.dtype) + np.asarray(b, x.dtype), 0.0, 1.0)
    if name == "leakyrelu":
        a = 0.01 if alpha is None else alpha
        return lambda x: T.where(T.less(x, np.asarray(0, x.dtype)), x * np.asarray(a, x.dtype), x)
    if name == "affine":
        return lambda x: x * np.asarray(alpha, x.dtype) + np.asarray(beta, x.dtype)
    if name == "scaledtanh":
        return lambda x: T.tanh(x * np.asarray(beta, x.dtype)) * np.asarray(alpha, x.dtype)
    if name == "softsign":
        return lambda x: x / (T.abs(x) + np.asarray(1, x.dtype))
    if name == "softplus":
        return T.softplus
    if name == "elu":
        a = 1.0 if alpha is None else alpha
        return lambda x: T.where(T.less(x, np.asarray(0, x.dtype)), (T.exp(x) - np.asarray(1, x.dtype)) * np.asarray(a, x.dtype), x)
    raise ValueError(f"recurrent activation {name!r} is not supported")


def _activations(ctx, defaults, dirs):
    names = ctx.attr("activations") or defaults * dirs
    alphas = ctx.attr("activation_alpha") or []
    betas = ctx.attr("activation_beta") or []
    out = []
    for k, n in enumerate(names):
        out.append(_act(n, alphas[k] if k < len(alphas) else None, betas[k] if k < len(betas) else None))
    per = len(defaults)
    return [out[d * per:(d + 1) * per] for d in range(dirs)]


def _common(ctx, gates):
    x, w, r = ctx.x(0), ctx.x(1), ctx.x(2)
    b = ctx.x(3)
    lens = ctx.static(4) if ctx.has(4) else None
    if ctx.has(4) and lens is None:
        ctx.fail("sequence_lens that depend on the data are not supported")
    layout = ctx.attr("layout", 0)
    if layout:
        x = T.swapaxes(x, 0, 1)
    direction = ctx.attr("direction", "forward")
    dirs = 2 if direction == "bidirectional" else 1
    hidden = ctx.attr("hidden_size") or r.type.shape[-1]
    return x, w, r, b, lens, layout, direction, dirs, hidden


def _initial(ctx, i, layout, d, like_batch, hidden, dtype):
    if ctx.has(i):
        h = ctx.x(i)
        if layout:
            h = T.swapaxes(h, 0, 1)
        return h[d]
    return T.zeros([T.dim(like_batch, 1), hidden], dtype=dtype)


def _mask_lens(lens, seq_len, batch, dtype):
    """(seq, batch, 1) 1/0 masks for steps inside each sequence's length, or None."""
    if lens is None:
        return None
    lens = np.asarray(lens).reshape(-1)
    if seq_len is not None and np.all(lens == seq_len):
        return None
    if seq_len is None:
        raise ValueError("sequence_lens with a sequence length unknown when building")
    mask = (np.arange(seq_len)[:, None] < lens[None, :]).astype(dtype)[:, :, None]
    return T.as_variable(mask)


def _run(ctx, cell, n_states, defaults, gates):
    x, w, r, b, lens, layout, direction, dirs, hidden = _common(ctx, gates)
    acts = _activations(ctx, defaults, dirs)
    clip = ctx.attr("clip")
    mask = _mask_lens(lens, x.type.shape[0], x.type.shape[1], x.dtype)
    ys, finals = [], [[] for _ in range(n_states)]
    for d in range(dirs):
        reverse = direction == "reverse" or d == 1
        wd, rd = w[d], r[d]
        bw = b[d, :gates * hidden] if b is not None else None
        br = b[d, gates * hidden:] if b is not None else None
        xw = T.matmul(x, T.transpose(wd))
        if bw is not None:
            xw = xw + bw
        init = [_initial(ctx, 5 + k, layout, d, x, hidden, x.dtype) for k in range(n_states)]
        extra = {"p": ctx.x(7)[d] if ctx.node.op_type == "LSTM" and ctx.has(7) else None}
        fs = acts[d]

        def step(state, inp, fs=fs, rd=rd, br=br, extra=extra):
            xt = inp[0]
            new = cell(ctx, state, xt, rd, br, hidden, fs, clip, extra)
            if mask is not None:
                m = inp[1]
                new = [n * m + s * (np.asarray(1, m.dtype) - m) for n, s in zip(new, state)]
                return tuple(new), new[0] * m
            return tuple(new), new[0]

        seqs = (xw,) if mask is None else (xw, mask)
        final, y = th_scan(step, tuple(init), seqs, reverse=reverse)
        ys.append(y)
        for k in range(n_states):
            finals[k].append(final[k])
    y = T.stack(ys, axis=1)
    outs = [y] + [T.stack(f, axis=0) for f in finals]
    if layout:
        outs = [T.transpose(outs[0], (2, 0, 1, 3))] + [T.swapaxes(o, 0, 1) for o in outs[1:]]
    return outs


def _clip(v, clip):
    return v if clip is None else T.clip(v, -clip, clip)


def _lstm_cell(ctx, state, xt, rd, br, hidden, fs, clip, extra):
    h, c = state
    f_act, g_act, h_act = fs
    z = xt + T.matmul(h, T.transpose(rd))
    if br is not None:
        z = z + br
    H = hidden
    zi, zo, zf, zc = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
    p = extra["p"]
    if p is not None:
        zi = zi + p[:H] * c
        zf = zf + p[2 * H:] * c
    i = f_act(_clip(zi, clip))
    if ctx.attr("input_forget", 0):
        f = np.asarray(1, i.dtype) - i
    else:
        f = f_act(_clip(zf, clip))
    g = g_act(_clip(zc, clip))
    c_new = f * c + i * g
    zo = zo + p[H:2 * H] * c_new if p is not None else zo
    o = f_act(_clip(zo, clip))
    h_new = o * h_act(c_new)
    return [h_new, c_new]


def _gru_cell(ctx, state, xt, rd, br, hidden, fs, clip, extra):
    (h,) = state
    f_act, g_act = fs
    H = hidden
    rz, rr, rh = rd[:H], rd[H:2 * H], rd[2 * H:]
    bz = br[:H] if br is not None else None
    brr = br[H:2 * H] if br is not None else None
    bh = br[2 * H:] if br is not None else None
    xz, xr, xh = xt[:, :H], xt[:, H:2 * H], xt[:, 2 * H:]
    hz = T.matmul(h, T.transpose(rz))
    hr = T.matmul(h, T.transpose(rr))
    if bz is not None:
        hz, hr = hz + bz, hr + brr
    z = f_act(_clip(xz + hz, clip))
    r = f_act(_clip(xr + hr, clip))
    if ctx.attr("linear_before_reset", 0):
        hh = T.matmul(h, T.transpose(rh))
        if bh is not None:
            hh = hh + bh
        n = g_act(_clip(xh + r * hh, clip))
    else:
        hh = T.matmul(r * h, T.transpose(rh))
        if bh is not None:
            hh = hh + bh
        n = g_act(_clip(xh + hh, clip))
    h_new = (np.asarray(1, z.dtype) - z) * n + z * h
    return [h_new]


def _rnn_cell(ctx, state, xt, rd, br, hidden, fs, clip, extra):
    (h,) = state
    z = xt + T.matmul(h, T.transpose(rd))
    if br is not None:
        z = z + br
    return [fs[0](_clip(z, clip))]


@converter("LSTM")
def lstm(ctx):
    return _run(ctx, _lstm_cell, 2, ["Sigmoid", "Tanh", "Tanh"], 4)


@converter("GRU")
def gru(ctx):
    return _run(ctx, _gru_cell, 1, ["Sigmoid", "Tanh"], 3)


@converter("RNN")
def rnn(ctx):
    return _run(ctx, _rnn_cell, 1, ["Tanh"], 1)

