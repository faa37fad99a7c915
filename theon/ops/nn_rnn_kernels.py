"""Whole-sequence LSTM and GRU kernels on torch tensors (no autograd), used by nn_rnn.py.

Layouts are torch.nn.LSTM / GRU's for one layer and one direction: x (T, B, I) time-major,
states (B, H), weight_ih (G*H, I), weight_hh (G*H, H), biases (G*H,) or None; gates
i, f, g, o (LSTM) and r, z, n (GRU, n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).
`reverse` runs from the last step to the first; y[t] stays aligned with x[t].

Three backends, chosen per call by `backend(cell, x)`; a forward and its backward always
see the same device and dtype, so they agree on the workspace the forward leaves:
- "mkldnn": oneDNN's LSTM (CPU float32): one call each way; the workspace is oneDNN's.
- "cudnn": cuDNN (CUDA): one call each way; the workspace is cuDNN's reserve space
  behind a copy of its packed weights (the backward needs both).
- "portable": a loop of ATen calls, 5-9 per step each way, for every other device, dtype
  and for the GRU on the CPU (ATen exposes no fused CPU GRU). The forward keeps the gate
  activations (and the LSTM's cell states) as the workspace; the backward computes every
  factor that does not depend on the recurrence for all steps at once, so its loop holds
  only the recurrent product and a few multiplies.
"""
from __future__ import annotations

import torch

GATES = {"lstm": 4, "gru": 3}
_CUDNN_MODE = {"lstm": 2, "gru": 3}
_MKLDNN_LSTM = 2  # ideep::rnn_kind::LSTM


def backend(cell: str, x: torch.Tensor) -> str:
    if x.device.type == "cuda" and torch.backends.cudnn.is_available() and torch.backends.cudnn.enabled \
            and x.dtype in (torch.float16, torch.float32, torch.float64):
        return "cudnn"
    if cell == "lstm" and x.device.type == "cpu" and x.dtype == torch.float32 \
            and torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled:
        return "mkldnn"
    return "portable"


def _order(steps: int, reverse: bool) -> list:
    return list(range(steps - 1, -1, -1)) if reverse else list(range(steps))


def _previous(seq: torch.Tensor, first: torch.Tensor, reverse: bool) -> torch.Tensor:
    """The value each step started from: `first` for the first step processed, else the
    previous step's entry of `seq` (T, B, H)."""
    if reverse:
        return torch.cat([seq[1:], first.unsqueeze(0)], 0)
    return torch.cat([first.unsqueeze(0), seq[:-1]], 0)


def _bias_grads(db_ih, db_hh, bias):
    return (db_ih, db_hh) if bias else (None, None)


# ---- forward --------------------------------------------------------------------------

def forward(cell, x, states, w_ih, w_hh, b_ih, b_hh, reverse, train):
    """(y, final states..., workspace or None): the workspace only when `train`."""
    x = x.contiguous()
    states = [s.contiguous() for s in states]
    which = backend(cell, x)
    if x.shape[0] == 0:
        return (x.new_empty(x.shape[:2] + (w_hh.shape[1],)), *[s.clone() for s in states],
                x.new_empty(0, dtype=torch.uint8) if train else None)
    if which == "mkldnn":
        return _mkldnn_forward(x, states, w_ih, w_hh, b_ih, b_hh, reverse, train)
    if which == "cudnn":
        return _cudnn_forward(cell, x, states, w_ih, w_hh, b_ih, b_hh, reverse, train)
    if cell == "lstm":
        return _lstm_portable_forward(x, *states, w_ih, w_hh, b_ih, b_hh, reverse, train)
    return _gru_portable_forward(x, states[0], w_ih, w_hh, b_ih, b_hh, reverse, train)


def _mkldnn_forward(x, states, w_ih, w_hh, b_ih, b_hh, reverse, train):
    h0, c0 = states
    bias = b_ih is not None
    zeros = None if bias else w_ih.new_zeros(w_ih.shape[0])
    args = (x, w_ih, w_hh, b_ih if bias else zeros, b_hh if bias else zeros, h0, c0, reverse, [],
            _MKLDNN_LSTM, w_hh.shape[1], 1, bias, False, False, train)
    # oneDNN keeps its workspace only when autograd's grad mode is on (nothing is recorded:
    # no input requires grad)
    with torch.enable_grad() if train else torch.no_grad():
        y, hy, cy, ws = torch.ops.aten.mkldnn_rnn_layer(*args)
    return (y, hy, cy, ws) if train else (y, hy, cy, None)


