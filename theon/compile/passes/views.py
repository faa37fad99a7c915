"""Shape bookkeeping that cancels out, removed once the shapes are concrete. Each rule
gives the very same values (a view of the input, or the input itself), one op less.

Where they come from: an imported ONNX LSTM over a one-frame chunk, its scan inlined
(inline.py), indexes the unit axes it just added (state[0] of expand_dims(h)) and stacks
one step to squeeze it again; an ONNX ReduceMean over a size-1 axis is a copy; an `If`
branch's checks are decided once its shapes are known. silero-vad's streaming step had
about fifteen such calls (each a few microseconds of dispatch at these sizes).

- getitem(expand_dims(x, a), [0 at a, full slices elsewhere]) -> x
- getitem(x, full slices only) -> x   (every slice spans its whole, known axis)
- stack([x], a) -> expand_dims(x, a)   (a view instead of a copy)
- concatenate([expand_dims(x, a), expand_dims(y, a), ...], a) -> stack([x, y, ...], a)
- squeeze(expand_dims(x, A), A) -> x;  expand_dims(squeeze(x, A), A) -> x
- max over size-1 axes -> squeeze (or x with keepdims); sum / mean over them -> that plus
  +0.0 for floats (a sum of a lone -0.0 is +0.0): one element is the result, exactly, and
  an add is a kernel the program runs anyway, where the reduction's is cold code
- check(x, True) -> x;  check_dim(x) whose axis already has that size -> x
"""
from __future__ import annotations

import numpy as np

from ...graph import Constant, is_float
from ...ops import elementwise as ew
from ...ops.assertion import Check, CheckDim
from ...ops.index import FULL, Subtensor
from ...ops.reduce import Max, Mean, Sum
from ...ops.shape import Concatenate, ExpandDims, Squeeze, Stack
from ...rewrite import rule

VIEWS: list = []


def _made_by(v, op_class):
    return v.owner is not None and isinstance(v.owner.op, op_class)


def _whole_axis(entry, size) -> bool:
    """Whether a slice entry keeps all of an axis of known size, in order."""
    if entry[0] != "slice":
        return False
    _, start, stop, step = entry
    return (size is not None and start in (None, 0) and step in (None, 1)
            and (stop is None or stop >= size))


@rule(Subtensor, name="index_of_expand_dims", registry=VIEWS)
def index_of_expand_dims(node):
    x = node.inputs[0]
    if len(node.inputs) != 1 or not _made_by(x, ExpandDims) or len(x.owner.op.axes) != 1:
        return None
    (axis,) = x.owner.op.axes
    entries = node.op.entries
    if len(entries) <= axis or entries[axis] not in (("int", 0), ("int", -1)):
        return None
    if any(e != FULL for i, e in enumerate(entries) if i != axis):
        return None
    return [x.owner.inputs[0]]


@rule(Subtensor, name="whole_slices", registry=VIEWS)
def whole_slices(node):
    x = node.inputs[0]
    entries = node.op.entries
    if len(node.inputs) != 1 or not entries or len(entries) > x.ndim:
        return None
    if not all(_whole_axis(e, x.type.shape[i]) for i, e in enumerate(entries)):
        return None
    return [x]


@rule(Stack, name="stack_of_one", registry=VIEWS)
def stack_of_one(node):
    if len(node.inputs) != 1:
        return None
    return [ExpandDims((node.op.axis,))(node.inputs[0])]


@rule(Concatenate, name="concatenate_of_expand_dims", registry=VIEWS)
def concatenate_of_expand_dims(node):
    axis = node.op.axis
    if len(node.inputs) < 2 or not all(_made_by(v, ExpandDims) and tuple(v.owner.op.axes) == (axis,)
                                       for v in node.inputs):
        return None
    return [Stack(axis)(*(v.owner.inputs[0] for v in node.inputs))]


@rule(Squeeze, name="squeeze_of_expand_dims", registry=VIEWS)
def squeeze_of_expand_dims(node):
    x = node.inputs[0]
    if _made_by(x, ExpandDims) and tuple(x.owner.op.axes) == tuple(node.op.axes or ()) and node.op.axes:
        return [x.owner.inputs[0]]
    return None


@rule(ExpandDims, name="expand_dims_of_squeeze", registry=VIEWS)
def expand_dims_of_squeeze(node):
    x = node.inputs[0]
    if _made_by(x, Squeeze) and x.owner.op.axes and tuple(x.owner.op.axes) == tuple(node.op.axes):
        inner = x.owner.inputs[0]
        if inner.type.shape == node.outputs[0].type.shape:  # the squeezed axes were known 1s
            return [inner]
    return None


@rule(Sum, Mean, Max, name="reduction_of_unit_axes", registry=VIEWS)
def reduction_of_unit_axes(node):
    op, x = node.op, node.inputs[0]
    if type(op) not in (Sum, Mean, Max) or not op.axes or node.outputs[0].dtype != x.dtype:
        return None
    if any(x.type.shape[a] != 1 for a in op.axes):
        return None
    if is_float(x.dtype) and not isinstance(op, Max):
        if x.dtype not in ("float16", "float32", "float64"):
            return None
        # a sum starts from +0.0, so the sum (and mean) of a lone -0.0 is +0.0: adding +0.0
        # does the same, and leaves every other value (NaN, infinities) as it is; added
        # before the squeeze, so an expand_dims after it still cancels that squeeze
        x = ew.add(x, np.asarray(0.0, x.dtype))
    return [x if op.keepdims else Squeeze(tuple(op.axes))(x)]


@rule(Check, name="check_of_true", registry=VIEWS)
def check_of_true(node):
    ok = node.inputs[1]
    if isinstance(ok, Constant) and bool(ok.value):
        return [node.inputs[0]]
    return None


@rule(CheckDim, name="check_dim_known", registry=VIEWS)
def check_dim_known(node):
    x = node.inputs[0]
    if x.type.shape[node.op.axis] == node.op.size:
        return [x]
    return None
