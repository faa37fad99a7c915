"""The softmax cross-entropy's gradient from the forward's own log_softmax.

A training graph holds `cross_entropy(z, y)` and, from th.grad, `cross_entropy_backward(g, z,
y)`, which recomputes softmax(z). Where both read the same plain (N, C) logits and labels
(no class weights, smoothing or ignore_index), they become one `cross_entropy(with_grad=True)`
node whose second output is softmax - onehot(y), computed in place from the log_softmax the
loss needed anyway; the gradient is that times g, one elementwise multiply. The loss is
bit-identical; the gradient differs from the recomputed softmax by float32 rounding. For a
language model's 1000-way output this saves one pass over the logits and one
logits-sized buffer.

g may be computed from the loss itself (the gradient of a mean reads the loss's shape), so
the fused node replaces the forward and the backward while the graph is rebuilt in order,
never reading a gradient made before the loss.
"""
from __future__ import annotations

from ... import config
from ...graph import apply, located, rebuild, toposort
from ...ops.elementwise import multiply
from ...ops.nn_loss import CrossEntropy, CrossEntropyBackward
from ...ops.shape import expand_dims


def _plain(op) -> bool:
    return (op.axis == 1 and not op.label_smoothing and op.ignore_index is None and not op.weighted
            and not getattr(op, "with_grad", False))


def share_log_softmax(outputs) -> list:
    """Fuse each plain cross_entropy with its backward over the same logits and labels
    (THEON_FUSE=0: none, like the fuse pass)."""
    if not config.FUSE:
        return outputs
    nodes = toposort(outputs)
    forwards = {n.inputs: n for n in nodes if type(n.op) is CrossEntropy and _plain(n.op)
                and n.inputs[0].ndim == 2}
    backwards = {id(n) for n in nodes if type(n.op) is CrossEntropyBackward and _plain(n.op)
                 and n.inputs[1:] in forwards}
    if not backwards:
        return list(outputs)
    paired = {id(forwards[n.inputs[1:]]) for n in nodes if id(n) in backwards}
    fused_op = CrossEntropy(with_grad=True)

    def visit(node, inputs, value):
        if id(node) in paired:
            # hash-consing: the backward, built on the same rebuilt inputs, finds this node
            return [apply(fused_op, inputs, loc=node.loc).outputs[0]]
        if id(node) in backwards:
            g, logits, labels = inputs
            fused = apply(fused_op, (logits, labels), loc=node.loc)
            with located(node.loc):
                return [multiply(fused.outputs[1], expand_dims(g, 1))]
        return None

    return rebuild(outputs, visit, nodes)
