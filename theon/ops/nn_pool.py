"""Pooling ops: max_pool2d, avg_pool2d, adaptive_avg_pool2d (NCHW, or CHW unbatched).

Each gradient is a backward op calling ATen's backward kernel. Average pooling is linear,
so its backward op's gradient is the forward pool again. Max pooling's gradient routes g to
each window's argmax, with the indices the forward pass found (the compiler runs a pool and
its index-keeping twin once); that routing is linear in g, and its adjoint
(`MaxPool2dSelect`, reading gg at the argmax of each window) makes the second derivative
exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..errors import ShapeError
from ..graph import TensorType
from ..graph.types import format_shape
from .base import Op
from .nn_util import check_rank, float_inputs, ntuple, window_out


def _pooled_shape(op, x, dilation=(1, 1)):
    check_rank(x, (3, 4), op.name, "(N, C, H, W) or (C, H, W)")
    xs = x.type.shape
    return xs[:-2] + tuple(
        window_out(xs[-2 + i], op.kernel_size[i], op.stride[i], op.padding[i], dilation[i],
                   op.ceil_mode, what="pooling", x_shape=xs) for i in range(2))


def _check_pool_args(what, kernel_size, stride, padding, dilation=(1, 1)):
    if min(kernel_size) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{what}: kernel_size, stride and dilation must be positive, got "
                         f"{kernel_size}, {stride} and {dilation}")
    if any(p < 0 or 2 * p > k for p, k in zip(padding, kernel_size)):
        raise ValueError(f"{what}: padding {padding} must be at most half the kernel size {kernel_size}")


# ---- max pooling ------------------------------------------------------------------------

@dataclass(frozen=True)
class _MaxPoolAttrs(Op):
    kernel_size: tuple = (1, 1)
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    ceil_mode: bool = False
    dilation: tuple = (1, 1)

    def attrs(self) -> dict:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "ceil_mode": self.ceil_mode, "dilation": self.dilation}


@dataclass(frozen=True)
class MaxPool2d(_MaxPoolAttrs):
    allocates: ClassVar[bool] = True
    name: ClassVar[str] = "max_pool2d"

    def infer(self, x):
        return [TensorType(x.dtype, _pooled_shape(self, x, self.dilation))]

    def kernel(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def superset(self):
        """The twin that also returns the argmax indices: a training graph holding both
        pools once (compile's merge_twins pass)."""
        return MaxPool2dWithIndices(**self.attrs())

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        indices = MaxPool2dWithIndices(**self.attrs())(x)[1]
        return [MaxPool2dBackward(**self.attrs())(g, x, indices)]


@dataclass(frozen=True)
class MaxPool2dWithIndices(_MaxPoolAttrs):
    """x -> (pooled values, int64 flat index of each window's argmax in its plane)."""
    allocates: ClassVar[bool] = True
    name: ClassVar[str] = "max_pool2d_with_indices"
    nout: ClassVar[int] = 2

    def infer(self, x):
        shape = _pooled_shape(self, x, self.dilation)
        return [TensorType(x.dtype, shape), TensorType("int64", shape)]

    def kernel(self, x):
        return tuple(torch.ops.aten.max_pool2d_with_indices(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode))

    def grad(self, inputs, outputs, output_grads):
        (x,), (g, _) = inputs, output_grads
        return [MaxPool2dBackward(**self.attrs())(g, x, outputs[1])]


@dataclass(frozen=True)
class MaxPool2dBackward(_MaxPoolAttrs):
    """(g, x_like, indices) -> like x: each window's g added at the window's argmax."""
    name: ClassVar[str] = "max_pool2d_backward"

    def infer(self, g, x_like, indices):
        return [x_like.type]

    def kernel(self, g, x_like, indices):
        return torch.ops.aten.max_pool2d_with_indices_backward(
            g, x_like, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
            indices)

    def grad(self, inputs, outputs, output_grads):
        (g, x_like, indices), (gg,) = inputs, output_grads
        # piecewise constant in x; linear in g with adjoint "read gg at each argmax"
        return [MaxPool2dSelect(**self.attrs())(gg, indices), None, None]


@dataclass(frozen=True)
class MaxPool2dSelect(_MaxPoolAttrs):
    """(v, indices) -> pooled shape: v read at each window's argmax."""
    name: ClassVar[str] = "max_pool2d_select"

    def infer(self, v, indices):
        return [TensorType(v.dtype, indices.type.shape)]

    def kernel(self, v, indices):
        return v.flatten(-2).gather(-1, indices.flatten(-2)).view(indices.shape)

    def grad(self, inputs, outputs, output_grads):
        (v, indices), (gg,) = inputs, output_grads
        return [MaxPool2dBackward(**self.attrs())(gg, v, indices), None]


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max over kernel_size windows of x (N, C, H, W) or (C, H, W); stride defaults to the kernel."""
    (x,) = float_inputs(x, op="max_pool2d")
    kernel_size = ntuple(kernel_size, 2, "max_pool2d kernel_size")
    stride = kernel_size if stride is None or stride == () else ntuple(stride, 2, "max_pool2d stride")
    padding = ntuple(padding, 2, "max_pool2d padding")
    dilation = ntuple(dilation, 2, "max_pool2d dilation")
    _check_pool_args("max_pool2d", kernel_size, stride, padding, dilation)
    return MaxPool2d(kernel_size, stride, padding, bool(ceil_mode), dilation)(x)


# ---- average pooling --------------------------------------------------------------------

@dataclass(frozen=True)
class _AvgPoolAttrs(Op):
    kernel_size: tuple = (1, 1)
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: int | None = None

    def attrs(self) -> dict:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "ceil_mode": self.ceil_mode, "count_include_pad": self.count_include_pad,
                "divisor_override": self.divisor_override}


@dataclass(frozen=True)
class AvgPool2d(_AvgPoolAttrs):
    allocates: ClassVar[bool] = True
    name: ClassVar[str] = "avg_pool2d"

    def infer(self, x):
        return [TensorType(x.dtype, _pooled_shape(self, x))]

    def kernel(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [AvgPool2dBackward(**self.attrs())(g, x)]


@dataclass(frozen=True)
class AvgPool2dBackward(_AvgPoolAttrs):
    """(g, x_like) -> like x: the adjoint of average pooling (x gives only its shape)."""
    name: ClassVar[str] = "avg_pool2d_backward"

    def infer(self, g, x_like):
        return [x_like.type]

    def kernel(self, g, x_like):
        return torch.ops.aten.avg_pool2d_backward(
            g, x_like, self.kernel_size, self.stride, self.padding, self.ceil_mode,
            self.count_include_pad, self.divisor_override)

    def grad(self, inputs, outputs, output_grads):
        (g, x_like), (gg,) = inputs, output_grads
        return [AvgPool2d(**self.attrs())(gg), None]


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over kernel_size windows of x (N, C, H, W) or (C, H, W), torch semantics."""
    (x,) = float_inputs(x, op="avg_pool2d")
    kernel_size = ntuple(kernel_size, 2, "avg_pool2d kernel_size")
    stride = kernel_size if stride is None or stride == () else ntuple(stride, 2, "avg_pool2d stride")
    padding = ntuple(padding, 2, "avg_pool2d padding")
    _check_pool_args("avg_pool2d", kernel_size, stride, padding)
    if divisor_override is not None and int(divisor_override) <= 0:
        raise ValueError(f"avg_pool2d: divisor_override must be positive, got {divisor_override}")
    return AvgPool2d(kernel_size, stride, padding, bool(ceil_mode), bool(count_include_pad),
                     None if divisor_override is None else int(divisor_override))(x)


# ---- adaptive average pooling -----------------------------------------------------------

@dataclass(frozen=True)
class _AdaptiveAttrs(Op):
    output_size: tuple = (1, 1)  # entries may be None: keep that input dim


@dataclass(frozen=True)
class AdaptiveAvgPool2d(_AdaptiveAttrs):
    name: ClassVar[str] = "adaptive_avg_pool2d"

    def infer(self, x):
        check_rank(x, (3, 4), self.name, "(N, C, H, W) or (C, H, W)")
        xs = x.type.shape
        spatial = tuple(xs[-2 + i] if o is None else o for i, o in enumerate(self.output_size))
        if 0 in xs[-2:]:
            raise ShapeError(f"adaptive_avg_pool2d: input {format_shape(xs)} has an empty "
                             f"spatial dimension")
        return [TensorType(x.dtype, xs[:-2] + spatial)]

    def kernel(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [AdaptiveAvgPool2dBackward(self.output_size)(g, x)]


@dataclass(frozen=True)
class AdaptiveAvgPool2dBackward(_AdaptiveAttrs):
    """(g, x_like) -> like x: the adjoint of adaptive average pooling."""
    name: ClassVar[str] = "adaptive_avg_pool2d_backward"

    def infer(self, g, x_like):
        return [x_like.type]

    def kernel(self, g, x_like):
        return torch.ops.aten._adaptive_avg_pool2d_backward(g.contiguous(), x_like)

    def grad(self, inputs, outputs, output_grads):
        (g, x_like), (gg,) = inputs, output_grads
        return [AdaptiveAvgPool2d(self.output_size)(gg), None]


def adaptive_avg_pool2d(x, output_size):
    """Average pooling of x (N, C, H, W) or (C, H, W) to output_size (int, or pair whose
    entries may be None to keep that input size)."""
    (x,) = float_inputs(x, op="adaptive_avg_pool2d")
    if output_size is None or isinstance(output_size, int):
        output_size = (output_size, output_size)
    output_size = tuple(None if o is None else int(o) for o in output_size)
    if len(output_size) != 2 or any(o is not None and o < 1 for o in output_size):
        raise ValueError(f"adaptive_avg_pool2d: output_size must be a positive int or pair, got {output_size}")
    return AdaptiveAvgPool2d(output_size)(x)


__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]
