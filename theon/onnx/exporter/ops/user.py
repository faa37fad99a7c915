"""Ops users make: a `th.op` op as one node of its own ONNX domain (its `domain` and `name`,
its attributes as ONNX attributes, its output types declared), which `th.onnx.load` maps
back to the op when the module defining it is imported, and other runtimes run with a
custom-op library; an `op_from_graph` block as its subgraph's nodes, written in place."""
from __future__ import annotations

import dataclasses

from onnx import AttributeProto, helper

from ....control.graph_op import GraphOp
from ....ops.custom import CustomOp
from ..registry import Unsupported, family_rule, rule

CUSTOM_DOMAIN_VERSION = 1


def onnx_attribute(name: str, value):
    """A th.op attribute as an AttributeProto (bools as 0/1 ints, tuples as lists); None for
    an attribute left out (None)."""
    if value is None:
        return None
    if isinstance(value, tuple):
        if not value:  # an empty list has no type of its own: say ints
            return helper.make_attribute(name, [], attr_type=AttributeProto.INTS)
        if all(isinstance(v, (bool, int)) for v in value):
            return helper.make_attribute(name, [int(v) for v in value])
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return helper.make_attribute(name, [float(v) for v in value])
        if all(isinstance(v, str) for v in value):
            return helper.make_attribute(name, list(value))
        raise Unsupported(f"attribute {name}={value!r}: ONNX attributes are lists of one type, not nested")
    if isinstance(value, bool):
        return helper.make_attribute(name, int(value))
    return helper.make_attribute(name, value)


@family_rule(CustomOp)
def _user_op(ctx):
    op = ctx.op
    d = op.definition
    defaults = {f.name: f.default for f in dataclasses.fields(op)}
    attributes = []
    for name, value in op.attributes.items():
        if value is None and defaults.get(name) is not None:
            raise Unsupported(f"attribute {name}=None (its default is {defaults[name]!r}): ONNX has no None")
        a = onnx_attribute(name, value)
        if a is not None:
            attributes.append(a)
    graph = ctx.graph
    graph.ex.domains.setdefault(d.domain, CUSTOM_DOMAIN_VERSION)
    outs = [graph.ex.fresh(f"{ctx.hint}.{d.name}" + (f".{k}" if d.nout > 1 else "")) for k in range(d.nout)]
    node = helper.make_node(d.name, ctx.xs(), outs, name=graph.ex.fresh_node(f"{ctx.hint}/{d.name}"),
                            domain=d.domain)
    node.attribute.extend(attributes)
    graph.nodes.append(node)
    graph.declare_types(ctx.outputs)  # no ONNX schema infers them
    return outs


@rule(GraphOp)
def _graph_op(ctx):
    return ctx.graph.emit(ctx.op.expand(list(ctx.inputs)))
