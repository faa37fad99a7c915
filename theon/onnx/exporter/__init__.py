"""The ONNX exporter: `export` writes a theon model, function or list of outputs as an ONNX
file (api.py), walking the symbolic graph with one rule per op class (ops/, registered in
registry.py) into ONNX graphs (graph.py); recurrent layers become ONNX LSTM/GRU/RNN nodes
where their configuration maps exactly (rnn.py)."""
from .api import DEFAULT_OPSET, export
from .registry import exportable_ops

__all__ = ["DEFAULT_OPSET", "export", "exportable_ops"]