def _weights(w_ih, w_hh, b_ih, b_hh):
    return [w_ih, w_hh] if b_ih is None else [w_ih, w_hh, b_ih, b_hh]


def _cudnn_forward(cell, x, states, w_ih, w_hh, b_ih, b_hh, reverse, train):
    weights = _weights(w_ih, w_hh, b_ih, b_hh)
    hx = states[0].unsqueeze(0)
    cx = states[1].unsqueeze(0) if cell == "lstm" else None
    xs = x.flip(0) if reverse else x
    y, hy, cy, reserve, weight_buf = torch.ops.aten._cudnn_rnn(
        xs, weights, len(weights), None, hx, cx, _CUDNN_MODE[cell], w_hh.shape[1], 0, 1, False, 0.0,
        train, False, [], None)
    y = y.flip(0) if reverse else y
    finals = (hy[0], cy[0]) if cell == "lstm" else (hy[0],)
    if not train:
        return (y, *finals, None)
    expected = sum(w.numel() for w in weights)
    if weight_buf.numel() != expected:
        raise RuntimeError(f"cuDNN packed the RNN weights into {weight_buf.numel()} values; "
                           f"expected {expected}")
    ws = torch.cat([weight_buf.reshape(-1).view(torch.uint8), reserve.reshape(-1)])
    return (y, *finals, ws)


def _lstm_portable_forward(x, h, c, w_ih, w_hh, b_ih, b_hh, reverse, train):
    steps, batch, _ = x.shape
    hidden = w_hh.shape[1]
    xp = _input_gates(x, w_ih, None if b_ih is None else b_ih + b_hh)
    # per step: activations i, f, g, o, then the new cell state
    ws = x.new_empty(steps, batch, 5 * hidden)
    y = x.new_empty(steps, batch, hidden)
    w_hh_t = w_hh.t()
    g_part = slice(2 * hidden, 3 * hidden)
    for t in _order(steps, reverse):
        gates = torch.addmm(xp[t], h, w_hh_t)
        act = ws[t, :, :4 * hidden]
        torch.sigmoid(gates, out=act)
        torch.tanh(gates[:, g_part], out=act[:, g_part])
        i, f, g, o = act.chunk(4, 1)
        c_new = ws[t, :, 4 * hidden:]
        torch.mul(f, c, out=c_new)
        c_new.addcmul_(i, g)
        torch.mul(o, torch.tanh(c_new), out=y[t])
        h, c = y[t], c_new
    return y, h.clone(), c.clone(), (ws.view(-1).view(torch.uint8) if train else None)


def _gru_portable_forward(x, h, w_ih, w_hh, b_ih, b_hh, reverse, train):
    steps, batch, _ = x.shape
    hidden = w_hh.shape[1]
    xp = _input_gates(x, w_ih, b_ih)
    # per step: r, z, n, and W_hn h + b_hn (the backward needs it)
    ws = x.new_empty(steps, batch, 4 * hidden)
    y = x.new_empty(steps, batch, hidden)
    w_hh_t = w_hh.t()
    rz, n_part, hn_part = slice(0, 2 * hidden), slice(2 * hidden, 3 * hidden), slice(3 * hidden, None)
    for t in _order(steps, reverse):
        gh = torch.addmm(b_hh, h, w_hh_t) if b_hh is not None else torch.mm(h, w_hh_t)
        saved = ws[t]
        torch.add(xp[t, :, rz], gh[:, rz], out=saved[:, rz]).sigmoid_()
        r, z = saved[:, :hidden], saved[:, hidden:2 * hidden]
        saved[:, hn_part].copy_(gh[:, n_part])
        n = torch.addcmul(xp[t, :, n_part], r, gh[:, n_part], out=saved[:, n_part]).tanh_()
        torch.sub(h, n, out=y[t]).mul_(z).add_(n)
        h = y[t]
    return y, h.clone(), (ws.view(-1).view(torch.uint8) if train else None)


