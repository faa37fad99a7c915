"""Fused recurrent layers: one LSTM or GRU layer over a whole sequence as one op.

`rnn("lstm", x, [h0, c0], w_ih, w_hh, b_ih, b_hh)` computes what a `th.scan` of the cell
computes (`decompose` builds exactly that scan of ops/nn_rnn.py's cells), in one kernel
call where ATen has one: oneDNN's LSTM on the CPU in float32, cuDNN on CUDA, and elsewhere a loop of a few ATen
calls per step (ops/nn_rnn_kernels.py). Layouts and gate orders are torch.nn.LSTM / GRU's:

  x (T, B, I) time-major, states (B, H), w_ih (G*H, I), w_hh (G*H, H), biases (G*H,)
  LSTM G=4 (i, f, g, o):  c' = f * c + i * g,  h' = o * tanh(c')
  GRU G=3 (r, z, n):  n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h

Outputs: y (T, B, H) (every step's h; with `reverse` the loop runs from the last step
to the first and y[t] stays aligned with x[t]) and the final states.

The gradient is `RNNGrad`, one backward kernel call. It needs what the forward kernel
leaves behind (oneDNN's workspace, cuDNN's reserve space, or the gate activations), so
the op has a twin with a fourth output, an opaque uint8 workspace whose size only the
kernel knows: the gradient reads the twin, and the compiler's merge_twins pass makes the
plain node of a training graph that same twin, so the forward runs once. The backward
op's own gradient (second derivatives) differentiates the scan of the decomposition.

It lives with control flow, not in ops/, because its meaning is a scan: the decomposition
builds one, and the reference backward and second derivatives differentiate it.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

from ..autodiff import grad
from ..errors import DTypeError, ShapeError
from ..graph import TensorType, Variable, format_shape, is_float, replace
from ..ops import nn_rnn_kernels as kernels
from ..ops.base import Op, as_variable, user_errors
from ..ops.nn_conv import linear
from ..ops.nn_rnn import CELL_STATES, STEPS
from ..ops.nn_util import float_inputs
from .scan import scan

__all__ = ["RNN", "RNNGrad", "rnn"]


def _scan_of_cell(cell, reverse, x, states, w_ih, w_hh, b_ih, b_hh) -> list:
    """[y, *final states] as a th.scan of the cell: the op's meaning and its reference."""
    if cell == "lstm" and b_ih is not None:  # both LSTM biases are purely additive
        b_in, b_loop = b_ih + b_hh, None
    else:
        b_in, b_loop = b_ih, b_hh
    xp = linear(x, w_ih) if b_in is None else linear(x, w_ih, b_in)
    step = STEPS[cell]

    def body(carry, xt):
        new = tuple(step(xt, carry, w_hh, b_loop))
        return new, new[0]

    final, ys = scan(body, tuple(states), xp, reverse=reverse, fuse=False)
    return [ys, *final]


def _vjp_of(fn, inputs, cotangents) -> list:
    """Gradients of fn(inputs) against the cotangents, each input getting only its own
    direct gradient (h0 and c0 may be one variable)."""
    stand_ins = [Variable(v.type, name=v.name) for v in inputs]
    seeds: dict = {}
    for out, g in zip(fn(stand_ins), cotangents):  # one output may appear twice (db_ih is db_hh)
        seeds[out] = seeds[out] + g if out in seeds else g
    grads = grad(None, stand_ins, known_grads=seeds, disconnected="zero")
    return replace(grads, dict(zip(stand_ins, inputs)))


