"""A hand-written LSTM scan runs as the fused LSTM op (theon/control/rnn_match.py).

The fused program must give what the scan as written gives (THEON_FUSED_RNN off, or
`fuse=False`), outputs and gradients, and what torch.nn.LSTM gives; spellings of the cell
that mean the same fuse, and cells that mean something else stay scans."""
import re

import numpy as np
import pytest
import torch

import theon as th
from theon import config

T, B, I, H = 6, 3, 4, 5
F32 = {"rtol": 1e-5, "atol": 1e-6}


def _calls(f, op):
    return len(re.findall(rf"= {op}_\d+\(", f.source))


def _cell_plain(U, cell_activation=th.tanh, order="ifgo"):
    """The LSTM cell as a Theano user writes it; another activation or gate order makes a
    different cell."""
    def cell(carry, xt):
        h, c = carry
        gates = dict(zip(order, th.split(xt + h @ U.T, 4, axis=1)))
        c = th.sigmoid(gates["f"]) * c + th.sigmoid(gates["i"]) * th.tanh(gates["g"])
        h = th.sigmoid(gates["o"]) * cell_activation(c)
        return (h, c), h
    return cell


def _cell_respelled(U, b_hh):
    """Operands swapped, U.T taken inside the body, a recurrent bias, axis=-1, (c, h) carry."""
    def cell(carry, xt):
        c, h = carry
        i, f, g, o = th.split((th.matmul(h, th.transpose(U)) + xt) + b_hh, 4, axis=-1)
        c = th.tanh(g) * th.sigmoid(i) + c * th.sigmoid(f)
        h = th.tanh(c) * th.sigmoid(o)
        return (c, h), h
    return cell


def _inputs(dtype="float32", seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"x": (T, B, I), "W": (4 * H, I), "U": (4 * H, H), "b": (4 * H,), "b_hh": (4 * H,),
              "h0": (B, H), "c0": (B, H)}
    values = {k: rng.uniform(-1, 1, s).astype(dtype) for k, s in shapes.items()}
    symbols = {k: th.tensor(k, s, dtype) for k, s in shapes.items()}
    return symbols, values


def _lstm(s, respelled=False, reverse=False, fuse=True):
    xw = s["x"] @ s["W"].T + s["b"]
    if respelled:
        (c, h), hs = th.scan(_cell_respelled(s["U"], s["b_hh"]), init=(s["c0"], s["h0"]), xs=xw,
                             reverse=reverse, fuse=fuse)
    else:
        (h, c), hs = th.scan(_cell_plain(s["U"]), init=(s["h0"], s["c0"]), xs=xw,
                             reverse=reverse, fuse=fuse)
    return hs, h, c


def _with_grads(outs, wrt):
    rng = np.random.default_rng(1)
    loss = sum((o * rng.uniform(-1, 1, o.type.shape).astype(o.dtype)).sum() for o in outs)
    return list(outs) + th.grad(loss, wrt)


@pytest.mark.parametrize("respelled", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_scan_fuses_and_equals_the_scan_as_written(respelled, reverse):
    s, v = _inputs()
    names = ["x", "W", "U", "b", "h0", "c0"] + (["b_hh"] if respelled else [])
    inputs = [s[k] for k in names]
    fused = th.function(inputs, _with_grads(_lstm(s, respelled, reverse), inputs))
    plain = th.function(inputs, _with_grads(_lstm(s, respelled, reverse, fuse=False), inputs))
    assert _calls(fused, "rnn") == 1 and _calls(fused, "rnn_backward") == 1, fused.source
    assert _calls(fused, "scan") == 0
    assert _calls(plain, "rnn") == 0 and _calls(plain, "scan") == 2
    got, want = fused(*[v[k] for k in names]), plain(*[v[k] for k in names])
    assert len(got) == len(want) == 3 + len(names)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, **F32)


def test_forward_only_program_fuses_and_matches_torch_lstm():
    s, v = _inputs()
    inputs = [s[k] for k in ("x", "W", "U", "b", "h0", "c0")]
    f = th.function(inputs, list(_lstm(s)))
    assert _calls(f, "rnn") == 1 and _calls(f, "scan") == 0
    hs, h, c = f(*[v[k] for k in ("x", "W", "U", "b", "h0", "c0")])
    ref = torch.nn.LSTM(I, H)
    with torch.no_grad():
        ref.weight_ih_l0.copy_(torch.from_numpy(v["W"]))
        ref.weight_hh_l0.copy_(torch.from_numpy(v["U"]))
        ref.bias_ih_l0.copy_(torch.from_numpy(v["b"]))
        ref.bias_hh_l0.zero_()
        y, (hn, cn) = ref(torch.from_numpy(v["x"]),
                          (torch.from_numpy(v["h0"])[None], torch.from_numpy(v["c0"])[None]))
    np.testing.assert_allclose(hs, y.numpy(), **F32)
    np.testing.assert_allclose(h, hn[0].numpy(), **F32)
    np.testing.assert_allclose(c, cn[0].numpy(), **F32)


