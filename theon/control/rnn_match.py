"""Recognising a `th.scan` whose body is an LSTM cell, so it runs as the fused recurrent op.

A Theano-style LSTM is written as a scan over precomputed input projections:

    xw = x @ W.T + b                                   # (T, B, 4H), every step at once
    def cell(carry, xt):
        h, c = carry
        i, f, g, o = th.split(xt + h @ U.T, 4, axis=1)
        c = th.sigmoid(f) * c + th.sigmoid(i) * th.tanh(g)
        h = th.sigmoid(o) * th.tanh(c)
        return (h, c), h
    (h_T, c_T), hs = th.scan(cell, init=(h0, c0), xs=xw)

That is exactly `rnn("lstm", x, [h0, c0], W, U, b, 0)` (control/rnn.py), which runs one
oneDNN/cuDNN kernel each way instead of a dozen ATen calls per step. The rule below matches
the body structurally (operands of `+` and `*` in either order, `U.T` taken outside or
inside the body, a recurrent bias or none) and the input projection that feeds the scan;
anything else (another activation, a peephole, a different output) stays a scan.

It runs before differentiation (it joins the rules `th.grad` applies first, so the
gradient is the fused backward) and in the compiler's first pass (so a forward-only
program, or one whose gradient was built elsewhere, fuses too). `THEON_FUSED_RNN=0`
turns it off.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .. import config
from ..graph import Constant, Variable
from ..ops import elementwise as ew
from ..ops.linalg import Matmul
from ..ops.nn_conv import Linear
from ..ops.shape import Split, Transpose
from ..rewrite import rule
from .rnn import rnn
from .scan import Scan

__all__ = ["SCAN_CELL_TO_RNN", "fused_lstm_outputs"]


def _args(v, op) -> tuple | None:
    """The inputs of v's node when that node runs `op` (an op class or a unary/binary
    table op's class), else None."""
    if isinstance(v, Variable) and v.owner is not None and isinstance(v.owner.op, op):
        return tuple(v.owner.inputs)
    return None


def _orders(pair):
    return (pair, pair[::-1]) if pair is not None else ()


def _unary(v, table_op):
    args = _args(v, table_op.op)
    return args[0] if args is not None else None


def _transposed(v, closure_outer: dict):
    """The outer U when v is U.T of a 2-D U: taken outside the body (v is a closure input
    whose outer value is U.T) or inside it (v = transpose of a closure input)."""
    outer = closure_outer.get(v)
    args = _args(outer, Transpose) if outer is not None else None
    if args is not None and outer.owner.op.axes == (1, 0):
        return args[0]
    args = _args(v, Transpose)
    if args is not None and v.owner.op.axes == (1, 0):
        return closure_outer.get(args[0])
    return None


def _recurrent(term, h_in, closure_outer: dict):
    """(U, b_hh or None) when `term` is h @ U.T, linear(h, U) or linear(h, U, b)."""
    mm = _args(term, Matmul)
    if mm is not None and mm[0] is h_in:
        w = _transposed(mm[1], closure_outer)
        return (w, None) if w is not None else None
    lin = _args(term, Linear)
    if lin is not None and lin[0] is h_in:
        return (closure_outer.get(lin[1]), closure_outer.get(lin[2]) if len(lin) > 2 else None)
    return None


def _gates(v, x_t, h_in, closure_outer: dict):
    """(U, b_hh or None) when v is x_t + h @ U.T, x_t + (h @ U.T + b_hh) or
    (x_t + h @ U.T) + b_hh, operands of each + in either order."""
    for a, b in _orders(_args(v, ew.add.op)):
        if a is x_t:
            found = _recurrent(b, h_in, closure_outer)
            if found is not None:
                return found
            for r, bias in _orders(_args(b, ew.add.op)):
                found = _with_bias(_recurrent(r, h_in, closure_outer), bias, closure_outer)
                if found is not None:
                    return found
        for p, q in _orders(_args(a, ew.add.op)):
            if p is x_t:
                found = _with_bias(_recurrent(q, h_in, closure_outer), b, closure_outer)
                if found is not None:
                    return found
    return None


def _with_bias(found, bias, closure_outer: dict):
    """(U, outer b_hh) when the recurrent term had no bias and `bias` is a 1-D outer value."""
    outer = closure_outer.get(bias)
    if found is None or found[1] is not None or outer is None or outer.ndim != 1:
        return None
    return found[0], outer


def _sigmoid_times(v, other_match):
    """True when v is sigmoid(a) * b (either order) with other_match(a, b) true."""
    for p, q in _orders(_args(v, ew.multiply.op)):
        a = _unary(p, ew.sigmoid)
        if a is not None and other_match(a, q):
            return True
    return False


