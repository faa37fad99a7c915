"""The recurrent cells' step math and the scan that drives them (used by layers_rnn.py).

Weights use torch's layouts and gate orders, so torch state dicts load 1:1:
  weight_ih (G*H, in), weight_hh (G*H, H), bias_ih (G*H,), bias_hh (G*H,)
  SimpleRNN G=1:  h' = act(W_ih x + b_ih + W_hh h + b_hh)
  LSTM G=4 (i, f, g, o):  c' = f * c + i * g,  h' = o * tanh(c')
  GRU G=3 (r, z, n):  n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h

An LSTM or GRU without a mask is one fused op over the whole sequence (control/rnn.py:
oneDNN / cuDNN kernels); THEON_FUSED_RNN=0 (or THEON_FUSE=0) and masked calls take the
scan. In the scan the input projection of every step is one matmul outside the loop (with
the biases that are purely additive folded in); the loop body holds only the recurrent
matmul and the gates.
"""
from __future__ import annotations

from .. import config
from ..control import scan
from ..ops.elementwise import where
from ..ops.nn_conv import linear
from ..control.rnn import rnn
from ..ops.nn_rnn import gru_step, lstm_step
from ..ops.shape import expand_dims, swapaxes

__all__ = ["CELLS", "run_recurrence"]


def _simple_step(activation):
    def step(xp, states, w_hh, b_hh):
        (h,) = states
        return (activation(xp + linear(h, w_hh)),)
    return step


# name -> (gates, number of states, whether b_hh stays inside the loop (GRU's b_hn is
# multiplied by r, so it cannot be folded into the input projection))
CELLS = {"simple_rnn": (1, 1, False), "lstm": (4, 2, False), "gru": (3, 1, True)}


def cell_step(kind: str, activation=None):
    return {"simple_rnn": lambda: _simple_step(activation), "lstm": lambda: lstm_step,
            "gru": lambda: gru_step}[kind]()


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
    if kind in ("lstm", "gru") and mask is None and config.FUSE and config.FUSED_RNN:
        y, *final = rnn(kind, swapaxes(x, 0, 1), states, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
        return (swapaxes(y, 0, 1) if return_sequences else final[0]), final
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
