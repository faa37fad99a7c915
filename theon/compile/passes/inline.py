"""Subgraphs expanded where they are used, so the rest of the pipeline optimises across
their boundary:

- `th.op_from_graph(..., inline=True)` ops;
- a `cond` whose predicate is known when compiling (a constant, or one that folds to a
  constant once the inputs' shapes are known): the taken branch's graph on the cond's own
  operands and closure. An imported ONNX model's `If` on a constant condition (silero-vad
  has them) then costs nothing, and the branch's work on weights alone is hoisted with the
  rest of the program's (compile/hoist.py).
"""
from __future__ import annotations

from ...control import Cond
from ...control.graph_op import GraphOp
from ...graph import Constant, replace
from ...rewrite import Rewriter, RuleSet, rule

INLINE: list = []


@rule(GraphOp, name="inline_graph_op", registry=INLINE)
def inline_graph_op(node):
    if not node.op.inline:
        return None
    # the expansion may hold inline ops itself: expand those too, all the way down
    return Rewriter(RuleSet(INLINE)).run(node.op.expand(node.inputs))


@rule(Cond, name="cond_of_constant_predicate", registry=INLINE)
def cond_of_constant_predicate(node):
    pred = node.inputs[0]
    if not isinstance(pred, Constant):
        return None
    _, operands, t_clo, f_clo = node.op._split(node.inputs)
    taken = bool(pred.value)
    body, closure = (node.op.true_body, t_clo) if taken else (node.op.false_body, f_clo)
    args = list(operands) + list(closure)
    return replace(list(body.outputs), dict(zip(body.inputs, args)))