# ---- the ops ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _RNNAttrs(Op):
    cell: str = "lstm"
    reverse: bool = False
    bias: bool = True
    allocates: ClassVar[bool] = True

    def attrs(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(_RNNAttrs)}

    @property
    def n_states(self) -> int:
        return CELL_STATES[self.cell]

    @property
    def n_inputs(self) -> int:
        """Inputs of the forward op: x, the states, two weights and maybe two biases."""
        return 3 + self.n_states + (2 if self.bias else 0)

    def split_inputs(self, inputs):
        """(x, [states], w_ih, w_hh, b_ih, b_hh) with None biases when there are none."""
        ns = self.n_states
        x, states, (w_ih, w_hh) = inputs[0], list(inputs[1:1 + ns]), inputs[1 + ns:3 + ns]
        b_ih, b_hh = inputs[3 + ns:5 + ns] if self.bias else (None, None)
        return x, states, w_ih, w_hh, b_ih, b_hh

    def check(self, inputs) -> TensorType:
        """Validate the forward inputs; the type of y."""
        if self.cell not in CELL_STATES:
            raise ValueError(f"rnn: cell must be one of {', '.join(CELL_STATES)}, got {self.cell!r}")
        x, states, w_ih, w_hh, b_ih, b_hh = self.split_inputs(inputs)
        present = [v for v in (x, *states, w_ih, w_hh, b_ih, b_hh) if v is not None]
        if len({v.dtype for v in present}) > 1 or not is_float(x.dtype) or x.dtype.startswith("complex"):
            raise DTypeError(f"{self.cell}: inputs must share one real float dtype, got "
                             f"{', '.join(v.dtype for v in present)}")
        gates = kernels.GATES[self.cell]

        def shape_error(what):
            return ShapeError(f"{self.cell}: {what} (x {format_shape(x.type.shape)}, states "
                              f"{', '.join(format_shape(s.type.shape) for s in states)}, weight_ih "
                              f"{format_shape(w_ih.type.shape)}, weight_hh {format_shape(w_hh.type.shape)})")

        if x.ndim != 3 or w_ih.ndim != 2 or w_hh.ndim != 2 or any(s.ndim != 2 for s in states):
            raise shape_error("expected x (time, batch, features), states (batch, hidden) and "
                              "2-D weights")
        hidden = w_hh.type.shape[1]
        rows = {d for d in (w_ih.type.shape[0], w_hh.type.shape[0],
                            *(b.type.shape[0] for b in (b_ih, b_hh) if b is not None)) if d is not None}
        if hidden is not None:
            rows.add(gates * hidden)
        if len(rows) > 1:
            raise shape_error(f"weight_ih, weight_hh and the biases need {gates} * hidden rows")
        if any(b.ndim != 1 for b in (b_ih, b_hh) if b is not None):
            raise shape_error("the biases must be 1-D")
        _agree(shape_error, "x's features and weight_ih's columns", x.type.shape[2], w_ih.type.shape[1])
        for s in states:
            _agree(shape_error, "x's batch and the states' batch", x.type.shape[1], s.type.shape[0])
            _agree(shape_error, "the states' size and weight_hh's columns", s.type.shape[1], hidden)
        batch = x.type.shape[1] if x.type.shape[1] is not None else states[0].type.shape[0]
        hidden = hidden if hidden is not None else states[0].type.shape[1]
        return TensorType(x.dtype, (x.type.shape[0], batch, hidden))


def _agree(error, what, a, b):
    if a is not None and b is not None and a != b:
        raise error(f"{what} differ ({a} and {b})")


@dataclass(frozen=True)
class RNN(_RNNAttrs):
    """Inputs: x, states, w_ih, w_hh[, b_ih, b_hh]. Outputs: y, final states, and with
    `workspace` what the backward kernel needs (uint8, size known when the kernel runs)."""
    workspace: bool = False
    name: ClassVar[str] = "rnn"

    @property
    def nout(self) -> int:
        return 1 + self.n_states + int(self.workspace)

    def infer(self, *inputs):
        y = self.check(inputs)
        state = TensorType(y.dtype, y.shape[1:])
        return [y] + [state] * self.n_states + ([TensorType("uint8", (None,))] if self.workspace else [])

    def kernel(self, *tensors):
        x, states, w_ih, w_hh, b_ih, b_hh = self.split_inputs(tensors)
        outs = kernels.forward(self.cell, x, states, w_ih, w_hh, b_ih, b_hh, self.reverse, self.workspace)
        return tuple(outs) if self.workspace else tuple(outs[:-1])

    def superset(self):
        """The twin that also keeps the workspace (see the module docstring)."""
        return None if self.workspace else RNN(**self.attrs(), workspace=True)

    def decompose(self, inputs) -> list:
        return _scan_of_cell(self.cell, self.reverse, *self.split_inputs(inputs))

    def grad(self, inputs, outputs, output_grads):
        ns = self.n_states
        twin = list(outputs) if self.workspace else list(RNN(**self.attrs(), workspace=True)(*inputs))
        y, finals, ws = twin[0], twin[1:1 + ns], twin[1 + ns]
        grads = RNNGrad(**self.attrs())(*inputs, y, *finals, ws, *output_grads[:1 + ns])
        return list(grads)