def _input_gates(x, w_ih, bias):
    steps, batch, n_in = x.shape
    rows = x.reshape(steps * batch, n_in)
    xp = torch.addmm(bias, rows, w_ih.t()) if bias is not None else torch.mm(rows, w_ih.t())
    return xp.view(steps, batch, -1)


# ---- backward -------------------------------------------------------------------------

def backward(cell, x, states, w_ih, w_hh, b_ih, b_hh, y, finals, ws, gy, g_finals, reverse):
    """Gradients (dx, d states..., dw_ih, dw_hh, db_ih, db_hh) from the forward's outputs and
    workspace and the gradients of y and of the final states (bias grads None without bias)."""
    x = x.contiguous()
    states = [s.contiguous() for s in states]
    gy = gy.contiguous()
    g_finals = [g.contiguous() for g in g_finals]
    if x.shape[0] == 0:
        return _empty_backward(x, states, w_ih, w_hh, b_ih, b_hh, g_finals)
    which = backend(cell, x)
    if which == "mkldnn":
        return _mkldnn_backward(x, states, w_ih, w_hh, b_ih, b_hh, y, finals, ws, gy, g_finals, reverse)
    if which == "cudnn":
        return _cudnn_backward(cell, x, states, w_ih, w_hh, b_ih, b_hh, y, ws, gy, g_finals, reverse)
    if cell == "lstm":
        return _lstm_portable_backward(x, *states, w_ih, w_hh, b_ih, y, ws, gy, *g_finals, reverse)
    return _gru_portable_backward(x, states[0], w_ih, w_hh, b_ih, y, ws, gy, g_finals[0], reverse)


def _empty_backward(x, states, w_ih, w_hh, b_ih, b_hh, g_finals):
    bias = b_ih is not None
    return (torch.zeros_like(x), *[g.clone() for g in g_finals], torch.zeros_like(w_ih),
            torch.zeros_like(w_hh), *_bias_grads(torch.zeros_like(w_hh[:, 0]),
                                                 torch.zeros_like(w_hh[:, 0]), bias))


def _mkldnn_backward(x, states, w_ih, w_hh, b_ih, b_hh, y, finals, ws, gy, g_finals, reverse):
    (h0, c0), (hy, cy), (ghy, gcy) = states, finals, g_finals
    bias = b_ih is not None
    zeros = None if bias else w_ih.new_zeros(w_ih.shape[0])
    dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0 = torch.ops.aten.mkldnn_rnn_layer_backward(
        x, w_ih, w_hh, b_ih if bias else zeros, b_hh if bias else zeros, h0, c0, y, hy, cy, gy, ghy, gcy,
        reverse, _MKLDNN_LSTM, w_hh.shape[1], 1, bias, True, False, [], False, ws)
    return (dx, dh0, dc0, dw_ih, dw_hh, *_bias_grads(db_ih, db_hh, bias))


def _cudnn_backward(cell, x, states, w_ih, w_hh, b_ih, b_hh, y, ws, gy, g_finals, reverse):
    weights = _weights(w_ih, w_hh, b_ih, b_hh)
    n_bytes = sum(w.numel() for w in weights) * w_ih.element_size()
    weight_buf, reserve = ws[:n_bytes].view(w_ih.dtype), ws[n_bytes:]
    hx = states[0].unsqueeze(0)
    cx = states[1].unsqueeze(0) if cell == "lstm" else None
    gcx = g_finals[1].unsqueeze(0) if cell == "lstm" else None
    flip = (lambda t: t.flip(0)) if reverse else (lambda t: t)
    dx, dhx, dcx, dws = torch.ops.aten._cudnn_rnn_backward(
        flip(x), weights, len(weights), weight_buf, hx, cx, flip(y).contiguous(), flip(gy).contiguous(),
        g_finals[0].unsqueeze(0), gcx, _CUDNN_MODE[cell], w_hh.shape[1], 0, 1, False, 0.0, True, False,
        [], None, reserve, [True, True, cell == "lstm", True])
    d_states = (dhx[0], dcx[0]) if cell == "lstm" else (dhx[0],)
    bias = b_ih is not None
    return (flip(dx), *d_states, dws[0], dws[1], *_bias_grads(*(dws[2:4] if bias else (None, None)), bias))


