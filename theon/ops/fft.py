"""Discrete Fourier transforms with numpy.fft's semantics (`th.fft.*` re-exports them).

Three op classes carry every transform:
- `FFT`: one n-dimensional transform over `axes` of one kind: complex-to-complex (fftn,
  ifftn), real-to-half-spectrum (rfftn: the last axis keeps n//2+1 bins) or
  half-spectrum-to-real (irfftn). `lengths` are NumPy's `s` (None: the input's length;
  irfftn's last axis: 2*(m-1)); the input is cropped or zero-padded to them first.
- `FFTAdjoint`: the gradient of an FFT. Every transform is linear, so its gradient is the
  adjoint (for the real inner product Re<y, g>, torch's convention for complex values):
  the opposite-direction transform with the normalisation swapped ("backward" <->
  "forward"), followed by the adjoint of the input's crop/pad (pad/crop back to the
  input's lengths). rfftn's adjoint halves the bins that stand for two conjugate bins of
  the full spectrum before an irfftn; irfftn's adjoint doubles them after an rfftn. The
  input `like` gives the forward input's shape (known only at run time when dims are None).
- `FFTShift`: fftshift/ifftshift (a roll by n//2 whose size the kernel reads).

hfft/ihfft are irfft/rfft of the conjugate with the normalisation swapped, as NumPy
defines them. Result dtypes are NumPy 2's: complex64 from float32/complex64 (float16 is
computed in float32), complex128 from float64/complex128 and from ints and bools.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..backend.dtypes import canonical_dtype, default_dtype
from ..errors import AxisError, DTypeError, ShapeError
from ..graph import TensorType, constant, format_shape
from .base import Op, as_variable, user_errors
from .elementwise import cast, conj

__all__ = [
    "FFT",
    "FFTAdjoint",
    "FFTShift",
    "fft",
    "fft2",
    "fftfreq",
    "fftn",
    "fftshift",
    "hfft",
    "ifft",
    "ifft2",
    "ifftn",
    "ifftshift",
    "ihfft",
    "irfft",
    "irfft2",
    "irfftn",
    "rfft",
    "rfft2",
    "rfftfreq",
    "rfftn",
]

NORMS = ("backward", "ortho", "forward")
_SWAP = {"backward": "forward", "ortho": "ortho", "forward": "backward"}
_COMPLEX = {"float32": "complex64", "float64": "complex128"}
_REAL = {"complex64": "float32", "complex128": "float64"}


def _transform_lengths(kind: str, axes: tuple, lengths: tuple, shape: tuple) -> list:
    """The transform length n along each axis (None where unknown until the call)."""
    out = []
    for k, (a, n) in enumerate(zip(axes, lengths)):
        m = shape[a]
        if n is None:
            if kind == "c2r" and k == len(axes) - 1:
                n = None if m is None else 2 * (m - 1)
            else:
                n = m
        out.append(n)
    return out


def _check_lengths(ns, axes) -> None:
    for a, n in zip(axes, ns):
        if n is not None and n < 1:
            raise ValueError(f"invalid number of FFT data points ({n}) along axis {a}: "
                             f"need at least 1")


def _fit(x: torch.Tensor, axes, sizes) -> torch.Tensor:
    """x cropped or zero-padded at the end of each axis to `sizes`."""
    for a, size in zip(axes, sizes):
        m = x.shape[a]
        if m > size:
            x = x.narrow(a, 0, size)
        elif m < size:
            pad = list(x.shape)
            pad[a] = size - m
            x = torch.cat([x, x.new_zeros(pad)], dim=a)
    return x


def _half_bins(x: torch.Tensor, axis: int, n: int, factor: float) -> torch.Tensor:
    """x (a half spectrum of length n//2+1 along axis) with the bins that stand for a
    conjugate pair of the full spectrum (all but bin 0 and, for even n, bin n/2) scaled."""
    stop = (n + 1) // 2       # bins 1 .. (n-1)//2 have a mirror image
    if stop <= 1:
        return x
    w = torch.ones(x.shape[axis], dtype=x.real.dtype, device=x.device)
    w[1:stop] = factor
    shape = [1] * x.ndim
    shape[axis] = -1
    return x * w.reshape(shape)


@dataclass(frozen=True)
class FFT(Op):
    kind: str = "c2c"          # "c2c" (fftn/ifftn), "r2c" (rfftn), "c2r" (irfftn)
    inverse: bool = False      # c2c: the inverse transform (ifftn)
    axes: tuple = (-1,)        # non-negative, in NumPy's order (the last is r2c/c2r's half axis)
    lengths: tuple = (None,)   # NumPy's `s`, None where the input's length is used
    norm: str = "backward"
    name: ClassVar[str] = "fft"
    allocates: ClassVar[bool] = True

    def infer(self, x):
        shape = x.type.shape
        for a in self.axes:
            if not 0 <= a < len(shape):
                raise AxisError(f"axis {a} is out of range for a tensor of shape {format_shape(shape)}")
        if self.kind == "r2c" and not x.dtype.startswith("float"):
            raise DTypeError(f"rfft takes real input, got {x.dtype} (use fft for complex input)")
        if self.kind != "r2c" and x.dtype not in _REAL:
            raise DTypeError(f"this transform takes complex64 or complex128 input here, got {x.dtype}")
        ns = _transform_lengths(self.kind, self.axes, self.lengths, shape)
        _check_lengths(ns, self.axes)
        out = list(shape)
        for a, n in zip(self.axes, ns):
            out[a] = n
        last = self.axes[-1]
        if self.kind == "r2c":
            out[last] = None if ns[-1] is None else ns[-1] // 2 + 1
            return [TensorType(_COMPLEX[x.dtype], tuple(out))]
        if self.kind == "c2r":
            return [TensorType(_REAL[x.dtype], tuple(out))]
        return [x.type.with_shape(tuple(out))]

    def kernel(self, x):
        ns = _transform_lengths(self.kind, self.axes, self.lengths, tuple(x.shape))
        _check_lengths(ns, self.axes)
        if self.kind == "r2c":
            fn = torch.fft.rfftn
        elif self.kind == "c2r":
            fn = torch.fft.irfftn
        else:
            fn = torch.fft.ifftn if self.inverse else torch.fft.fftn
        return fn(x, s=ns, dim=self.axes, norm=self.norm)

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [FFTAdjoint(self.kind, self.inverse, self.axes, self.lengths, self.norm)(g, x)]


@dataclass(frozen=True)
class FFTAdjoint(Op):
    """The adjoint of FFT(fields) applied to g, shaped like `like` (the FFT's input)."""
    kind: str = "c2c"
    inverse: bool = False
    axes: tuple = (-1,)
    lengths: tuple = (None,)
    norm: str = "backward"
    name: ClassVar[str] = "fft_adjoint"
    allocates: ClassVar[bool] = True

    def infer(self, g, like):
        return [like.type]

    def kernel(self, g, like):
        ns = _transform_lengths(self.kind, self.axes, self.lengths, tuple(like.shape))
        norm, last = _SWAP[self.norm], self.axes[-1]
        if self.kind == "c2c":
            fn = torch.fft.fftn if self.inverse else torch.fft.ifftn
            r = fn(g, dim=self.axes, norm=norm)
        elif self.kind == "r2c":
            r = torch.fft.irfftn(_half_bins(g, last, ns[-1], 0.5), s=ns, dim=self.axes, norm=norm)
        else:
            r = _half_bins(torch.fft.rfftn(g, s=ns, dim=self.axes, norm=norm), last, ns[-1], 2.0)
        r = _fit(r, self.axes, [like.shape[a] for a in self.axes])
        return r.to(like.dtype).contiguous()

    def grad(self, inputs, outputs, output_grads):
        # the adjoint of the adjoint is the transform itself; `like` only gives a shape
        return [FFT(self.kind, self.inverse, self.axes, self.lengths, self.norm)(output_grads[0]), None]


@dataclass(frozen=True)
class FFTShift(Op):
    """numpy.fft.fftshift (inverse: ifftshift) over `axes`: a roll by n//2 (-(n//2))."""
    axes: tuple = ()
    inverse: bool = False
    name: ClassVar[str] = "fftshift"

    def infer(self, x):
        for a in self.axes:
            if not 0 <= a < x.ndim:
                raise AxisError(f"axis {a} is out of range for a tensor of shape {format_shape(x.type.shape)}")
        return [x.type]

    def kernel(self, x):
        fn = torch.fft.ifftshift if self.inverse else torch.fft.fftshift
        return fn(x, dim=self.axes).clone()

    def grad(self, inputs, outputs, output_grads):
        return [FFTShift(self.axes, not self.inverse)(output_grads[0])]


# ---- argument handling ------------------------------------------------------------------

def _norm(norm) -> str:
    if norm is None:
        return "backward"
    if norm not in NORMS:
        raise ValueError(f"invalid norm {norm!r}: expected one of {', '.join(map(repr, NORMS))} or None")
    return norm


def _axis(axis, ndim: int, fn: str) -> int:
    a = operator.index(axis)
    if not -ndim <= a < ndim:
        raise AxisError(f"{fn}: axis {a} is out of range for a tensor of rank {ndim}")
    return a % ndim


def _length(n, fn: str):
    if n is None or (not isinstance(n, bool) and isinstance(n, (int, np.integer)) and n == -1):
        return None
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{fn}: a transform length must be an int or None, got {n!r}")
    if n < 1:
        raise ValueError(f"{fn}: invalid number of FFT data points ({n}): need at least 1")
    return int(n)


def _axes_and_lengths(x, s, axes, fn: str):
    """NumPy's fftn rules: axes default to the last len(s) (all when s is None too); s
    defaults to the input's lengths; -1 (or None) in s means the input's length."""
    if s is not None:
        s = (s,) if isinstance(s, (int, np.integer)) else tuple(s)
    if axes is None:
        axes = tuple(range(x.ndim)) if s is None else tuple(range(-len(s), 0))
    else:
        axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    if s is not None and len(s) != len(axes):
        raise ValueError(f"{fn}: s {s} and axes {axes} must have the same length")
    norm_axes = tuple(_axis(a, x.ndim, fn) for a in axes)
    if len(set(norm_axes)) != len(norm_axes):
        raise ShapeError(f"{fn}: repeated axis in {axes}")
    if not norm_axes:
        raise ValueError(f"{fn}: no axes to transform")
    lengths = (None,) * len(axes) if s is None else tuple(_length(n, fn) for n in s)
    return norm_axes, lengths


def _complex_input(x):
    """x as complex64/complex128 (NumPy 2: float32 and float16 give complex64, else complex128)."""
    if x.dtype in _REAL:
        return x
    if x.dtype in ("float16", "bfloat16", "float32"):
        return cast(x, "complex64")
    if x.dtype.startswith("complex"):
        raise DTypeError(f"fft: {x.dtype} is not supported (complex64 or complex128)")
    return cast(x, "complex128")


def _real_input(x, fn: str):
    """x as float32/float64 (float16 computes in float32, ints and bools in float64)."""
    if x.dtype.startswith("complex"):
        raise DTypeError(f"{fn} takes real input, got {x.dtype} (use fft for complex input)")
    if x.dtype in ("float32", "float64"):
        return x
    return cast(x, "float32" if x.dtype in ("float16", "bfloat16") else "float64")


def _c2c(x, s, axes, norm, inverse, fn):
    x = as_variable(x)
    axes, lengths = _axes_and_lengths(x, s, axes, fn)
    return FFT("c2c", inverse, axes, lengths, _norm(norm))(_complex_input(x))


def _r2c(x, s, axes, norm, fn):
    x = as_variable(x)
    axes, lengths = _axes_and_lengths(x, s, axes, fn)
    return FFT("r2c", False, axes, lengths, _norm(norm))(_real_input(x, fn))


def _c2r(x, s, axes, norm, fn, conjugate=False):
    x = as_variable(x)
    axes, lengths = _axes_and_lengths(x, s, axes, fn)
    z = _complex_input(x)
    y = FFT("c2r", False, axes, lengths, _norm(norm))(conj(z) if conjugate else z)
    # NumPy 2 gives a real float16 input's irfft/hfft back as float16
    return cast(y, "float16") if x.dtype == "float16" else y


def _one_axis(n, axis):
    return None if n is None else (n,), (axis,)


# ---- the public functions (numpy.fft's signatures) ---------------------------------------

@user_errors
def fft(a, n=None, axis=-1, norm=None):
    """numpy.fft.fft: the 1-D discrete Fourier transform along `axis` (length n)."""
    return _c2c(a, *_one_axis(n, axis), norm, False, "fft")


@user_errors
def ifft(a, n=None, axis=-1, norm=None):
    """numpy.fft.ifft: the inverse of fft."""
    return _c2c(a, *_one_axis(n, axis), norm, True, "ifft")


@user_errors
def rfft(a, n=None, axis=-1, norm=None):
    """numpy.fft.rfft: the non-negative-frequency half (n//2+1 bins) of a real input's fft."""
    return _r2c(a, *_one_axis(n, axis), norm, "rfft")


@user_errors
def irfft(a, n=None, axis=-1, norm=None):
    """numpy.fft.irfft: the real signal of length n (default 2*(m-1)) whose rfft is `a`."""
    return _c2r(a, *_one_axis(n, axis), norm, "irfft")


@user_errors
def hfft(a, n=None, axis=-1, norm=None):
    """numpy.fft.hfft: the fft of a signal with Hermitian symmetry given by its first half
    (real output of length n, default 2*(m-1))."""
    return _c2r(a, *_one_axis(n, axis), _SWAP[_norm(norm)], "hfft", conjugate=True)


@user_errors
def ihfft(a, n=None, axis=-1, norm=None):
    """numpy.fft.ihfft: the inverse of hfft (the half spectrum of a real input)."""
    return conj(_r2c(a, *_one_axis(n, axis), _SWAP[_norm(norm)], "ihfft"))


@user_errors
def fftn(a, s=None, axes=None, norm=None):
    """numpy.fft.fftn over `axes` (all by default) with lengths `s`."""
    return _c2c(a, s, axes, norm, False, "fftn")


@user_errors
def ifftn(a, s=None, axes=None, norm=None):
    return _c2c(a, s, axes, norm, True, "ifftn")


@user_errors
def rfftn(a, s=None, axes=None, norm=None):
    """numpy.fft.rfftn: the last of `axes` keeps the non-negative half of the spectrum."""
    return _r2c(a, s, axes, norm, "rfftn")


@user_errors
def irfftn(a, s=None, axes=None, norm=None):
    return _c2r(a, s, axes, norm, "irfftn")


@user_errors
def fft2(a, s=None, axes=(-2, -1), norm=None):
    return _c2c(a, s, axes, norm, False, "fft2")


@user_errors
def ifft2(a, s=None, axes=(-2, -1), norm=None):
    return _c2c(a, s, axes, norm, True, "ifft2")


@user_errors
def rfft2(a, s=None, axes=(-2, -1), norm=None):
    return _r2c(a, s, axes, norm, "rfft2")


@user_errors
def irfft2(a, s=None, axes=(-2, -1), norm=None):
    return _c2r(a, s, axes, norm, "irfft2")


def _freq_args(n, d, dtype, fn):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{fn}: n must be a positive int, got {n!r}")
    return int(n), float(d), default_dtype("f") if dtype is None else canonical_dtype(dtype)


@user_errors
def fftfreq(n, d=1.0, dtype=None):
    """numpy.fft.fftfreq: the sample frequencies of an n-point fft with spacing d (a
    constant; theon's default float dtype, float32, unless `dtype` is given)."""
    n, d, dtype = _freq_args(n, d, dtype, "fftfreq")
    return constant(np.fft.fftfreq(n, d).astype(dtype))


@user_errors
def rfftfreq(n, d=1.0, dtype=None):
    """numpy.fft.rfftfreq: the n//2+1 non-negative sample frequencies of an rfft."""
    n, d, dtype = _freq_args(n, d, dtype, "rfftfreq")
    return constant(np.fft.rfftfreq(n, d).astype(dtype))


def _shift(x, axes, inverse, fn):
    x = as_variable(x)
    if axes is None:
        axes = tuple(range(x.ndim))
    axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    axes = tuple(_axis(a, x.ndim, fn) for a in axes)
    if not axes:
        return x
    return FFTShift(axes, inverse)(x)


@user_errors
def fftshift(x, axes=None):
    """numpy.fft.fftshift: the zero frequency moved to the centre of `axes` (all by default)."""
    return _shift(x, axes, False, "fftshift")


@user_errors
def ifftshift(x, axes=None):
    """numpy.fft.ifftshift: the inverse of fftshift."""
    return _shift(x, axes, True, "ifftshift")
