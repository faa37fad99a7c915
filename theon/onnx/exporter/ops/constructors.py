"""Tensors made from a shape: constants when the shape is known (theon's own kernel makes
the value, so it is exact), ConstantOfShape or Expand when dims come from the data."""
from __future__ import annotations

import numpy as np
import torch
from onnx import helper

from ....backend.interop import to_numpy
from ....ops import constructors as C
from ..graph import elem_type
from ..registry import rule
from .common import shape_of, shape_vector


def _value(ctx):
    """The node's value, computed by its own kernel (it reads no inputs)."""
    return to_numpy(ctx.op.kernel(device=torch.device("cpu")))


@rule(C.Arange, C.Eye)
def _made_from_nothing(ctx):
    return ctx.const(_value(ctx))


def _fill(ctx, shape: str, value, dtype: str) -> str:
    return ctx.emit("ConstantOfShape", [shape],
                    value=helper.make_tensor("value", elem_type(dtype), [1], [np.asarray(value, dtype).item()]))


@rule(C.Full)
def _full(ctx):
    op = ctx.op
    return _fill(ctx, shape_vector(ctx, op.template, 0), op.value, op.dtype)


@rule(C.FullLike)
def _full_like(ctx):
    return _fill(ctx, shape_of(ctx, ctx.x(0)), ctx.op.value, ctx.op.dtype)