def _lstm_portable_backward(x, h0, c0, w_ih, w_hh, b_ih, y, ws, gy, ghT, gcT, reverse):
    steps, batch, n_in = x.shape
    hidden = w_hh.shape[1]
    saved = ws.view(x.dtype).view(steps, batch, 5 * hidden)
    act, cs = saved[..., :4 * hidden], saved[..., 4 * hidden:]
    i, f, g, o = act.chunk(4, 2)
    tanh_c = torch.tanh(cs)
    c_prev = _previous(cs, c0, reverse)
    # factors of the gradient that do not depend on the recurrence, for every step at once
    dc_from_dh = o * (1 - tanh_c * tanh_c)
    do_from_dh = tanh_c * o * (1 - o)
    ifg_from_dc = torch.cat([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g)], 2)
    dgates = x.new_empty(steps, batch, 4 * hidden)
    order = _order(steps, reverse)
    dh, dc = ghT, gcT
    for k, t in enumerate(reversed(order)):
        dh = gy[t] + dh if k == 0 else torch.addmm(gy[t], dgates[order[-k]], w_hh)
        dc = torch.addcmul(dc, dh, dc_from_dh[t])
        torch.mul(dh, do_from_dh[t], out=dgates[t, :, 3 * hidden:])
        torch.mul(dc.unsqueeze(1), ifg_from_dc[t].view(batch, 3, hidden),
                  out=dgates[t, :, :3 * hidden].view(batch, 3, hidden))
        dc = dc * f[t]
    first = order[0]
    dh0 = torch.mm(dgates[first], w_hh)
    rows = dgates.view(steps * batch, 4 * hidden)
    dw_hh = rows.t().mm(_previous(y, h0, reverse).reshape(steps * batch, hidden))
    dw_ih = rows.t().mm(x.reshape(steps * batch, n_in))
    dx = rows.mm(w_ih).view(steps, batch, n_in)
    db = rows.sum(0)
    return (dx, dh0, dc, dw_ih, dw_hh, *_bias_grads(db, db.clone(), b_ih is not None))


def _gru_portable_backward(x, h0, w_ih, w_hh, b_ih, y, ws, gy, ghT, reverse):
    steps, batch, n_in = x.shape
    hidden = w_hh.shape[1]
    saved = ws.view(x.dtype).view(steps, batch, 4 * hidden)
    r, z, n, hn = saved.chunk(4, 2)
    h_prev = _previous(y, h0, reverse)
    # d(pre-activation)/dh for the n, z and r gates, and for W_hn h + b_hn
    n_pre = (1 - z) * (1 - n * n)
    z_pre = (h_prev - n) * z * (1 - z)
    r_pre = n_pre * hn * r * (1 - r)
    from_dh_h = torch.cat([r_pre, z_pre, n_pre * r], 2)   # hidden-side gates r, z, n
    d_gh = x.new_empty(steps, batch, 3 * hidden)
    d_xn = x.new_empty(steps, batch, hidden)
    order = _order(steps, reverse)
    dh = ghT
    for k, t in enumerate(reversed(order)):
        if k == 0:
            dh = gy[t] + dh
        else:
            nxt = order[-k]
            dh = torch.addmm(torch.addcmul(gy[t], dh, z[nxt]), d_gh[nxt], w_hh)
        torch.mul(dh.unsqueeze(1), from_dh_h[t].view(batch, 3, hidden), out=d_gh[t].view(batch, 3, hidden))
        torch.mul(dh, n_pre[t], out=d_xn[t])
    first = order[0]
    dh0 = torch.addmm(dh * z[first], d_gh[first], w_hh)
    d_xp = torch.cat([d_gh[..., :2 * hidden], d_xn], 2)
    rows_h = d_gh.view(steps * batch, 3 * hidden)
    rows_x = d_xp.view(steps * batch, 3 * hidden)
    dw_hh = rows_h.t().mm(h_prev.reshape(steps * batch, hidden))
    dw_ih = rows_x.t().mm(x.reshape(steps * batch, n_in))
    dx = rows_x.mm(w_ih).view(steps, batch, n_in)
    return (dx, dh0, dw_ih, dw_hh, *_bias_grads(rows_x.sum(0), rows_h.sum(0), b_ih is not None))
