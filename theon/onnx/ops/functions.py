"""ONNX ops that ONNX itself defines as functions of other ops, depending on the node's
attributes and input types (context-dependent functions): the importer asks the onnx
package for the node's body and converts it in place of the node, so theon computes what
the spec's own expansion computes."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from . import converter


def _type_proto(v) -> onnx.TypeProto:
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(v.dtype))
    shape = [d if d is not None else f"d{i}" for i, d in enumerate(v.type.shape)]
    return helper.make_tensor_type_proto(elem, shape)


def expand_function(ctx):
    """The node's outputs, computed by converting the body ONNX builds for it."""
    node = ctx.node.proto
    schema = onnx.defs.get_schema(node.op_type, ctx.opset, node.domain)
    inputs = ctx.xs()
    types = [_type_proto(v).SerializeToString() if v is not None else onnx.TypeProto().SerializeToString()
             for v in inputs]
    body = onnx.FunctionProto()
    body.ParseFromString(schema.get_context_dependent_function(node.SerializeToString(), types))
    present = [(name, v) for name, v in zip(body.input, inputs) if v is not None]
    graph = helper.make_graph(
        list(body.node), f"{node.op_type}_body",
        [helper.make_value_info(name, _type_proto(v)) for name, v in present],
        [helper.make_value_info(name, onnx.TypeProto()) for name in body.output])
    return ctx.subgraph(graph, [v for _, v in present])


@converter("FlexAttention", domain="ai.onnx.preview")
def flex_attention(ctx):
    return expand_function(ctx)
