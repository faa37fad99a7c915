"""The LSTM and GRU cells written in theon ops, one step each, in torch's layouts and gate
orders: what the layers' scan runs (nn/layers_rnn_cells.py) and the meaning of the fused
recurrent op (control/rnn.py, whose decomposition is a `th.scan` of these cells).

  LSTM, gates (i, f, g, o):  c' = f * c + i * g,  h' = o * tanh(c')
  GRU, gates (r, z, n):  n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h
"""
from __future__ import annotations

from .elementwise import sigmoid, tanh
from .nn_conv import linear
from .shape import split

__all__ = ["CELL_STATES", "STEPS", "gru_step", "lstm_step"]

CELL_STATES = {"lstm": 2, "gru": 1}


def lstm_step(xp, states, w_hh, b_hh=None):
    """One LSTM step from the input's gate pre-activations xp (B, 4H) (biases included)."""
    h, c = states
    gates = xp + (linear(h, w_hh) if b_hh is None else linear(h, w_hh, b_hh))
    i, f, g, o = split(gates, 4, axis=-1)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c), c


def gru_step(xp, states, w_hh, b_hh=None):
    """One GRU step from the input's gate pre-activations xp (B, 3H) (b_ih included);
    b_hh stays inside: b_hn is multiplied by r."""
    (h,) = states
    gh = linear(h, w_hh) if b_hh is None else linear(h, w_hh, b_hh)
    xr, xz, xn = split(xp, 3, axis=-1)
    hr, hz, hn = split(gh, 3, axis=-1)
    r = sigmoid(xr + hr)
    z = sigmoid(xz + hz)
    n = tanh(xn + r * hn)
    return (n + z * (h - n),)


STEPS = {"lstm": lstm_step, "gru": gru_step}
