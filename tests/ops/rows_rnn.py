"""Op-table rows for the fused recurrent op (theon/control/rnn.py) against torch.nn.LSTM / GRU.

float32 samples run oneDNN's LSTM (the fused CPU kernel); float64 samples run the portable
kernel and check gradients, second derivatives included, by finite differences.
tests/ops/test_rnn.py compares both against the scan the op decomposes into."""
import numpy as np
import torch

from theon.errors import DTypeError, ShapeError
from theon.control.rnn import rnn
from theon.testing import ErrorCase, OpInfo, Sample, rand

T, B, I, H = 3, 2, 3, 2
GATES = {"lstm": 4, "gru": 3}


def _op(cell):
    n_states = 2 if cell == "lstm" else 1

    def op(x, *rest, reverse=False):
        states, (w_ih, w_hh, b_ih, b_hh) = rest[:n_states], rest[n_states:]
        return rnn(cell, x, states, w_ih, w_hh, b_ih, b_hh, reverse=reverse)
    return op


def torch_rnn(cell, x, states, w_ih, w_hh, b_ih=None, b_hh=None, reverse=False):
    """[y, *final states] of torch.nn.LSTM / GRU with these weights (NumPy in and out);
    `reverse` is the layer run on the time-reversed sequence, its y flipped back."""
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        w_ih.shape[1], w_hh.shape[1], bias=b_ih is not None).to(t(x).dtype)
    with torch.no_grad():
        for name, value in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b_ih),
                            ("bias_hh_l0", b_hh)):
            if value is not None:
                getattr(module, name).copy_(t(value))
        xs = t(x).flip(0) if reverse else t(x)
        hx = tuple(t(s)[None] for s in states) if cell == "lstm" else t(states[0])[None]
        y, finals = module(xs, hx)
    finals = finals if cell == "lstm" else (finals,)
    y = y.flip(0) if reverse else y
    return [y.numpy()] + [f[0].numpy() for f in finals]


def _ref(cell):
    n_states = 2 if cell == "lstm" else 1

    def ref(x, *rest, reverse=False):
        states, weights = rest[:n_states], rest[n_states:]
        return torch_rnn(cell, x, states, *weights, reverse=reverse)
    return ref


def _samples(cell):
    def samples(rng):
        g, n_states = GATES[cell], 2 if cell == "lstm" else 1

        def args(dtype, bias=True, batch=B):
            return (rand(rng, T, batch, I, dtype=dtype), *[rand(rng, batch, H, dtype=dtype) for _ in range(n_states)],
                    rand(rng, g * H, I, dtype=dtype), rand(rng, g * H, H, dtype=dtype),
                    rand(rng, g * H, dtype=dtype) if bias else None,
                    rand(rng, g * H, dtype=dtype) if bias else None)
        return [Sample(args("float64")),
                Sample(args("float64", bias=False), {"reverse": True}),
                Sample(args("float32", batch=5), grad=False),
                Sample(args("float32", batch=5), {"reverse": True}, grad=False)]
    return samples


def _errors(cell):
    g = GATES[cell]
    states = [np.zeros((2, 4))] * (2 if cell == "lstm" else 1)
    w = (np.zeros((g * 4, 3)), np.zeros((g * 4, 4)), None, None)
    return [ErrorCase((np.zeros((5, 2, 6)), *states, *w), {}, ShapeError, "x's features and weight_ih's columns"),
            ErrorCase((np.zeros((5, 2, 3)), *states, np.zeros((g * 4 + 1, 3)), *w[1:]), {}, ShapeError,
                      f"need {g} \\* hidden rows"),
            ErrorCase((np.zeros((5, 3, 3)), *states, *w), {}, ShapeError, "x's batch and the states' batch"),
            ErrorCase((np.zeros((5, 2, 3), bool), *states, *w), {}, DTypeError, "real float inputs")]


ROWS = [OpInfo(f"rnn_{cell}", _op(cell), _ref(cell), _samples(cell), errors=_errors(cell),
               rtol=1e-5, atol=1e-6, second_order=True)
        for cell in ("lstm", "gru")]
