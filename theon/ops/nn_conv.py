"""Dense and convolutional layers' ops: linear, conv{1,2,3}d, conv_transpose{1,2,3}d.

One `Conv` op covers every convolution (ATen's `convolution` with a `transposed` flag).
Its gradients are two backward ops calling `aten.convolution_backward`; a convolution is
bilinear in (input, weight), so each backward op's own gradient is again a forward or
backward convolution with the same attributes, and second derivatives need nothing more.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..errors import DTypeError, ShapeError
from ..graph import TensorType
from ..graph.types import format_shape
from .base import Op
from .linalg import matmul
from .nn_conv_formulations import channels_last_input, pointwise_matmul, runs_here
from .nn_util import float_inputs, ntuple, window_out
from .reduce import sum as _sum
from .shape import reshape


def _same_dtype(op: str, *inputs) -> str:
    dtypes = {v.dtype for v in inputs}
    if len(dtypes) > 1:
        raise DTypeError(f"{op} inputs must share one dtype, got {', '.join(v.dtype for v in inputs)}")
    return inputs[0].dtype


# ---- linear -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Linear(Op):
    """y = x @ w.T + b with w shaped (out, in), as torch.nn.functional.linear."""
    allocates: ClassVar[bool] = True
    name: ClassVar[str] = "linear"

    def infer(self, x, w, b=None):
        dtype = _same_dtype("linear", *(v for v in (x, w, b) if v is not None))
        if x.ndim < 1 or w.ndim != 2:
            raise ShapeError(f"linear expects input (..., in) and weight (out, in), got input "
                             f"{format_shape(x.type.shape)} and weight {format_shape(w.type.shape)}")
        n_in, (n_out, w_in) = x.type.shape[-1], w.type.shape
        if n_in is not None and w_in is not None and n_in != w_in:
            raise ShapeError(f"input {format_shape(x.type.shape)} has {n_in} features but weight "
                             f"{format_shape(w.type.shape)} expects {w_in}")
        if b is not None:
            if b.ndim != 1 or (b.type.shape[0] is not None and n_out is not None and b.type.shape[0] != n_out):
                raise ShapeError(f"bias {format_shape(b.type.shape)} does not match weight "
                                 f"{format_shape(w.type.shape)} (expected ({n_out},))")
            n_out = n_out if n_out is not None else b.type.shape[0]
        return [TensorType(dtype, x.type.shape[:-1] + (n_out,))]

    def kernel(self, x, w, b=None):
        if x.ndim > 2 and not x.is_contiguous():
            # a strided batch (an RNN's batch-first view of its time-major output) would
            # make ATen multiply batch by batch against an expanded weight (bmm, 2-3x
            # slower): one addmm over the rows of a contiguous copy instead
            x = x.contiguous()
        return F.linear(x, w, b)

    def grad(self, inputs, outputs, output_grads):
        x, w = inputs[0], inputs[1]
        (g,) = output_grads
        gx = matmul(g, w)
        g2 = reshape(g, (-1, g.shape[-1]))
        x2 = reshape(x, (-1, x.shape[-1]))
        gw = matmul(g2.T, x2)
        grads = [gx, gw]
        if len(inputs) == 3:
            grads.append(_sum(g, axis=tuple(range(g.ndim - 1))) if g.ndim > 1 else g)
        return grads


def linear(x, w, b=None):
    """x @ w.T + b, with w shaped (out_features, in_features) as in torch."""
    x, w, b = float_inputs(x, w, b, op="linear")
    return Linear()(x, w) if b is None else Linear()(x, w, b)


# ---- convolution ------------------------------------------------------------------------

@dataclass(frozen=True)
class ConvAttrs(Op):
    stride: tuple = (1, 1)
    padding: tuple | str = (0, 0)  # or "same" (stride 1), resolved from the kernel size
    dilation: tuple = (1, 1)
    groups: int = 1
    transposed: bool = False
    output_padding: tuple = (0, 0)

    def attrs(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(ConvAttrs)}

    def aten_args(self, padding) -> tuple:
        return (list(self.stride), padding, list(self.dilation), self.transposed,
                list(self.output_padding), self.groups)

    def run_padding(self, w_shape):
        """(symmetric padding, F.pad list for the extra right padding or None) at run time.

        padding='same' with an even window span pads one more on the right, as torch does;
        ATen's convolution pads symmetrically, so that extra column is padded explicitly.
        """
        if self.padding != "same":
            return list(self.padding), None
        sym, extra = [], []
        for k, d in zip(w_shape[2:], self.dilation):
            total = d * (k - 1)
            sym.append(total // 2)
            extra.append(total % 2)
        if not any(extra):
            return sym, None
        fpad = []
        for e in reversed(extra):  # F.pad lists the last dim first
            fpad += [0, e]
        return sym, fpad

    def forward(self, x, w):
        return Conv(**self.attrs())(x, w)

    def backward_input(self, g, w, x_like):
        return ConvBackwardInput(**self.attrs())(g, w, x_like)

    def backward_weight(self, g, x, w_like):
        return ConvBackwardWeight(**self.attrs())(g, x, w_like)


@dataclass(frozen=True)
class Conv(ConvAttrs):
    """N-d convolution (or transposed convolution) of x (N, C, *spatial) with w.
    `formulation` ("", "channels_last" or "matmul"): how the kernel runs it on the CPU
    (ops/nn_conv_formulations.py), chosen by the compiler's formulate pass."""
    formulation: str = ""
    allocates: ClassVar[bool] = True
    name: ClassVar[str] = "conv"

    def infer(self, x, w, b=None):
        n = len(self.stride)
        dtype = _same_dtype(self.name, *(v for v in (x, w, b) if v is not None))
        what = f"conv_transpose{n}d" if self.transposed else f"conv{n}d"
        xs, ws = x.type.shape, w.type.shape
        if x.ndim != n + 2 or w.ndim != n + 2:
            raise ShapeError(f"{what} expects input (N, C, {n} spatial dims) and a weight of rank "
                             f"{n + 2}, got input {format_shape(xs)} and weight {format_shape(ws)}")
        g = self.groups
        if self.transposed:
            expected, c_out = ws[0], None if ws[1] is None else ws[1] * g
            if ws[0] is not None and ws[0] % g:
                raise ShapeError(f"weight {format_shape(ws)}: {ws[0]} input channels are not "
                                 f"divisible by groups={g}")
        else:
            expected, c_out = None if ws[1] is None else ws[1] * g, ws[0]
            if ws[0] is not None and ws[0] % g:
                raise ShapeError(f"weight {format_shape(ws)}: {ws[0]} output channels are not "
                                 f"divisible by groups={g}")
        if xs[1] is not None and expected is not None and xs[1] != expected:
            grouped = f" ({ws[1]} per group x groups={g})" if g > 1 and not self.transposed else ""
            raise ShapeError(f"input {format_shape(xs)} has {xs[1]} channels but weight "
                             f"{format_shape(ws)} expects {expected}{grouped}")
        if b is not None:
            if b.ndim != 1 or (b.type.shape[0] is not None and c_out is not None and b.type.shape[0] != c_out):
                raise ShapeError(f"bias {format_shape(b.type.shape)} does not match weight "
                                 f"{format_shape(ws)} (expected ({c_out},))")
        spatial = []
        for i in range(n):
            size, k = xs[2 + i], ws[2 + i]
            s, d = self.stride[i], self.dilation[i]
            p = 0 if self.padding == "same" else self.padding[i]
            if self.padding == "same":
                spatial.append(size)
            elif size is None or k is None:
                spatial.append(None)
            elif self.transposed:
                out = (size - 1) * s - 2 * p + d * (k - 1) + self.output_padding[i] + 1
                if out <= 0:
                    raise ShapeError(f"{what}: input {format_shape(xs)} and weight {format_shape(ws)} "
                                     f"with padding {self.padding} give an empty output")
                spatial.append(out)
            else:
                spatial.append(window_out(size, k, s, p, d, what=what, x_shape=xs, w_shape=ws))
        return [TensorType(dtype, (xs[0], c_out) + tuple(spatial))]

    def kernel(self, x, w, b=None):
        if self.formulation == "matmul" and runs_here(x):
            y = pointwise_matmul(x, w, b)
            if y is not None:
                return y
        elif self.formulation == "channels_last":
            x = channels_last_input(x)
        padding, extra = self.run_padding(w.shape)
        if extra:
            x = F.pad(x, extra)
        return torch.ops.aten.convolution(x, w, b, *self.aten_args(padding))

    def grad(self, inputs, outputs, output_grads):
        x, w = inputs[0], inputs[1]
        (g,) = output_grads
        grads = [self.backward_input(g, w, x), self.backward_weight(g, x, w)]
        if len(inputs) == 3:
            grads.append(_sum(g, axis=(0,) + tuple(range(2, g.ndim))))
        return grads


