"""Imported weights as layers: every top-level ONNX node that reads weights becomes a layer
named after the node that owns them (trainable, freezable, found by `get_layer`), so an
imported model fine-tunes like any theon model and a model cut from it keeps its weights."""
from __future__ import annotations

import re

from ...graph import Constant, Shared, Variable, replace
from ...nn.layer import Layer, LayerCall, LayerOutput, _calls, _uids


def layer_name(node, taken: set) -> str:
    """A unique layer name from the node's name ('/' is not allowed in layer names)."""
    base = re.sub(r"/+", ".", node.name).strip(".") or f"{node.op_type}_{node.index}"
    name, k = base, 1
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    taken.add(name)
    return name


class OnnxNode(Layer):
    """The weights of one imported ONNX node. Calling it on new inputs replays the node's
    theon graph on them (the node's computation is fixed by the file)."""

    takes_list = True

    def __init__(self, name: str, onnx_name: str, op_type: str, weights: list):
        super().__init__(name=name)
        self.onnx_name = onnx_name
        self.op_type = op_type
        for w in weights:
            self._params.append(w)
            self._param_keys.append(w.name)
            self._param_trainable.append(True)
        self.built = True
        self.compute_dtype = weights[0].dtype if weights else "float32"
        self._inputs: tuple = ()
        self._output = None

    def _rename(self, name: str) -> None:  # weights keep their ONNX names
        self._name = name

    def __call__(self, inputs, training: bool = False):
        xs = [v for v in inputs]
        out = self.call(xs, training)
        if out.owner is None or out in _calls or any(out is v for v in xs):
            out = LayerOutput(next(_uids))(out)
        _calls[out] = LayerCall(self, xs, True)
        if self.output is None:
            self.output = out
        return out

    def call(self, xs, training: bool = False):
        if len(xs) == len(self._inputs) and all(a is b for a, b in zip(xs, self._inputs)):
            return self._output
        return replace([self._output], dict(zip(self._inputs, xs)))[0]

    def get_config(self) -> dict:
        raise ValueError(f"layer {self.name!r} was imported from ONNX ({self.op_type}); it has no "
                         f"config: save the model's weights, or keep the .onnx file")


def register_node_layer(ctx, outs: list) -> None:
    """Wrap the node's first output in a layer call owning the weights it read first."""
    imp = ctx.importer
    new = [n for n in ctx.used_weights if n not in imp.owner]
    first = outs[0] if outs else None
    if not new or not isinstance(first, Variable):
        return
    dynamic = []
    for i in range(ctx.n_in):
        if ctx.has(i) and ctx.node.inputs[i] not in imp.weight_names:
            v = ctx.x(i)
            if v.owner is not None or not _is_leaf_constant(v):
                if all(v is not d for d in dynamic):
                    dynamic.append(v)
    layer = OnnxNode(layer_name(ctx.node, imp.layer_names), ctx.node.name, ctx.node.op_type,
                     [imp.weights[n] for n in new])
    for n in new:
        imp.owner[n] = layer
    layer._inputs = tuple(dynamic)
    layer._output = first
    out = layer(dynamic)
    imp.layers.append(layer)
    outs[0] = out


def _is_leaf_constant(v) -> bool:
    return isinstance(v, (Constant, Shared))