def _split_gate(v):
    """(split node, index) when v is one of four equal sections of the last axis."""
    node = v.owner
    if node is None or not isinstance(node.op, Split) or node.op.sections != 4:
        return None
    if node.op.axis not in (-1, node.inputs[0].ndim - 1):
        return None
    return node, v.index


def _match_cell(body, h_idx: int, c_idx: int, closure_outer: dict):
    """(U, b_hh) when the body with carries (h at h_idx, c at c_idx) is the LSTM cell."""
    h_in, c_in, x_t = body.inputs[h_idx], body.inputs[c_idx], body.inputs[2]
    h_new, c_new, y = body.outputs[h_idx], body.outputs[c_idx], body.outputs[2]
    if y is not h_new:
        return None
    gates: dict = {}  # gate index -> split node

    def gate(v, index):
        found = _split_gate(v)
        if found is None or found[1] != index:
            return False
        gates[index] = found[0]
        return True

    # h' = sigmoid(o) * tanh(c')
    if not _sigmoid_times(h_new, lambda o, t: gate(o, 3) and _unary(t, ew.tanh) is c_new):
        return None
    # c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
    for fc, ig in _orders(_args(c_new, ew.add.op)):
        if (_sigmoid_times(fc, lambda f, c: gate(f, 1) and c is c_in)
                and _sigmoid_times(ig, lambda i, t: gate(i, 0) and _unary(t, ew.tanh) is not None
                                   and gate(_unary(t, ew.tanh), 2))):
            break
    else:
        return None
    if len(set(gates.values())) != 1 or len(gates) != 4:
        return None
    return _gates(next(iter(gates.values())).inputs[0], x_t, h_in, closure_outer)


def _projection(xs):
    """(x, W, b or None) when the sequence is x @ W.T (+ b) or linear(x, W[, b]) of a 3-D x."""
    lin = _args(xs, Linear)
    if lin is not None:
        return lin[0], lin[1], lin[2] if len(lin) > 2 else None
    for mm_out, b in [(xs, None), *_orders(_args(xs, ew.add.op))]:
        mm = _args(mm_out, Matmul)
        if mm is None:
            continue
        args = _args(mm[1], Transpose)
        w = args[0] if args is not None and mm[1].owner.op.axes == (1, 0) else None
        if w is not None and (b is None or b.ndim == 1):
            return mm[0], w, b
    return None


def fused_lstm_outputs(node) -> list | None:
    """The scan node's outputs computed by the fused LSTM op, or None when the scan is not
    an LSTM over a projected sequence (see the module docstring)."""
    op = node.op
    if (not config.FUSED_RNN or not op.fusable or op.history or op.dynamic_length or op.n_carry != 2
            or op.n_seq != 1 or op.n_y != 1):
        return None
    carries, (xs,), _, closure = op.split(node.inputs)
    body = op.body
    closure_outer = dict(zip(body.inputs[3:], closure))
    projection = _projection(xs)
    if projection is None:
        return None
    x, w_ih, b_ih = projection
    for h_idx, c_idx in ((0, 1), (1, 0)):
        found = _match_cell(body, h_idx, c_idx, closure_outer)
        if found is not None:
            break
    else:
        return None
    w_hh, b_hh = found
    values = [x, *carries, w_ih, w_hh] + [v for v in (b_ih, b_hh) if v is not None]
    if (x.ndim != 3 or w_hh is None or len({v.dtype for v in values}) != 1
            or x.dtype not in ("float32", "float64")):
        return None
    if (b_ih is None) != (b_hh is None):
        four_h = w_hh.type.shape[0]
        if four_h is None:
            return None
        b_ih = b_ih if b_ih is not None else _zero_bias(four_h, x.dtype)
        b_hh = b_hh if b_hh is not None else _zero_bias(four_h, x.dtype)
    y, h_last, c_last = rnn("lstm", x, [carries[h_idx], carries[c_idx]], w_ih, w_hh, b_ih, b_hh,
                            reverse=op.reverse)
    finals = [None, None]
    finals[h_idx], finals[c_idx] = h_last, c_last
    outs = [*finals, y]
    if any(o.type != n.type for o, n in zip(outs, node.outputs)):
        return None  # e.g. a batch the rnn op could not infer: keep the scan
    return outs


@lru_cache(maxsize=64)
def _zero_bias(size: int, dtype: str) -> Constant:
    """One zero bias per size and dtype: the rule fires before differentiation and again in
    the compiler, and both must build the very same rnn node for merge_twins to see it."""
    return Constant(np.zeros(size, dtype=dtype))


@rule(Scan, name="scan_lstm_cell_to_rnn")
def SCAN_CELL_TO_RNN(node):
    return fused_lstm_outputs(node)
