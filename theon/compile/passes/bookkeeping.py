"""Nodes that exist only for graph bookkeeping (a layer's own output variable) compute
nothing: the compiled program uses their input directly."""
from __future__ import annotations

from ...rewrite import rule

BOOKKEEPING: list = []


@rule(name="drop_passthrough", registry=BOOKKEEPING)
def drop_passthrough(node):
    return [node.inputs[0]] if node.op.passthrough else None
