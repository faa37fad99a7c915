"""Fusion and layout rewrites over the whole graph: patterns become fewer, larger kernels.

Each rewrite applies only where the intermediate it removes has no other reader, so no
work is ever duplicated. Values change only by rounding (a fused kernel may order its
arithmetic differently); tests compare every rewrite with the unfused program.

- relu(conv(x, w, b))         -> conv_relu(x, w, b)       (oneDNN's fused ReLU on the CPU)
- batch_norm_eval(conv(...))  -> conv with the batch norm folded into its weight and bias
                                 (inference graphs; the folded weights are computed in the
                                 graph from the shared ones, so training them stays possible)
- conv(x, w, b) * s, + t      -> conv with s folded into its weight and bias, t into its bias,
                                 where s and t are per-output-channel (or scalar) values of
                                 shared variables and constants only, as are w and b: a batch
                                 norm written as arithmetic (imported models), a bias added
                                 after the convolution. The folded values are work on weights
                                 alone, which compile/hoist.py does once per weight value.
- x * clip(x + 3, 0, 6) / 6   -> hard_swish(x)            (one ATen kernel instead of four
                                 passes; equal to the bit: ATen computes the same expression)
- transpose(a @ b)            -> b.T @ a.T                (a contiguous result: a Dense
                                 layer's weight gradient no longer reaches the optimiser as
                                 a strided view)
"""
from __future__ import annotations

from ... import config
from ...graph import Constant, Shared, apply, located, toposort
from ...ops.broadcast import broadcast_to
from ...ops.elementwise import Clip, add, divide, multiply, relu, rsqrt
from ...ops.linalg import Matmul, matrix_transpose
from ...ops.nn_conv import Conv
from ...ops.nn_fused import conv_relu, hard_swish
from ...ops.nn_norm import BatchNormEval
from ...ops.shape import Reshape, Transpose, reshape


def consumers(outputs, nodes=None) -> dict:
    """id(variable) -> how many node inputs and graph outputs read it (`nodes`: the graph's
    topological order, when the caller has it)."""
    count: dict = {}
    for node in toposort(outputs) if nodes is None else nodes:
        for i in node.inputs:
            count[id(i)] = count.get(id(i), 0) + 1
    for o in outputs:
        count[id(o)] = count.get(id(o), 0) + 1
    return count


def _only_reader(v, count) -> bool:
    return v.owner is not None and count.get(id(v)) == 1


def _fold_batch_norm(node, count):
    x = node.inputs[0]
    if not (_only_reader(x, count) and isinstance(x.owner.op, Conv) and not x.owner.op.transposed):
        return None
    conv = x.owner
    _, rm, rv, gamma, beta = node.inputs
    xin, w = conv.inputs[0], conv.inputs[1]
    scale = gamma * rsqrt(rv + node.op.eps)
    w_folded = w * reshape(scale, (-1,) + (1,) * (w.ndim - 1))
    shift = (conv.inputs[2] - rm) if len(conv.inputs) == 3 else -rm
    return [conv.op(xin, w_folded, shift * scale + beta)]


def static_values(outputs, nodes=None) -> set:
    """ids of the values computed from shared variables and constants alone (pure nodes
    without bodies): values that do not change from call to call while the weights stay."""
    static = set()
    for node in toposort(outputs) if nodes is None else nodes:
        for i in node.inputs:
            if isinstance(i, (Shared, Constant)):
                static.add(id(i))
        if not node.op.impure and not node.op.bodies() and all(id(i) in static for i in node.inputs):
            static.update(id(o) for o in node.outputs)
    return static


def _channel_vector(c, out):
    """`c` as a (C,) vector or a scalar when it broadcasts along the channel axis (1) of the
    convolution output `out` only; else None."""
    if c.dtype != out.dtype or c.ndim > out.ndim or not c.type.is_concrete:
        return None
    shape = (1,) * (out.ndim - c.ndim) + tuple(c.type.shape)
    if any(d != 1 for a, d in enumerate(shape) if a != 1):
        return None
    while isinstance(c.owner and c.owner.op, Reshape):  # reshape chains collapse to one
        c = c.owner.inputs[0]
    if shape[1] == 1:
        return reshape(c, ())
    return reshape(c, (-1,)) if shape[1] == out.type.shape[1] else None


def _conv_affine(node, count, static):
    """conv * s or conv + t (either order) with the conv's weight, bias and s/t static."""
    for side in (0, 1):
        x, c = node.inputs[side], node.inputs[1 - side]
        if not (_only_reader(x, count) and isinstance(x.owner.op, Conv) and not x.owner.op.transposed):
            continue
        conv = x.owner
        if id(c) not in static or not all(id(i) in static for i in conv.inputs[1:]):
            continue
        if node.outputs[0].type != x.type:
            continue
        vec = _channel_vector(c, x)
        if vec is None:
            continue
        xin, w = conv.inputs[0], conv.inputs[1]
        b = conv.inputs[2] if len(conv.inputs) == 3 else None
        if isinstance(node.op, multiply.op):
            w_scaled = w * (vec if vec.ndim == 0 else reshape(vec, (-1,) + (1,) * (w.ndim - 1)))
            return [conv.op(xin, w_scaled) if b is None else conv.op(xin, w_scaled, b * vec)]
        if b is None:
            b = broadcast_to(vec, (x.type.shape[1],)) if vec.ndim == 0 else vec
            return [conv.op(xin, w, b)]
        return [conv.op(xin, w, b + vec)]
    return None


