"""Chains of elementwise ops become one `FusedElementwise` node (one generated kernel).

A chain is a tree: a root node and, recursively, the producers of its inputs whose result
only that node reads, all of one float dtype and of the root's shape, and each taking
inputs of that shape or of one element (broadcast scalars). Since no member but the root
is read outside the chain, no work is duplicated and no cycle can form. Scalar constants
become literals of the generated source. Chains of one op stay as they are (ATen already
runs them as one kernel). Runs only with THEON_CODEGEN=cpp (theon/config.py).
"""
from __future__ import annotations

import math
from dataclasses import fields

from ... import config
from ...codegen.chain import DTYPES, EXPRESSIONS, Chain, Step
from ...codegen.op import FusedElementwise
from ...graph import Constant, located, replace, toposort
from ...ops.elementwise import Elementwise
from .fuse import consumers


# Chains of more elements stay unfused: there ATen's kernels, vectorised with SLEEF's math,
# beat the generated scalar loop (benchmarks/codegen.py on a 2-core CPU: fused 2.5-3.3x
# faster than torch eager at 64K float32 elements, 0.73-0.82x at 1M; between them unmeasured.
# Chains heavy in tanh/sigmoid lose at any size measured: an LSTM cell's, 0.65x at 64K)
MAX_ELEMENTS = 1 << 17


def _size(shape) -> int | None:
    return None if any(d is None for d in shape) else math.prod(shape)


def _literal(v):
    """The value of a one-element finite constant, else None."""
    if isinstance(v, Constant) and v.value.size == 1:
        x = float(v.value.reshape(-1)[0])
        if math.isfinite(x):
            return x
    return None


def _fusible(node) -> bool:
    op, out = node.op, node.outputs[0]
    if not (isinstance(op, Elementwise) and not fields(op) and op.name in EXPRESSIONS
            and len(node.outputs) == 1 and out.dtype in DTYPES):
        return False
    size = _size(out.type.shape)
    if not size or size > MAX_ELEMENTS:
        return False
    for i in node.inputs:
        n = _size(i.type.shape)
        if i.dtype != out.dtype or not (n == 1 or tuple(i.type.shape) == tuple(out.type.shape)):
            return False
    return True


def _grow(root, count) -> list:
    """The chain under `root`: its nodes in an order where producers come first."""
    shape = tuple(root.outputs[0].type.shape)
    members, todo = [root], [root]
    while todo:
        node = todo.pop()
        for v in node.inputs:
            p = v.owner
            if (p is not None and count.get(id(v)) == 1 and p not in members and _fusible(p)
                    and tuple(v.type.shape) == shape):
                members.append(p)
                todo.append(p)
    return members


def _chain(members, root):
    """(Chain, external input variables) for the member nodes."""
    order = [n for n in toposort([root.outputs[0]]) if n in members]
    slots, inputs, scalars, steps = {}, [], [], []
    for node in order:
        for v in node.inputs:
            if id(v) in slots or v.owner in members or _literal(v) is not None:
                continue
            slots[id(v)] = len(inputs)
            inputs.append(v)
            scalars.append(_size(v.type.shape) == 1)
    for k, node in enumerate(order):
        args = tuple(slots[id(v)] if id(v) in slots else _literal(v) for v in node.inputs)
        steps.append(Step(node.op, args))
        slots[id(node.outputs[0])] = len(inputs) + k
    return Chain(root.outputs[0].dtype, tuple(scalars), tuple(steps)), inputs


def fuse_elementwise(outputs) -> list:
    """Replace every chain of two or more fusible elementwise nodes by one FusedElementwise."""
    if config.CODEGEN != "cpp":
        return outputs
    count = consumers(outputs)
    taken, mapping = set(), {}
    for node in reversed(toposort(outputs)):   # roots first: a chain grows from its output
        if node in taken or not _fusible(node):
            continue
        members = _grow(node, count)
        taken.update(members)
        if len(members) < 2:
            continue
        chain, inputs = _chain(members, node)
        if not inputs:   # all constants: folding's business
            continue
        out = node.outputs[0]
        with located(node.loc):
            mapping[out] = FusedElementwise(chain, tuple(out.type.shape))(*inputs)
    return replace(outputs, mapping) if mapping else outputs