@dataclass(frozen=True)
class RNNGrad(_RNNAttrs):
    """Inputs: the forward's inputs, its y, final states and workspace, then the gradients
    of y and of the final states. Outputs: the gradients of the forward's inputs."""
    name: ClassVar[str] = "rnn_backward"

    @property
    def nout(self) -> int:
        return self.n_inputs

    def parts(self, inputs):
        """(forward inputs, [y, *final states, workspace], [gradients of y and the states])."""
        n, ns = self.n_inputs, self.n_states
        return list(inputs[:n]), list(inputs[n:n + 2 + ns]), list(inputs[n + 2 + ns:])

    def infer(self, *inputs):
        fwd, _, cot = self.parts(inputs)
        y = self.check(fwd)
        if len(cot) != 1 + self.n_states or cot[0].dtype != y.dtype:
            raise DTypeError(f"{self.name}: expected the gradients of y and of {self.n_states} "
                             f"state(s) as {y.dtype}")
        return [v.type for v in fwd]

    def kernel(self, *tensors):
        fwd, (y, *finals), cot = self.parts(tensors)
        ws, finals = finals[-1], finals[:-1]
        x, states, w_ih, w_hh, b_ih, b_hh = self.split_inputs(fwd)
        grads = kernels.backward(self.cell, x, states, w_ih, w_hh, b_ih, b_hh, y, finals, ws, cot[0],
                                 cot[1:], self.reverse)
        return tuple(g for g in grads if g is not None)

    def decompose(self, inputs) -> list:
        fwd, _, cot = self.parts(inputs)
        plain = RNN(**self.attrs())
        return _vjp_of(plain.decompose, fwd, cot)

    def grad(self, inputs, outputs, output_grads):
        # second derivatives: differentiate the decomposition (a reverse scan of the cell's
        # vjp) with respect to the forward inputs and the incoming gradients; y, the final
        # states and the workspace are functions of the forward inputs, recomputed there
        fwd, saved, cot = self.parts(inputs)
        n = len(fwd)

        def backward(values):
            return self.decompose(values[:n] + saved + values[n:])

        grads = _vjp_of(backward, fwd + cot, output_grads)
        return grads[:n] + [None] * len(saved) + grads[n:]


@user_errors
def rnn(cell: str, x, states, w_ih, w_hh, b_ih=None, b_hh=None, reverse: bool = False) -> list:
    """One LSTM ("lstm") or GRU ("gru") layer over x (time, batch, features), in torch's
    layouts (see the module docstring). states: [h0, c0] for an LSTM, [h0] for a GRU.
    Returns [y (time, batch, hidden), *final states]."""
    if cell not in CELL_STATES:
        raise ValueError(f"rnn: cell must be one of {', '.join(CELL_STATES)}, got {cell!r}")
    states = list(states)
    if len(states) != CELL_STATES[cell]:
        raise ValueError(f"rnn: a {cell} takes {CELL_STATES[cell]} state(s), got {len(states)}")
    if (b_ih is None) != (b_hh is None):
        raise ValueError("rnn: give both biases or neither")
    given = [as_variable(v) for v in (x, *states, w_ih, w_hh, b_ih, b_hh) if v is not None]
    if any(v.dtype == "bool" or v.dtype.startswith("complex") for v in given):
        # checked before promotion: a bool sequence next to float weights is a mistake
        raise DTypeError(f"{cell} takes real float inputs, got {', '.join(v.dtype for v in given)}")
    values = float_inputs(x, *states, w_ih, w_hh, b_ih, b_hh, op=cell)
    op = RNN(cell, bool(reverse), b_ih is not None)
    return list(op(*[v for v in values if v is not None]))
