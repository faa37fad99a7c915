"""The recurrent cells' step math and the scan that drives them (used by layers_rnn.py).

Weights use torch's layouts and gate orders, so torch state dicts load 1:1:
  weight_ih (G*H, in), weight_hh (G*H, H), bias_ih (G*H,), bias_hh (G*H,)
  SimpleRNN G=1:  h' = act(W_ih x + b_ih + W_hh h + b_hh)
  LSTM G=4 (i, f, g, o):  c' = f * c + i * g,  h' = o * tanh(c')
  GRU G=3 (r, z, n):  n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h

The input projection of every step is one matmul outside the loop (with the biases that
are purely additive folded in); the loop body holds only the recurrent matmul and the gates.
"""
from __future__ import annotations

from ..control import scan
from ..ops.elementwise import sigmoid, tanh, where
from ..ops.nn_conv import linear
from ..ops.shape import expand_dims, split, swapaxes

__all__ = ["CELLS", "run_recurrence"]


def _simple_step(activation):
    def step(xp, states, w_hh, b_hh):
        (h,) = states
        return (activation(xp + linear(h, w_hh)),)
    return step


def _lstm_step(xp, states, w_hh, b_hh):
    h, c = states
    i, f, g, o = split(xp + linear(h, w_hh), 4, axis=-1)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    return sigmoid(o) * tanh(c), c


def _gru_step(xp, states, w_hh, b_hh):
    (h,) = states
    gh = linear(h, w_hh) if b_hh is None else linear(h, w_hh, b_hh)
    xr, xz, xn = split(xp, 3, axis=-1)
    hr, hz, hn = split(gh, 3, axis=-1)
    r = sigmoid(xr + hr)
    z = sigmoid(xz + hz)
    n = tanh(xn + r * hn)
    return (n + z * (h - n),)


# name -> (gates, number of states, whether b_hh stays inside the loop (GRU's b_hn is
# multiplied by r, so it cannot be folded into the input projection))
CELLS = {"simple_rnn": (1, 1, False), "lstm": (4, 2, False), "gru": (3, 1, True)}


def cell_step(kind: str, activation=None):
    return {"simple_rnn": lambda: _simple_step(activation), "lstm": lambda: _lstm_step,
            "gru": lambda: _gru_step}[kind]()


def run_recurrence(kind, x, states, weights, mask=None, reverse=False, return_sequences=False,
                   activation=None):
    """Run a cell over x (batch, time, features).

    states: the initial states, each (batch, units). weights: (w_ih, w_hh, b_ih, b_hh) with
    None biases when the layer has none. mask: bool (batch, time) or None; a masked step
    keeps the previous states and emits zeros.
    Returns (output, final states): output is (batch, time, units) with return_sequences,
    else the final h (the state after each sequence's last valid step).
    """
    w_ih, w_hh, b_ih, b_hh = weights
    _, _, bias_inside = CELLS[kind]
    if b_hh is not None and not bias_inside:
        b_in, b_loop = b_ih + b_hh, None
    else:
        b_in, b_loop = b_ih, b_hh
    step = cell_step(kind, activation)
    xt = swapaxes(x, 0, 1)  # time-major, so each step reads a contiguous (batch, features)
    xp = linear(xt, w_ih) if b_in is None else linear(xt, w_ih, b_in)
    seqs = (xp,) if mask is None else (xp, expand_dims(swapaxes(mask, 0, 1), -1))

    def body(carry, seq):
        new = step(seq[0], carry, w_hh, b_loop)
        if mask is not None:
            m = seq[1]
            new = tuple(where(m, n, o) for n, o in zip(new, carry))
            y = where(m, new[0], 0.0) if return_sequences else None
        else:
            y = new[0] if return_sequences else None
        return tuple(new), y

    final, ys = scan(body, tuple(states), seqs, reverse=reverse)
    out = swapaxes(ys, 0, 1) if return_sequences else final[0]
    return out, list(final)
