"""The fused recurrent op (theon/control/rnn.py) against the program it replaces: the
th.scan of the cell its `decompose` builds. Outputs and every gradient agree to 1e-6
relative in float32 (oneDNN's LSTM, the portable GRU kernel); the layers use the fused op
unless THEON_FUSED_RNN / THEON_FUSE is off or a mask is given, and a training graph runs
the forward kernel once. Values against torch.nn.LSTM / GRU and finite differences in
float64 are the op-table rows (tests/ops/rows_rnn.py)."""
import re

import numpy as np
import pytest
import torch

import theon as th
from theon import config, nn
from theon.control.rnn import RNN, rnn
from theon.ops.nn_rnn_kernels import backend

T, B, I, H = 7, 4, 5, 6
GATES = {"lstm": 4, "gru": 3}
F32 = {"rtol": 1e-6, "atol": 1e-6}


def _inputs(cell, bias, dtype="float32"):
    n_states = 2 if cell == "lstm" else 1
    shapes = [(T, B, I)] + [(B, H)] * n_states + [(GATES[cell] * H, I), (GATES[cell] * H, H)]
    shapes += [(GATES[cell] * H,)] * (2 if bias else 0)
    rng = np.random.default_rng(0)
    values = [rng.uniform(-1, 1, s).astype(dtype) for s in shapes]
    names = ["x"] + [f"s{k}" for k in range(n_states)] + ["w_ih", "w_hh", "b_ih", "b_hh"][:2 + 2 * bias]
    return [th.tensor(n, s, dtype) for n, s in zip(names, shapes)], values


def _calls(f, op):
    """Calls of op's kernel in the compiled program's source."""
    return len(re.findall(rf"= {op}_\d+\(", f.source))


def _program(outs, inputs):
    """[outputs..., gradients of a random projection of them w.r.t. every input]."""
    rng = np.random.default_rng(1)
    loss = sum((o * rng.uniform(-1, 1, o.type.shape).astype(o.dtype)).sum() for o in outs)
    return th.function(inputs, list(outs) + th.grad(loss, inputs))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_equals_the_scan_it_replaces_in_float32(cell, reverse, bias):
    inputs, values = _inputs(cell, bias)
    n_states = 2 if cell == "lstm" else 1
    fused = rnn(cell, inputs[0], inputs[1:1 + n_states], *inputs[1 + n_states:], reverse=reverse)
    op = RNN(cell, reverse, bias)
    scanned = op.decompose(inputs)
    f_fused, f_scan = _program(fused, inputs), _program(scanned, inputs)
    assert _calls(f_fused, "rnn") == _calls(f_fused, "rnn_backward") == 1
    assert _calls(f_fused, "scan") == 0
    assert _calls(f_scan, "rnn") == _calls(f_scan, "rnn_backward") == 0 and _calls(f_scan, "scan") == 2
    got, want = f_fused(*values), f_scan(*values)
    assert len(got) == len(want) == 1 + n_states + len(inputs)
    for k, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, w, **F32, err_msg=f"result {k}")


def test_float32_lstm_runs_onednn_and_float64_the_portable_kernel():
    assert backend("lstm", torch.zeros(1, dtype=torch.float32)) == (
        "mkldnn" if torch.backends.mkldnn.is_available() else "portable")
    assert backend("lstm", torch.zeros(1, dtype=torch.float64)) == "portable"
    assert backend("gru", torch.zeros(1, dtype=torch.float32)) == "portable"


def test_training_graph_runs_the_forward_kernel_once():
    inputs, values = _inputs("lstm", True)
    y, h, _ = rnn("lstm", inputs[0], inputs[1:3], *inputs[3:])
    f = _program([y, h], inputs)
    calls = [line for line in f.source.splitlines() if re.search(r"= rnn_\d+\(", line)]
    assert len(calls) == 1 and "workspace=True" in calls[0]
    assert _calls(f, "rnn_backward") == 1
    f(*values)


def test_empty_sequence_keeps_the_states_and_has_zero_weight_gradients():
    inputs, values = _inputs("lstm", True)
    values[0] = values[0][:0]
    x = th.tensor("x", (None, B, I), "float32")
    y, h, c = rnn("lstm", x, inputs[1:3], *inputs[3:])
    out = th.function([x] + inputs[1:], [y, h, c] + th.grad((h * h).sum() + c.sum(), inputs[3:5]))
    y_v, h_v, c_v, dw_ih, dw_hh = out(*values)
    assert y_v.shape == (0, B, H)
    np.testing.assert_array_equal(h_v, values[1])
    np.testing.assert_array_equal(c_v, values[2])
    assert not dw_ih.any() and not dw_hh.any()


def _layer_program(kind, monkeypatch, fused, mask=False):
    monkeypatch.setattr(config, "FUSED_RNN", fused)
    torch.manual_seed(0)
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](I, H, batch_first=True)
    layer = {"lstm": nn.LSTM, "gru": nn.GRU}[kind](H, return_sequences=True, return_state=True)
    x = th.tensor("x", (B, T, I), "float32")
    if mask:
        keep = th.tensor("keep", (B, T), "bool")
        out, *states = layer(x, mask=keep)
    else:
        out, *states = layer(x)
    layer.load_torch_state(module.state_dict())
    weights = [layer.weight_ih, layer.weight_hh, layer.bias_ih, layer.bias_hh]
    loss = (out * out).sum() + sum(s.sum() for s in states)
    inputs = [x] + ([keep] if mask else [])
    return th.function(inputs, [out, *states] + th.grad(loss, [x] + weights))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_layers_use_the_fused_op_unless_switched_off(kind, monkeypatch):
    xv = np.random.default_rng(2).uniform(-1, 1, (B, T, I)).astype("float32")
    fused = _layer_program(kind, monkeypatch, True)
    plain = _layer_program(kind, monkeypatch, False)
    assert _calls(fused, "rnn") == _calls(fused, "rnn_backward") == 1 and _calls(fused, "scan") == 0
    assert _calls(plain, "rnn") == 0 and _calls(plain, "scan") == 2
    for k, (g, w) in enumerate(zip(fused(xv), plain(xv))):
        np.testing.assert_allclose(g, w, **F32, err_msg=f"result {k}")


def test_masked_layers_keep_the_scan(monkeypatch):
    f = _layer_program("lstm", monkeypatch, True, mask=True)
    assert _calls(f, "scan") == 2 and _calls(f, "rnn") == _calls(f, "rnn_backward") == 0