def test_the_training_graph_runs_the_fused_forward_once():
    s, v = _inputs()
    inputs = [s[k] for k in ("x", "W", "U", "b", "h0", "c0")]
    hs, _, _ = _lstm(s)
    loss = (hs ** 2).sum()
    f = th.function(inputs, [loss] + th.grad(loss, inputs[1:4]))
    assert _calls(f, "rnn") == 1 and _calls(f, "rnn_backward") == 1, f.source


def test_fused_rnn_flag_off_keeps_the_scan(monkeypatch):
    monkeypatch.setattr(config, "FUSED_RNN", False)
    s, v = _inputs()
    inputs = [s[k] for k in ("x", "W", "U", "b", "h0", "c0")]
    f = th.function(inputs, _with_grads(_lstm(s), inputs))
    assert _calls(f, "rnn") == 0 and _calls(f, "scan") == 2


def test_fused_gradients_match_finite_differences_in_float64():
    s, v = _inputs("float64")
    names = ["x", "W", "U", "b", "h0", "c0"]

    def cost(x, W, U, b, h0, c0):
        xw = x @ W.T + b
        (h, c), hs = th.scan(_cell_plain(U), init=(h0, c0), xs=xw)
        return (hs * hs).sum() + (c * h).sum()

    probe = th.function([s[k] for k in names], [cost(*[s[k] for k in names])])
    assert "rnn_" in probe.source
    th.testing.verify_grad(cost, [v[k] for k in names])


def _not_fused(cell, xs_of):
    s, v = _inputs()
    names = ["x", "W", "U", "b", "h0", "c0"]
    _, hs = th.scan(cell(s["U"]), init=(s["h0"], s["c0"]), xs=xs_of(s))
    f = th.function([s[k] for k in names], _with_grads([hs], [s[k] for k in names]))
    return f, [v[k] for k in names]


def _relu_cell(U):  # relu instead of tanh on the cell state: not an LSTM
    return _cell_plain(U, cell_activation=th.nn.relu)


def _gate_order_cell(U):  # i and f swapped: a different cell
    return _cell_plain(U, order="figo")


def _cell_output_cell(U):  # returns c as the per-step output
    def cell(carry, xt):
        (h, c), _ = _cell_plain(U)(carry, xt)
        return (h, c), c
    return cell


@pytest.mark.parametrize("cell, xs_of", [
    (_relu_cell, lambda s: s["x"] @ s["W"].T + s["b"]),
    (_gate_order_cell, lambda s: s["x"] @ s["W"].T + s["b"]),
    (_cell_output_cell, lambda s: s["x"] @ s["W"].T + s["b"]),
    (_cell_plain, lambda s: th.tanh(s["x"] @ s["W"].T + s["b"])),   # not a projection
], ids=["relu", "gate-order", "c-output", "no-projection"])
def test_other_cells_stay_scans_and_keep_their_values(cell, xs_of, monkeypatch):
    f, values = _not_fused(cell, xs_of)
    assert _calls(f, "rnn") == 0 and _calls(f, "scan") == 2
    # and the values are the loop's own: the same program with fusion off
    monkeypatch.setattr(config, "FUSED_RNN", False)
    g, _ = _not_fused(cell, xs_of)
    for a, b in zip(f(*values), g(*values)):
        np.testing.assert_array_equal(a, b)


def test_gradient_with_respect_to_the_projected_sequence_keeps_the_scan():
    # th.grad must reach xw itself, which the fused op would hide: the rule stands down
    s, v = _inputs()
    xw = s["x"] @ s["W"].T + s["b"]
    (h, c), hs = th.scan(_cell_plain(s["U"]), init=(s["h0"], s["c0"]), xs=xw)
    loss = (hs ** 2).sum()
    (g_xw,) = th.grad(loss, [xw])
    names = ["x", "W", "U", "b", "h0", "c0"]
    f = th.function([s[k] for k in names], [g_xw])
    g = th.function([s[k] for k in names], th.grad((_lstm(s, fuse=False)[0] ** 2).sum(), [xw]))
    np.testing.assert_allclose(f(*[v[k] for k in names])[0], g(*[v[k] for k in names])[0], **F32)


def test_second_derivatives_through_the_fused_lstm():
    # the fused backward's own gradient differentiates the scan it stands for (fuse=False),
    # so it never recurses into the fused op again
    rng = np.random.default_rng(3)
    x, W, U, b = (rng.uniform(-1, 1, s) for s in [(3, 2, 2), (8, 2), (8, 2), (8,)])
    h0 = np.zeros((2, 2))

    def cost(x, W, U, b):
        (h, c), hs = th.scan(_cell_plain(U), init=(th.constant(h0), th.constant(h0)),
                             xs=x @ W.T + b)
        return (hs * hs).sum()

    th.testing.verify_grad(cost, [x, W, U, b], order=2)