def _conv_relu(node, count):
    x = node.inputs[0]
    if not (_only_reader(x, count) and isinstance(x.owner.op, Conv) and len(x.owner.inputs) == 3):
        return None
    op = x.owner.op
    if op.transposed or len(op.stride) != 2 or op.padding == "same" or x.dtype != "float32":
        return None
    return [conv_relu(*x.owner.inputs, op)]


def _scalar_constant(v, value) -> bool:
    return isinstance(v, Constant) and v.ndim == 0 and v.dtype in ("float32", "float64") and float(v.value) == value


def _hard_swish(node, count):
    """div(mul(x, clip(add(x, 3), 0, 6)), 6), the product's operands in either order."""
    m, six = node.inputs
    if not (_scalar_constant(six, 6.0) and _only_reader(m, count) and isinstance(m.owner.op, multiply.op)):
        return None
    if node.outputs[0].type != m.type or m.dtype not in ("float32", "float64"):
        return None
    for side in (0, 1):
        x, c = m.owner.inputs[side], m.owner.inputs[1 - side]
        if not (_only_reader(c, count) and isinstance(c.owner.op, Clip)
                and (c.owner.op.lo, c.owner.op.hi) == (0.0, 6.0)):
            continue
        a = c.owner.inputs[0]
        if not (_only_reader(a, count) and isinstance(a.owner.op, add.op)):
            continue
        p, q = a.owner.inputs
        if ((p is x and _scalar_constant(q, 3.0)) or (q is x and _scalar_constant(p, 3.0))) and x.type == m.type:
            return [hard_swish(x)]
    return None


def _transpose_of_matmul(node, count):
    m = node.inputs[0]
    if not (node.op.axes == (1, 0) and _only_reader(m, count) and isinstance(m.owner.op, Matmul)):
        return None
    a, b = m.owner.inputs
    if a.ndim != 2 or b.ndim != 2:
        return None
    return [m.owner.op(matrix_transpose(b), matrix_transpose(a))]


# the affine folds come after conv_relu: oneDNN's fused ReLU, which reorders the weight on
# every call, is slower than the plain convolution and an in-place ReLU for the small
# convolutions of imported mobile models (PP-OCR: 10-20 % of the whole model)
REWRITES = [(BatchNormEval, _fold_batch_norm), (relu.op, _conv_relu), (multiply.op, _conv_affine),
            (add.op, _conv_affine), (divide.op, _hard_swish), (Transpose, _transpose_of_matmul)]
NEEDS_STATIC = {_conv_affine}


def fuse(outputs) -> list:
    """Apply each rewrite of REWRITES over the graph, in order (THEON_FUSE=0: none)."""
    if not config.FUSE:
        return outputs
    return rewrite_present(outputs, REWRITES, lambda rewrite, outputs, nodes: (
        (static_values(outputs, nodes),) if rewrite in NEEDS_STATIC else ()))


def rewrite_present(outputs, rewrites, extra=None) -> list:
    """Each (op class, rewrite) of `rewrites` in order, through `rewrite_each`, skipping those
    whose op class the graph never had; `extra(rewrite, outputs, nodes)` gives a rewrite's
    extra arguments."""
    nodes = toposort(outputs)
    present = {type(n.op) for n in nodes}
    for op_class, rewrite in rewrites:
        if any(issubclass(c, op_class) for c in present):
            args = extra(rewrite, outputs, nodes) if extra else ()
            outputs, nodes = rewrite_each(outputs, op_class, rewrite, args, nodes)
    return outputs


def rewrite_each(outputs, op_class, rewrite, extra, nodes=None) -> tuple:
    """One rewrite over the graph in topological order (`nodes`, when the caller has it).
    Each node is first rebuilt on the rewritten values of its inputs, so a rewrite sees, and
    its result reads, what the rewrites before it made (a chain of fusible patterns fuses
    link by link). Returns (the new outputs, their topological order): the order given back
    when nothing changed (any change reaches the outputs), so rewrites that find nothing do
    not walk the graph again."""
    nodes = toposort(outputs) if nodes is None else nodes
    count = consumers(outputs, nodes)
    memo = {}

    def carry(old_vars, new_vars):  # new values inherit their reader counts and staticness
        for old, new in zip(old_vars, new_vars):
            memo[id(old)] = new
            count[id(new)] = count.get(id(old), 0)
            if extra and id(old) in extra[0]:
                extra[0].add(id(new))

    for node in nodes:
        inputs = [memo.get(id(i), i) for i in node.inputs]
        current = node
        if any(a is not b for a, b in zip(inputs, node.inputs)):
            current = apply(node.op, inputs, loc=node.loc)
            carry(node.outputs, current.outputs)
        if isinstance(node.op, op_class):
            with located(node.loc):  # the fused nodes keep the user's line
                new = rewrite(current, count, *extra)
            if new is not None:
                carry(node.outputs, new)
    if not memo:
        return outputs, nodes
    new_outputs = [memo.get(id(v), v) for v in outputs]
    return new_outputs, toposort(new_outputs)