@dataclass(frozen=True)
class ConvBackwardInput(ConvAttrs):
    """The gradient of a convolution's input: (g, w, x_like) -> like x (x gives only its shape)."""
    name: ClassVar[str] = "conv_backward_input"

    def infer(self, g, w, x_like):
        return [TensorType(_same_dtype(self.name, g, w), x_like.type.shape)]

    def kernel(self, g, w, x_like):
        padding, extra = self.run_padding(w.shape)
        like = F.pad(x_like, extra) if extra else x_like
        gx = torch.ops.aten.convolution_backward(
            g, like, w, None, *self.aten_args(padding), [True, False, False])[0]
        if extra:
            gx = gx[(..., *(slice(0, n) for n in x_like.shape[2:]))]
        return gx

    def grad(self, inputs, outputs, output_grads):
        (g, w, x_like), (gg,) = inputs, output_grads
        # <gg, conv_x*(g, w)> = <conv(gg, w), g>
        return [self.forward(gg, w), self.backward_weight(g, gg, w), None]

    def sibling(self, inputs):
        """With a ConvBackwardWeight on the same (g, x, w), one ATen call makes both."""
        g, w, x_like = inputs
        return ConvBackward(**self.attrs()), (g, x_like, w), 0


@dataclass(frozen=True)
class ConvBackwardWeight(ConvAttrs):
    """The gradient of a convolution's weight: (g, x, w_like) -> like w."""
    name: ClassVar[str] = "conv_backward_weight"

    def infer(self, g, x, w_like):
        return [TensorType(_same_dtype(self.name, g, x), w_like.type.shape)]

    def kernel(self, g, x, w_like):
        padding, extra = self.run_padding(w_like.shape)
        if extra:
            x = F.pad(x, extra)
        return torch.ops.aten.convolution_backward(
            g, x, w_like, None, *self.aten_args(padding), [False, True, False])[1]

    def grad(self, inputs, outputs, output_grads):
        (g, x, w_like), (gg,) = inputs, output_grads
        # <gg, conv_w*(g, x)> = <conv(x, gg), g>
        return [self.forward(x, gg), self.backward_input(g, gg, x), None]

    def sibling(self, inputs):
        g, x, w_like = inputs
        return ConvBackward(**self.attrs()), (g, x, w_like), 1


