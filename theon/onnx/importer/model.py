"""The imported model: a functional `nn.Model` whose every ONNX value is reachable by name."""
from __future__ import annotations

from ...nn.model import Model


class OnnxModel(Model):
    """An ONNX graph as a theon model. `tensor(name)` is the theon variable of any ONNX value
    (cut the model there with `nn.Model(m.inputs, m.tensor(name))`); `input_dims` keeps the
    file's dim names ('batch', 'sequence', ...) where theon's types only say None."""

    def __init__(self, inputs, outputs, values: dict, source: str, opsets: dict, input_dims: dict,
                 extra_layers=(), name=None):
        super().__init__(inputs if len(inputs) != 1 else inputs[0],
                         outputs if len(outputs) != 1 else outputs[0], name=name)
        self._values = values
        self.source = source
        self.opsets = dict(opsets)
        self.input_dims = input_dims
        for layer in extra_layers:
            if layer not in self._layers:
                self._layers.append(layer)

    @property
    def value_names(self) -> list:
        """The names of the ONNX values of the main graph, in the order they were made."""
        return list(self._values)

    def tensor(self, name: str):
        """The theon variable computing the ONNX value `name` (a node output, input or weight)."""
        try:
            v = self._values[name]
        except KeyError:
            close = [n for n in self._values if name.lower() in n.lower()][:5]
            hint = f"; similar names: {', '.join(close)}" if close else ""
            raise KeyError(f"{self.source} has no value named {name!r}{hint}") from None
        return v
