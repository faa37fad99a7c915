"""Recurrent layers as ONNX LSTM, GRU and RNN nodes.

A theon LSTM/GRU/SimpleRNN layer runs its cell in a `th.scan` (nn/layers_rnn_cells.py): the
input projection of every step is one `linear` outside the loop, the loop reads the
recurrent weights as its closure. Before the graph is walked, each scan that is exactly such
a layer's loop (no mask, an activation ONNX names, weights where the layer keeps them) is
replaced by an export-only op that writes one ONNX node with torch's gate order turned into
ONNX's. Every other scan, those of masked layers included, is exported as a Scan. The fused
recurrent op (`th.control.rnn.rnn`, what LSTM and GRU layers run) is one ONNX LSTM/GRU node.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ...control.scan import Scan
from ...graph import ancestors, replace, toposort
from ...nn.layer import call_of
from ...nn.layers_rnn import GRU, LSTM, Bidirectional, Recurrent, SimpleRNN
from ...ops import elementwise as E
from ...ops.base import Op
from ...ops.nn_conv import Linear
from ...control.rnn import RNN
from .ops.common import squeeze, unsqueeze
from .registry import Unsupported, rule

# torch's gate blocks in ONNX's order: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h
_GATES = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}
_RNN_ACTIVATIONS = {id(E.tanh): "Tanh", id(E.relu): "Relu", id(E.sigmoid): "Sigmoid"}


@dataclass(frozen=True)
class RecurrentLayerOp(Op):
    """Export only: a recurrent layer's scan. Inputs: x time-major (T, B, F) and the initial
    states (B, H); outputs: the scan's (final states, then every step's h when it has them)."""
    onnx_op: str = "LSTM"
    reverse: bool = False
    activation: str = ""
    weights: tuple = ()        # (w_ih, w_hh, b_ih or None, b_hh or None): the layer's shared variables
    types: tuple = ()          # the scan's output types
    layer_name: str = ""
    name: ClassVar[str] = "recurrent_layer"

    @property
    def nout(self) -> int:
        return len(self.types)

    def infer(self, x, *states):
        return list(self.types)


def recurrent_layers_as_onnx(outputs) -> list:
    """`outputs` with the scans of recurrent layers replaced by RecurrentLayerOp nodes."""
    layers = {}
    for v in ancestors(outputs):
        call = call_of(v)
        if call is None:
            continue
        found = call.layer
        subs = (found.forward_layer, found.backward_layer) if isinstance(found, Bidirectional) else (found,)
        for layer in subs:
            if isinstance(layer, Recurrent) and layer.built:
                layers[id(layer.weight_hh)] = layer
    if not layers:
        return list(outputs)
    mapping = {}
    for node in toposort(outputs):
        if isinstance(node.op, Scan):
            closure = node.op.split(node.inputs)[3]
            layer = next((layers[id(c)] for c in closure if id(c) in layers), None)
            new = _as_layer_op(node, layer) if layer is not None else None
            if new is not None:
                mapping.update(zip(node.outputs, new))
    return replace(list(outputs), mapping) if mapping else list(outputs)


def _onnx_op(layer):
    if isinstance(layer, LSTM):
        return "LSTM", ""
    if isinstance(layer, GRU):
        return "GRU", ""
    if isinstance(layer, SimpleRNN):
        act = _RNN_ACTIVATIONS.get(id(layer.activation))
        return ("RNN", act) if act else (None, "")
    return None, ""


def _as_layer_op(node, layer):
    """The RecurrentLayerOp outputs standing for `node`, or None when the scan is not
    exactly the layer's unmasked loop."""
    op = node.op
    onnx_op, activation = _onnx_op(layer)
    if onnx_op is None or op.n_seq != 1 or op.dynamic_length or op.history or op.n_carry != layer.n_states \
            or op.reverse != layer.reverse:
        return None
    init, (xp,), _, closure = op.split(node.inputs)
    w_ih, w_hh, b_ih, b_hh = layer.weight_ih, layer.weight_hh, layer.bias_ih, layer.bias_hh
    in_loop = [w_hh] + ([b_hh] if onnx_op == "GRU" and b_hh is not None else [])
    if len(closure) != len(in_loop) or any(a is not b for a, b in zip(closure, in_loop)):
        return None
    proj = xp.owner
    if proj is None or not isinstance(proj.op, Linear) or proj.inputs[1] is not w_ih:
        return None
    if b_ih is None:
        if len(proj.inputs) != 2:
            return None
    elif onnx_op == "GRU":
        if len(proj.inputs) != 3 or proj.inputs[2] is not b_ih:
            return None
    else:  # both biases folded into the projection
        bias = proj.inputs[2] if len(proj.inputs) == 3 else None
        if bias is None or bias.owner is None or not isinstance(bias.owner.op, E.add.op) or \
                tuple(bias.owner.inputs) != (b_ih, b_hh):
            return None
    xt = proj.inputs[0]
    new = RecurrentLayerOp(onnx_op, op.reverse, activation, (w_ih, w_hh, b_ih, b_hh),
                           tuple(o.type for o in node.outputs), layer.name)
    outs = new.make_node(xt, *init).outputs
    return list(outs)


