"""Subgraphs expanded where they are used, so the rest of the pipeline optimises across
their boundary:

- `th.op_from_graph(..., inline=True)` ops;
- a `cond` whose predicate is known when compiling (a constant, or one that folds to a
  constant once the inputs' shapes are known): the taken branch's graph on the cond's own
  operands and closure. An imported ONNX model's `If` on a constant condition (silero-vad
  has them) then costs nothing, and the branch's work on weights alone is hoisted with the
  rest of the program's (compile/hoist.py);
- a `scan` of one step (known once the shapes are): its body once, on the sequences' only
  slices, the outputs stacked by a unit axis. ONNX's LSTM over a one-frame chunk (silero-vad
  streaming) then runs without the loop's per-call bookkeeping.
"""
from __future__ import annotations

from ...control import Cond, Scan
from ...control.graph_op import GraphOp
from ...graph import Constant, replace
from ...ops.shape import expand_dims
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
    # the branch may hold what these rules expand (a one-step scan): expand those too
    return Rewriter(RuleSet(INLINE)).run(replace(list(body.outputs), dict(zip(body.inputs, args))))


def _steps(op: Scan, seqs, n):
    """The step count when known while compiling, else None."""
    lengths = {v.type.shape[0] for v in seqs}
    if n is not None:
        if not isinstance(n, Constant):
            return None
        lengths.add(int(n.value))
    if op.length is not None:
        lengths.add(op.length)
    return lengths.pop() if len(lengths) == 1 else None  # a mismatch stays for the kernel's error


@rule(Scan, name="scan_of_one_step", registry=INLINE)
def scan_of_one_step(node):
    op = node.op
    carries, seqs, n, closure = op.split(node.inputs)
    if _steps(op, seqs, n) != 1:
        return None
    args = carries + [v[0] for v in seqs] + closure
    outs = replace(list(op.body.outputs), dict(zip(op.body.inputs, args)))
    ys = [expand_dims(y, 0) for y in outs[op.n_carry:]]
    history = [expand_dims(c, 0) for c in carries] if op.history else []
    return outs[:op.n_carry] + ys + history