@dataclass(frozen=True)
class ConvBackward(ConvAttrs):
    """Both gradients of a convolution in one ATen call: (g, x, w) -> (like x, like w).
    Made by the compiler from a ConvBackwardInput and a ConvBackwardWeight of one conv."""
    name: ClassVar[str] = "conv_backward"
    nout: ClassVar[int] = 2

    def infer(self, g, x, w):
        dtype = _same_dtype(self.name, g, x, w)
        return [TensorType(dtype, x.type.shape), TensorType(dtype, w.type.shape)]

    def kernel(self, g, x, w):
        padding, extra = self.run_padding(w.shape)
        padded = F.pad(x, extra) if extra else x
        gx, gw, _ = torch.ops.aten.convolution_backward(
            g, padded, w, None, *self.aten_args(padding), [True, True, False])
        if extra:
            gx = gx[(..., *(slice(0, n) for n in x.shape[2:]))]
        return gx, gw


def _conv(n, x, w, b, stride, padding, dilation, groups, transposed=False, output_padding=0):
    what = f"conv_transpose{n}d" if transposed else f"conv{n}d"
    x, w, b = float_inputs(x, w, b, op=what)
    stride = ntuple(stride, n, f"{what} stride")
    dilation = ntuple(dilation, n, f"{what} dilation")
    output_padding = ntuple(output_padding, n, f"{what} output_padding")
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"{what}: groups must be positive, got {groups}")
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{what}: stride and dilation must be positive, got {stride} and {dilation}")
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(f"{what}: output_padding {output_padding} must be smaller than stride "
                         f"{stride} or dilation {dilation}")
    if isinstance(padding, str) and transposed:
        raise ValueError(f"{what}: padding must be an int or a tuple, got {padding!r}")
    if isinstance(padding, str):
        padding = _string_padding(padding, n, w, stride, dilation, what)
    else:
        padding = ntuple(padding, n, f"{what} padding")
        if min(padding) < 0:
            raise ValueError(f"{what}: padding must be non-negative, got {padding}")
    conv = Conv(stride, padding, dilation, groups, bool(transposed), output_padding)
    return conv(x, w) if b is None else conv(x, w, b)