def _gates(value: np.ndarray, onnx_op: str) -> np.ndarray:
    """Torch's stacked gate blocks (rows) in ONNX's order."""
    blocks = np.split(value, len(_GATES[onnx_op]), axis=0)
    return np.concatenate([blocks[i] for i in _GATES[onnx_op]], axis=0)


@rule(RecurrentLayerOp)
def _recurrent(ctx):
    op = ctx.op
    w_ih, w_hh, b_ih, b_hh = (None if w is None else w.get_value() for w in op.weights)
    hidden = w_hh.shape[1]
    ex = ctx.graph.ex
    w = ex.constant(_gates(w_ih, op.onnx_op)[None], f"{op.layer_name}/W")
    r = ex.constant(_gates(w_hh, op.onnx_op)[None], f"{op.layer_name}/R")
    zeros = np.zeros(w_hh.shape[0], w_hh.dtype)
    b = np.concatenate([_gates(zeros if b_ih is None else b_ih, op.onnx_op),
                        _gates(zeros if b_hh is None else b_hh, op.onnx_op)])[None]
    b = ex.constant(b, f"{op.layer_name}/B")
    states = [unsqueeze(ctx, ctx.x(1 + k), [0]) for k in range(len(ctx.inputs) - 1)]
    attrs = {"hidden_size": int(hidden), "direction": "reverse" if op.reverse else "forward"}
    if op.onnx_op == "GRU":
        attrs["linear_before_reset"] = 1  # torch's (and theon's) GRU
    if op.onnx_op == "RNN":
        attrs["activations"] = [op.activation]
    n_states = len(states)
    outs = ctx.emit(op.onnx_op, [ctx.x(0), w, r, b, "", *states], n_out=1 + n_states, **attrs)
    finals = [squeeze(ctx, s, [0]) for s in outs[1:]]
    ys = [squeeze(ctx, outs[0], [1])] if len(op.types) > n_states else []
    return finals + ys


def _gates_in_graph(ctx, name: str, onnx_op: str) -> str:
    """Torch's stacked gate blocks (rows) of a weight or bias in ONNX's order, as nodes."""
    order = _GATES[onnx_op]
    blocks = ctx.emit("Split", [name], n_out=len(order), axis=0, num_outputs=len(order)) \
        if ctx.opset >= 18 else ctx.emit("Split", [name], n_out=len(order), axis=0)
    return ctx.emit("Concat", [blocks[i] for i in order], axis=0)


@rule(RNN)
def _fused_rnn(ctx):
    """The fused LSTM/GRU op (x time-major, torch's layouts) as one ONNX LSTM/GRU node."""
    op = ctx.op
    if op.workspace:
        raise Unsupported("the training twin that keeps a workspace: export the inference graph")
    onnx_op = op.cell.upper()
    x, states, w_ih, w_hh, b_ih, b_hh = op.split_inputs(ctx.xs())
    w = unsqueeze(ctx, _gates_in_graph(ctx, w_ih, onnx_op), [0])
    r = unsqueeze(ctx, _gates_in_graph(ctx, w_hh, onnx_op), [0])
    b = ""
    if op.bias:
        b = unsqueeze(ctx, ctx.emit("Concat", [_gates_in_graph(ctx, b_ih, onnx_op),
                                               _gates_in_graph(ctx, b_hh, onnx_op)], axis=0), [0])
    attrs = {"direction": "reverse" if op.reverse else "forward"}
    hidden = ctx.shape(1 + op.n_states + 1)[1]  # w_hh's columns
    if hidden is None:
        raise Unsupported("a hidden size unknown when exporting")
    attrs["hidden_size"] = int(hidden)
    if onnx_op == "GRU":
        attrs["linear_before_reset"] = 1  # torch's (and theon's) GRU
    initial = [unsqueeze(ctx, s, [0]) for s in states]
    outs = ctx.emit(onnx_op, [x, w, r, b, "", *initial], n_out=1 + op.n_states, **attrs)
    return [squeeze(ctx, outs[0], [1])] + [squeeze(ctx, s, [0]) for s in outs[1:]]
