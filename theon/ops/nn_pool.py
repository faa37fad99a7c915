"""Pooling over 1, 2 or 3 spatial dims: max, average, adaptive average and adaptive max
(N, C, *spatial, or C, *spatial unbatched), torch semantics.

One op class per kind serves every rank: the rank is the length of its kernel_size (or
output_size), and the op's name says it (`max_pool1d`, `avg_pool3d`, ...). 1-D pools run
ATen's 2-D kernels on a unit height. Each gradient is a backward op calling ATen's backward
kernel. Average pooling is linear, so its backward op's gradient is the forward pool again.
Max pooling's gradient routes g to each window's argmax, with the indices the forward pass
found (the compiler runs a pool and its index-keeping twin once); that routing is linear in
g, and its adjoint (`MaxPoolSelect`, reading gg at each window's argmax) makes the second
derivative exact. Adaptive max pooling works the same way with adaptive windows.
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
from .nn_pool_strided import strided_max_pool, with_indices_channels_last
from .nn_util import check_rank, float_inputs, ntuple, window_out

aten = torch.ops.aten


def _layout(n: int) -> str:
    dims = "LHW"[3 - n:] if n < 3 else "DHW"
    return f"(N, C, {', '.join(dims)}) or (C, {', '.join(dims)})"


def _pooled_shape(op, x, n, dilation):
    check_rank(x, (n + 1, n + 2), op.name, _layout(n))
    xs = x.type.shape
    return xs[:-n] + tuple(
        window_out(xs[-n + i], op.kernel_size[i], op.stride[i], op.padding[i], dilation[i],
                   op.ceil_mode, what="pooling", x_shape=xs) for i in range(n))


def _check_pool_args(what, kernel_size, stride, padding, dilation):
    if min(kernel_size) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{what}: kernel_size, stride and dilation must be positive, got "
                         f"{kernel_size}, {stride} and {dilation}")
    if any(p < 0 or 2 * p > k for p, k in zip(padding, kernel_size)):
        raise ValueError(f"{what}: padding {padding} must be at most half the kernel size {kernel_size}")


def _as_2d(t, n):
    """A 1-D pool's tensor with a unit height, so ATen's 2-D kernels run it."""
    return t.unsqueeze(-2) if n == 1 else t


def _from_2d(t, n):
    return t.squeeze(-2) if n == 1 else t


def _lift(values, n, fill):
    """A 1-D pool's attribute tuple extended with the unit height's value."""
    return (fill,) + tuple(values) if n == 1 else tuple(values)


# ---- max pooling ------------------------------------------------------------------------

@dataclass(frozen=True)
class _MaxPoolAttrs(Op):
    kernel_size: tuple = (1, 1)
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    ceil_mode: bool = False
    dilation: tuple = (1, 1)
    # the compiler's choice of kernel (compile/passes/formulate.py): "" ATen's pool on the
    # tensor as it is, "strided" maxima of strided views (plain pool), "channels_last" ATen's
    # channels-last kernel on a converted copy (pool with indices)
    formulation: str = ""
    stem: ClassVar[str] = "max_pool"

    @property
    def rank(self) -> int:
        return len(self.kernel_size)

    @property
    def name(self) -> str:
        return f"{self.stem}{self.rank}d"

    def attrs(self) -> dict:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "ceil_mode": self.ceil_mode, "dilation": self.dilation}

    def _aten_args(self):
        n = self.rank
        return (_lift(self.kernel_size, n, 1), _lift(self.stride, n, 1), _lift(self.padding, n, 0),
                _lift(self.dilation, n, 1), self.ceil_mode)

    def with_indices(self, x):
        n = self.rank
        fn = aten.max_pool3d_with_indices if n == 3 else aten.max_pool2d_with_indices
        y, idx = fn(_as_2d(x, n), *self._aten_args())
        return _from_2d(y, n), _from_2d(idx, n)

    def backward(self, g, x_like, indices):
        n = self.rank
        fn = aten.max_pool3d_with_indices_backward if n == 3 else aten.max_pool2d_with_indices_backward
        return _from_2d(fn(_as_2d(g, n), _as_2d(x_like, n), *self._aten_args(), _as_2d(indices, n)), n)

    def select_op(self):
        return MaxPoolSelect(**self.attrs())

    def backward_op(self):
        return MaxPoolBackward(**self.attrs())


@dataclass(frozen=True)
class MaxPool(_MaxPoolAttrs):
    allocates: ClassVar[bool] = True

    def infer(self, x):
        return [TensorType(x.dtype, _pooled_shape(self, x, self.rank, self.dilation))]

    def kernel(self, x):
        pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[self.rank - 1]
        aten_pool = lambda: pool(x, self.kernel_size, self.stride, self.padding, self.dilation,  # noqa: E731
                                 self.ceil_mode)
        if self.formulation == "strided":
            return strided_max_pool(x, self.kernel_size, self.ceil_mode, aten_pool)
        return aten_pool()

    def superset(self):
        """The twin that also returns the argmax indices: a training graph holding both
        pools once (compile's merge_twins pass)."""
        return MaxPoolWithIndices(**self.attrs())

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        indices = self.superset()(x)[1]
        return [self.backward_op()(g, x, indices)]


@dataclass(frozen=True)
class MaxPoolWithIndices(_MaxPoolAttrs):
    """x -> (pooled values, int64 flat index of each window's argmax in its plane/volume)."""
    allocates: ClassVar[bool] = True
    nout: ClassVar[int] = 2
    stem: ClassVar[str] = "max_pool_with_indices"

    def infer(self, x):
        shape = _pooled_shape(self, x, self.rank, self.dilation)
        return [TensorType(x.dtype, shape), TensorType("int64", shape)]

    def kernel(self, x):
        if self.formulation == "channels_last":
            return with_indices_channels_last(x, lambda t: self.with_indices(t))
        return self.with_indices(x)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g, _) = inputs, output_grads
        return [self.backward_op()(g, x, outputs[1])]


