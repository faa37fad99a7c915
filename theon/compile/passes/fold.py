"""Constant folding: evaluate nodes whose inputs are all known when compiling."""
from __future__ import annotations

import numpy as np
import torch

from ...backend.interop import to_numpy
from ...graph import Constant, constant
from ...ops.broadcast import BroadcastLike, SumToLike
from ...ops.constructors import Full, FullLike
from ...ops.dims import ShapeOf
from ...ops.shape import Reshape
from ...rewrite import rule

FOLD: list = []
_MAX_FOLD_ELEMENTS = 1 << 16


@rule(name="fold_constants", registry=FOLD)
def fold_constants(node):
    """Run the node's own kernel on its constant inputs, exactly as the program would. The
    result is taken as the kernel gives it, never cast: a kernel that disagrees with its
    op's declared type, or fails, is left for the program (whose run-time error names the
    op and the user's line), so folding can never change a value."""
    op = node.op
    # ops with no inputs (zeros, eye, arange of constants) fold too; loops never do
    if op.impure or op.bodies() or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    if any(o.type.is_concrete and np.prod(o.type.shape) > _MAX_FOLD_ELEMENTS for o in node.outputs):
        return None
    args = [torch.from_numpy(np.array(i.value)) for i in node.inputs]
    kwargs = {"device": torch.device("cpu")} if op.needs_device else {}
    try:
        result = op.kernel(*args, **kwargs)
    except Exception:  # noqa: BLE001 - the same failure happens, with context, at run time
        return None
    results = result if op.nout > 1 else (result,)
    folded = [constant(to_numpy(r.contiguous())) for r in results]
    if any(f.dtype != o.dtype or not o.type.accepts(f.dtype, f.type.shape)
           for f, o in zip(folded, node.outputs)):
        return None
    return folded


@rule(ShapeOf, name="fold_known_dim", registry=FOLD)
def fold_known_dim(node):
    d = node.inputs[0].type.shape[node.op.axis]
    return None if d is None else [constant(np.int64(d))]


@rule(FullLike, name="full_like_of_known_shape", registry=FOLD)
def full_like_of_known_shape(node):
    x = node.inputs[0]
    if not x.type.is_concrete:
        return None
    return [Full(node.op.value, node.op.dtype, x.type.shape)()]


@rule(SumToLike, BroadcastLike, name="broadcast_to_same_shape", registry=FOLD)
def broadcast_to_same_shape(node):
    x, like = node.inputs
    if x.type.is_concrete and x.type.shape == like.type.shape:
        return [x]
    return None


@rule(Reshape, name="reshape_of_known_dims", registry=FOLD)
def reshape_of_known_dims(node):
    """A reshape whose dim inputs are constants (an imported model's batch dim, folded by
    specialisation) takes its shape as ints, and one to x's own shape is x: at batch 1 the
    program otherwise turns a dim tensor into an int and calls reshape, some microseconds,
    for each of an ONNX classifier's Flatten/Reshape nodes."""
    x, dims, out = node.inputs[0], node.inputs[1:], node.outputs[0]
    if not out.type.is_concrete or not all(isinstance(d, Constant) for d in dims):
        return None
    if x.type.shape == out.type.shape:
        return [x]
    return [Reshape(tuple(out.type.shape))(x)] if dims else None