def _string_padding(mode, n, w, stride, dilation, what):
    """'valid' -> zeros; 'same' -> symmetric ints when the kernel is known and every window
    span is even, else 'same' (resolved by the kernels at run time)."""
    if mode == "valid":
        return (0,) * n
    if mode != "same":
        raise ValueError(f"{what}: padding must be 'same', 'valid', an int or a tuple, got {mode!r}")
    if any(s != 1 for s in stride):
        raise ValueError(f"{what}: padding='same' needs stride 1, got stride {stride}")
    kernel = w.type.shape[2:]
    if w.ndim == n + 2 and all(k is not None for k in kernel):
        spans = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if all(t % 2 == 0 for t in spans):
            return tuple(t // 2 for t in spans)
    return "same"


def conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution of x (N, C_in, L) with w (C_out, C_in/groups, k), torch semantics.

    padding: int, tuple, 'valid' or 'same' (stride 1)."""
    return _conv(1, x, w, b, stride, padding, dilation, groups)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution of x (N, C_in, H, W) with w (C_out, C_in/groups, kh, kw), torch semantics.

    padding: int, pair, 'valid' or 'same' (stride 1)."""
    return _conv(2, x, w, b, stride, padding, dilation, groups)


def conv3d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """3-d convolution of x (N, C_in, D, H, W) with w (C_out, C_in/groups, kd, kh, kw)."""
    return _conv(3, x, w, b, stride, padding, dilation, groups)


def conv_transpose1d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-d convolution; w shaped (C_in, C_out/groups, k) as in torch."""
    return _conv(1, x, w, b, stride, padding, dilation, groups, True, output_padding)


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-d convolution; w shaped (C_in, C_out/groups, kh, kw) as in torch."""
    return _conv(2, x, w, b, stride, padding, dilation, groups, True, output_padding)


def conv_transpose3d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 3-d convolution; w shaped (C_in, C_out/groups, kd, kh, kw) as in torch."""
    return _conv(3, x, w, b, stride, padding, dilation, groups, True, output_padding)


# op classes stay out of __all__: `th.nn` re-exports these names next to its layer classes
__all__ = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d"]
