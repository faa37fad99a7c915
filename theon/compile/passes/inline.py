"""Subgraphs made with `th.op_from_graph(..., inline=True)` are expanded where they are
used, so the rest of the pipeline optimises across their boundary."""
from __future__ import annotations

from ...control.graph_op import GraphOp
from ...rewrite import Rewriter, RuleSet, rule

INLINE: list = []


@rule(GraphOp, name="inline_graph_op", registry=INLINE)
def inline_graph_op(node):
    if not node.op.inline:
        return None
    # the expansion may hold inline ops itself: expand those too, all the way down
    return Rewriter(RuleSet(INLINE)).run(node.op.expand(node.inputs))
