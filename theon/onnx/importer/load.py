"""th.onnx.load: read and check the file, list unsupported ops, then build the model."""
from __future__ import annotations

import numpy as np
from onnx import numpy_helper

from ...nn.layer import Layer
from ..errors import OnnxImportError
from .graph import Importer, Scope, _Missing, _Pending
from .model import OnnxModel
from .reader import check_opsets, load_external_data, read_model
from .tensors import value_info_type


class OnnxWeights(Layer):
    """Weights read only inside subgraphs (If/Loop/Scan bodies), owned by the model."""

    def __init__(self, name, weights):
        super().__init__(name=name)
        for w in weights:
            self._params.append(w)
            self._param_keys.append(w.name)
            self._param_trainable.append(True)
        self.built = True

    def _rename(self, name: str) -> None:
        self._name = name


def _bind_constants(proto, constants: dict, source: str) -> None:
    """Turn the named graph inputs into initializers holding the given values."""
    names = {i.name for i in proto.graph.input}
    unknown = [n for n in constants if n not in names]
    if unknown:
        raise OnnxImportError(f"{source}: constants= names {unknown}, which are not graph inputs "
                              f"(inputs: {sorted(names)})")
    for name, value in constants.items():
        proto.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))


def load(path_or_bytes, name: str | None = None, constants: dict | None = None) -> OnnxModel:
    """An ONNX model (a path, bytes or an onnx.ModelProto) as a theon `nn.Model`.

    Inputs keep their ONNX names and their dims (None where the file names a symbolic dim;
    the names are in `model.input_dims`). Float initializers and weight-like Constant
    tensors become trainable shared variables owned by a layer per ONNX node (named after
    the node); `model.tensor(name)` is any ONNX value. Every unsupported op is reported in
    one error before anything is built. constants: {input name: value} fixes inputs that
    the graph uses as shape arguments (axes, sizes, pads ...) to constants.
    """
    proto, source, folder = read_model(path_or_bytes)
    if constants:
        copy = type(proto)()
        copy.CopyFrom(proto)
        proto = copy
        _bind_constants(proto, constants, source)
    opsets = check_opsets(proto, source)
    load_external_data(proto, source, folder)
    imp = Importer(source, opsets)
    imp.check_supported(proto.graph)
    inputs = imp.graph_inputs(proto.graph)
    scope = Scope()
    for v in inputs:
        scope.values[v.name] = v
        imp.values[v.name] = v
    input_dims = {}
    for info in proto.graph.input:
        if info.name in scope.values:
            input_dims[info.name] = value_info_type(info)[2]
    outputs = imp.convert_graph(proto.graph, scope)
    if not outputs:
        raise OnnxImportError(f"{source}: the graph has no outputs")
    values = {}
    for key, v in {**scope.values, **imp.values}.items():
        if isinstance(v, _Pending):
            if key in imp.weights:
                values[key] = imp.weights[key]
        elif not isinstance(v, _Missing):
            values[key] = v
    # an output that is an input or a weight still needs its own variable in the model
    extra = [w for n, w in imp.weights.items() if n not in imp.owner]
    holder = [OnnxWeights("onnx_weights", extra)] if extra else []
    return OnnxModel(inputs, outputs, values, source, opsets, input_dims,
                     extra_layers=imp.layers + holder, name=name or proto.graph.name or None)
