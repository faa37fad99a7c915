"""Shapes whose dims may be symbolic: a shape argument mixes ints and scalar int64 variables
(`x.shape[0]`), kept as a static template plus the dynamic dims as op inputs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..errors import AxisError, ShapeError
from ..graph import Constant, TensorType, Variable
from .base import Op, as_variable


def split_shape(shape) -> tuple:
    """(template, dynamic): template holds ints, with None where a symbolic dim goes."""
    if isinstance(shape, (int, np.integer, Variable)):
        shape = (shape,)
    template, dynamic = [], []
    for d in shape:
        if isinstance(d, Variable):
            if d.ndim != 0 or not (d.dtype.startswith("int") or d.dtype == "uint8"):
                raise ShapeError(f"a symbolic dimension must be an integer scalar, got {d.type}")
            if isinstance(d, Constant):
                template.append(int(d.value))
                continue
            template.append(None)
            dynamic.append(d)
        else:
            d = int(d)
            if d < 0:
                raise ShapeError(f"negative dimension {d} in shape {tuple(shape)}")
            template.append(d)
    return tuple(template), dynamic


def resolve_shape(template, dims) -> tuple:
    """The static shape known from a template and its (possibly constant) dim inputs."""
    it = iter(dims)
    out = []
    for t in template:
        if t is not None:
            out.append(t)
        else:
            d = next(it)
            out.append(int(d.value) if isinstance(d, Constant) else None)
    return tuple(out)


def runtime_shape(template, dims) -> tuple:
    it = iter(dims)
    return tuple(t if t is not None else int(next(it)) for t in template)


@dataclass(frozen=True)
class ShapeOf(Op):
    """`x.shape[axis]` as an int64 scalar (a constant once the shape is known)."""
    axis: int = 0
    name: ClassVar[str] = "shape_of"
    differentiable: ClassVar[bool] = False

    def infer(self, x):
        if not 0 <= self.axis < x.ndim:
            raise AxisError(f"axis {self.axis} out of range for rank {x.ndim}")
        return [TensorType("int64", ())]

    def kernel(self, x):
        return torch.tensor(x.shape[self.axis], dtype=torch.int64)

    def grad(self, inputs, outputs, output_grads):
        return [None]


def dim(x, axis: int):
    """The size of `x` along `axis`: an int if known when building, else a symbolic scalar."""
    x = as_variable(x)
    axis = axis + x.ndim if axis < 0 else axis
    d = x.type.shape[axis] if 0 <= axis < x.ndim else None
    return d if d is not None else ShapeOf(axis)(x)


def shape_tuple(x) -> tuple:
    """`x.shape`: ints where known, symbolic scalars where not."""
    return tuple(dim(x, i) for i in range(x.ndim))
