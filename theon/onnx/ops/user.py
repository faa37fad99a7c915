"""Custom-domain nodes as `th.op` ops: a node whose domain and op type are those of an op
made with `th.op` in an imported module (as th.onnx.export writes one) becomes that op.
Only ops the user has already defined are used: nothing in the file is run as code."""
from __future__ import annotations

import dataclasses

from ...ops.custom import find_op


def user_op_converter(domain: str, op_type: str):
    """The converter of custom-domain nodes `domain`.`op_type`, None if no th.op matches."""
    definition = find_op(domain, op_type)
    if definition is None:
        return None

    def convert(ctx):
        kinds = {f.name: f.type for f in dataclasses.fields(definition.op_class)}
        unknown = sorted(set(ctx.attrs) - set(kinds))
        if unknown:
            ctx.fail(f"attribute(s) {unknown} are not attributes of th.op {definition.qualified_name} "
                     f"(it has {sorted(kinds) or 'none'})")
        attrs = {}
        for name, value in ctx.attrs.items():
            if kinds[name] is bool and value in (0, 1):
                value = bool(value)   # ONNX has no bool attributes: written as 0/1
            attrs[name] = tuple(value) if isinstance(value, list) else value
        n_in = len(definition.inputs)
        if definition.variadic is None and ctx.n_in != n_in:
            ctx.fail(f"th.op {definition.qualified_name} takes {n_in} input(s), the node has {ctx.n_in}")
        try:
            op = definition.op_class(**attrs)
        except (TypeError, ValueError) as e:
            ctx.fail(f"th.op {definition.qualified_name}: {e}")
        return op(*ctx.xs())
    return convert