@dataclass(frozen=True)
class MaxPoolBackward(_MaxPoolAttrs):
    """(g, x_like, indices) -> like x: each window's g added at the window's argmax."""
    stem: ClassVar[str] = "max_pool_backward"

    def infer(self, g, x_like, indices):
        return [x_like.type]

    def kernel(self, g, x_like, indices):
        return self.backward(g, x_like, indices)

    def grad(self, inputs, outputs, output_grads):
        (g, x_like, indices), (gg,) = inputs, output_grads
        # piecewise constant in x; linear in g with adjoint "read gg at each argmax"
        return [self.select_op()(gg, indices), None, None]


@dataclass(frozen=True)
class MaxPoolScatter(_MaxPoolAttrs):
    """(g, indices) -> (..., *size): each window's g at its argmax, zeros elsewhere. The max
    pool's gradient for non-overlapping windows (each position in at most one window)
    without the pooled input: the compiler's fused conv+ReLU+pool (codegen/conv_pool.py)
    never makes that input."""
    size: tuple = ()
    stem: ClassVar[str] = "max_pool_scatter"
    allocates: ClassVar[bool] = True

    def infer(self, g, indices):
        n = self.rank
        if len(self.size) != n or g.type.shape != indices.type.shape:
            raise ShapeError(f"{self.name}: g {format_shape(g.type.shape)} and indices "
                             f"{format_shape(indices.type.shape)} must match, with {n} output sizes "
                             f"(got {self.size})")
        return [TensorType(g.dtype, g.type.shape[:-n] + tuple(self.size))]

    def kernel(self, g, indices):
        n = self.rank
        out = g.new_zeros(g.shape[:-n] + tuple(self.size))
        out.flatten(-n).scatter_(-1, indices.flatten(-n), g.flatten(-n))
        return out

    def grad(self, inputs, outputs, output_grads):
        (g, indices), (gg,) = inputs, output_grads
        return [self.select_op()(gg, indices), None]


@dataclass(frozen=True)
class MaxPoolSelect(_MaxPoolAttrs):
    """(v, indices) -> pooled shape: v read at each window's argmax."""
    stem: ClassVar[str] = "max_pool_select"

    def infer(self, v, indices):
        return [TensorType(v.dtype, indices.type.shape)]

    def kernel(self, v, indices):
        n = self.rank
        return v.flatten(-n).gather(-1, indices.flatten(-n)).view(indices.shape)

    def grad(self, inputs, outputs, output_grads):
        (v, indices), (gg,) = inputs, output_grads
        return [self.backward_op()(gg, v, indices), None]


# the 2-D names the rest of theon and its tests know
MaxPool2d, MaxPool2dWithIndices, MaxPool2dBackward, MaxPool2dSelect = (
    MaxPool, MaxPoolWithIndices, MaxPoolBackward, MaxPoolSelect)


def _max_pool(n, x, kernel_size, stride, padding, dilation, ceil_mode):
    what = f"max_pool{n}d"
    (x,) = float_inputs(x, op=what)
    kernel_size = ntuple(kernel_size, n, f"{what} kernel_size")
    stride = kernel_size if stride is None or stride == () else ntuple(stride, n, f"{what} stride")
    padding = ntuple(padding, n, f"{what} padding")
    dilation = ntuple(dilation, n, f"{what} dilation")
    _check_pool_args(what, kernel_size, stride, padding, dilation)
    return MaxPool(kernel_size, stride, padding, bool(ceil_mode), dilation)(x)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max over kernel_size windows of x (N, C, L) or (C, L); stride defaults to the kernel."""
    return _max_pool(1, x, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max over kernel_size windows of x (N, C, H, W) or (C, H, W); stride defaults to the kernel."""
    return _max_pool(2, x, kernel_size, stride, padding, dilation, ceil_mode)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max over kernel_size windows of x (N, C, D, H, W) or (C, D, H, W)."""
    return _max_pool(3, x, kernel_size, stride, padding, dilation, ceil_mode)


# ---- average pooling --------------------------------------------------------------------

@dataclass(frozen=True)
class _AvgPoolAttrs(Op):
    kernel_size: tuple = (1, 1)
    stride: tuple = (1, 1)
    padding: tuple = (0, 0)
    ceil_mode: bool = False
    count_include_pad: bool = True
    divisor_override: int | None = None
    stem: ClassVar[str] = "avg_pool"

    @property
    def rank(self) -> int:
        return len(self.kernel_size)

    @property
    def name(self) -> str:
        return f"{self.stem}{self.rank}d"

    def attrs(self) -> dict:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "ceil_mode": self.ceil_mode, "count_include_pad": self.count_include_pad,
                "divisor_override": self.divisor_override}

    def _aten_args(self):
        n = self.rank
        return (_lift(self.kernel_size, n, 1), _lift(self.stride, n, 1), _lift(self.padding, n, 0),
                self.ceil_mode, self.count_include_pad, self.divisor_override)


@dataclass(frozen=True)
class AvgPool(_AvgPoolAttrs):
    allocates: ClassVar[bool] = True

    def infer(self, x):
        return [TensorType(x.dtype, _pooled_shape(self, x, self.rank, (1,) * self.rank))]

    def kernel(self, x):
        n = self.rank
        fn = F.avg_pool3d if n == 3 else F.avg_pool2d
        return _from_2d(fn(_as_2d(x, n), *self._aten_args()), n)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [AvgPoolBackward(**self.attrs())(g, x)]


@dataclass(frozen=True)
class AvgPoolBackward(_AvgPoolAttrs):
    """(g, x_like) -> like x: the adjoint of average pooling (x gives only its shape)."""
    stem: ClassVar[str] = "avg_pool_backward"

    def infer(self, g, x_like):
        return [x_like.type]

    def kernel(self, g, x_like):
        n = self.rank
        fn = aten.avg_pool3d_backward if n == 3 else aten.avg_pool2d_backward
        return _from_2d(fn(_as_2d(g, n), _as_2d(x_like, n), *self._aten_args()), n)

    def grad(self, inputs, outputs, output_grads):
        (g, x_like), (gg,) = inputs, output_grads
        return [AvgPool(**self.attrs())(gg), None]


AvgPool2d, AvgPool2dBackward = AvgPool, AvgPoolBackward


def _avg_pool(n, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    what = f"avg_pool{n}d"
    (x,) = float_inputs(x, op=what)
    kernel_size = ntuple(kernel_size, n, f"{what} kernel_size")
    stride = kernel_size if stride is None or stride == () else ntuple(stride, n, f"{what} stride")
    padding = ntuple(padding, n, f"{what} padding")
    _check_pool_args(what, kernel_size, stride, padding, (1,) * n)
    if divisor_override is not None and int(divisor_override) <= 0:
        raise ValueError(f"{what}: divisor_override must be positive, got {divisor_override}")
    return AvgPool(kernel_size, stride, padding, bool(ceil_mode), bool(count_include_pad),
                   None if divisor_override is None else int(divisor_override))(x)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over kernel_size windows of x (N, C, L) or (C, L), torch semantics."""
    return _avg_pool(1, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over kernel_size windows of x (N, C, H, W) or (C, H, W), torch semantics."""
    return _avg_pool(2, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over kernel_size windows of x (N, C, D, H, W) or (C, D, H, W), torch semantics."""
    return _avg_pool(3, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


# ---- adaptive pooling -------------------------------------------------------------------

@dataclass(frozen=True)
class _AdaptiveAttrs(Op):
    output_size: tuple = (1, 1)  # entries may be None: keep that input dim
    stem: ClassVar[str] = "adaptive_avg_pool"

    @property
    def rank(self) -> int:
        return len(self.output_size)

    @property
    def name(self) -> str:
        return f"{self.stem}{self.rank}d"

    def out_shape(self, x):
        n = self.rank
        check_rank(x, (n + 1, n + 2), self.name, _layout(n))
        xs = x.type.shape
        if 0 in xs[-n:]:
            raise ShapeError(f"{self.name}: input {format_shape(xs)} has an empty spatial dimension")
        return xs[:-n] + tuple(xs[-n + i] if o is None else o for i, o in enumerate(self.output_size))

    def sizes(self, x):
        """The output size with None entries resolved from x (and a unit height for 1-D)."""
        n = self.rank
        size = tuple(x.shape[-n + i] if o is None else o for i, o in enumerate(self.output_size))
        return _lift(size, n, 1)


@dataclass(frozen=True)
class AdaptiveAvgPool(_AdaptiveAttrs):
    def infer(self, x):
        return [TensorType(x.dtype, self.out_shape(x))]

    def kernel(self, x):
        n = self.rank
        fn = F.adaptive_avg_pool3d if n == 3 else F.adaptive_avg_pool2d
        return _from_2d(fn(_as_2d(x, n), self.sizes(x)), n)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [AdaptiveAvgPoolBackward(self.output_size)(g, x)]


@dataclass(frozen=True)
class AdaptiveAvgPoolBackward(_AdaptiveAttrs):
    """(g, x_like) -> like x: the adjoint of adaptive average pooling."""
    stem: ClassVar[str] = "adaptive_avg_pool_backward"

    def infer(self, g, x_like):
        return [x_like.type]

    def kernel(self, g, x_like):
        n = self.rank
        fn = aten._adaptive_avg_pool3d_backward if n == 3 else aten._adaptive_avg_pool2d_backward
        return _from_2d(fn(_as_2d(g, n).contiguous(), _as_2d(x_like, n)), n)

    def grad(self, inputs, outputs, output_grads):
        (g, x_like), (gg,) = inputs, output_grads
        return [AdaptiveAvgPool(self.output_size)(gg), None]


AdaptiveAvgPool2d, AdaptiveAvgPool2dBackward = AdaptiveAvgPool, AdaptiveAvgPoolBackward


@dataclass(frozen=True)
class _AdaptiveMaxAttrs(_AdaptiveAttrs):
    stem: ClassVar[str] = "adaptive_max_pool"

    def with_indices(self, x):
        n = self.rank
        fn = aten.adaptive_max_pool3d if n == 3 else aten.adaptive_max_pool2d
        y, idx = fn(_as_2d(x, n), self.sizes(x))
        return _from_2d(y, n), _from_2d(idx, n)


@dataclass(frozen=True)
class AdaptiveMaxPool(_AdaptiveMaxAttrs):
    allocates: ClassVar[bool] = True

    def infer(self, x):
        return [TensorType(x.dtype, self.out_shape(x))]

    def kernel(self, x):
        return self.with_indices(x)[0]

    def superset(self):
        return AdaptiveMaxPoolWithIndices(self.output_size)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        indices = self.superset()(x)[1]
        return [AdaptiveMaxPoolBackward(self.output_size)(g, x, indices)]


@dataclass(frozen=True)
class AdaptiveMaxPoolWithIndices(_AdaptiveMaxAttrs):
    allocates: ClassVar[bool] = True
    nout: ClassVar[int] = 2
    stem: ClassVar[str] = "adaptive_max_pool_with_indices"

    def infer(self, x):
        shape = self.out_shape(x)
        return [TensorType(x.dtype, shape), TensorType("int64", shape)]

    def kernel(self, x):
        return self.with_indices(x)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g, _) = inputs, output_grads
        return [AdaptiveMaxPoolBackward(self.output_size)(g, x, outputs[1])]


@dataclass(frozen=True)
class AdaptiveMaxPoolBackward(_AdaptiveMaxAttrs):
    """(g, x_like, indices) -> like x: each window's g added at its argmax."""
    stem: ClassVar[str] = "adaptive_max_pool_backward"

    def infer(self, g, x_like, indices):
        return [x_like.type]

    def kernel(self, g, x_like, indices):
        n = self.rank
        fn = aten.adaptive_max_pool3d_backward if n == 3 else aten.adaptive_max_pool2d_backward
        return _from_2d(fn(_as_2d(g, n), _as_2d(x_like, n), _as_2d(indices, n)), n)

    def grad(self, inputs, outputs, output_grads):
        (g, x_like, indices), (gg,) = inputs, output_grads
        return [AdaptiveMaxPoolSelect(self.output_size)(gg, indices), None, None]


@dataclass(frozen=True)
class AdaptiveMaxPoolSelect(_AdaptiveMaxAttrs):
    """(v, indices) -> pooled shape: v read at each window's argmax (the backward's adjoint)."""
    stem: ClassVar[str] = "adaptive_max_pool_select"

    def infer(self, v, indices):
        return [TensorType(v.dtype, indices.type.shape)]

    def kernel(self, v, indices):
        n = self.rank
        return v.flatten(-n).gather(-1, indices.flatten(-n)).view(indices.shape)

    def grad(self, inputs, outputs, output_grads):
        (v, indices), (gg,) = inputs, output_grads
        return [AdaptiveMaxPoolBackward(self.output_size)(gg, v, indices), None]


def _adaptive(cls, n, x, output_size):
    what = f"{cls.stem}{n}d"
    (x,) = float_inputs(x, op=what)
    if output_size is None or isinstance(output_size, int):
        output_size = (output_size,) * n
    output_size = tuple(None if o is None else int(o) for o in output_size)
    if len(output_size) != n or any(o is not None and o < 1 for o in output_size):
        raise ValueError(f"{what}: output_size must be a positive int or {n} of them, got {output_size}")
    return cls(output_size)(x)


def adaptive_avg_pool1d(x, output_size):
    """Average pooling of x (N, C, L) or (C, L) to output_size windows."""
    return _adaptive(AdaptiveAvgPool, 1, x, output_size)


def adaptive_avg_pool2d(x, output_size):
    """Average pooling of x (N, C, H, W) or (C, H, W) to output_size (int, or pair whose
    entries may be None to keep that input size)."""
    return _adaptive(AdaptiveAvgPool, 2, x, output_size)


def adaptive_avg_pool3d(x, output_size):
    """Average pooling of x (N, C, D, H, W) or (C, D, H, W) to output_size."""
    return _adaptive(AdaptiveAvgPool, 3, x, output_size)


def adaptive_max_pool1d(x, output_size):
    """Max pooling of x (N, C, L) or (C, L) to output_size windows."""
    return _adaptive(AdaptiveMaxPool, 1, x, output_size)


def adaptive_max_pool2d(x, output_size):
    """Max pooling of x (N, C, H, W) or (C, H, W) to output_size windows."""
    return _adaptive(AdaptiveMaxPool, 2, x, output_size)


def adaptive_max_pool3d(x, output_size):
    """Max pooling of x (N, C, D, H, W) or (C, D, H, W) to output_size windows."""
    return _adaptive(AdaptiveMaxPool, 3, x, output_size)


__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d"]
