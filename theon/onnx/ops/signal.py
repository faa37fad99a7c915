"""ONNX signal ops: DFT, STFT and MelWeightMatrix, over theon's FFT ops (theon/ops/fft.py).

ONNX writes complex tensors as real ones with a trailing dim of 2 (real, imaginary); a
trailing dim of 1 is a real signal. These converters turn that into theon's complex
dtypes and back, so the transforms keep their gradients."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from ...graph import constant
from ...ops import fft as F
from ..importer.tensors import theon_dtype
from . import converter


def _complex_dtype(dtype: str) -> str:
    return "complex128" if dtype == "float64" else "complex64"


def as_signal(ctx, x):
    """x (..., 1) or (..., 2) as a real or complex tensor without the trailing dim."""
    last = x.type.shape[-1]
    if last == 1:
        return T.squeeze(x, -1)
    if last == 2:
        cd = _complex_dtype(x.dtype)
        return T.cast(x[..., 0], cd) + T.cast(x[..., 1], cd) * np.asarray(1j, cd)
    ctx.fail(f"the last dim of {x.type} must be 1 (real) or 2 (complex) and known when building")


def as_pairs(z, dtype: str):
    """A real or complex tensor as ONNX's (..., 1) / (..., 2) layout in `dtype`."""
    if not z.dtype.startswith("complex"):
        return T.cast(T.expand_dims(z, -1), dtype)
    return T.cast(T.stack([T.real(z), T.imag(z)], axis=-1), dtype)


def _int_input(ctx, i, default=None):
    value = ctx.const(i)
    return default if value is None else int(np.asarray(value).reshape(()))


def dft(signal, n, axis, inverse, onesided):
    """ONNX DFT of `signal` (real or complex, no trailing pair dim) along `axis`."""
    if inverse:
        if onesided:   # half spectrum in, real signal of length n out
            return F.irfft(signal, n=n, axis=axis)
        return F.ifft(signal, n=n, axis=axis)
    if onesided and not signal.dtype.startswith("complex"):
        return F.rfft(signal, n=n, axis=axis)
    full = F.fft(signal, n=n, axis=axis)
    if onesided:
        key = [slice(None)] * full.ndim
        key[axis] = slice(0, n // 2 + 1)
        full = full[tuple(key)]
    return full


@converter("DFT")
def dft_converter(ctx):
    x = ctx.x(0)
    if ctx.opset >= 20:
        axis = _int_input(ctx, 2, -2)
    else:
        axis = ctx.attr("axis", 1)
    axis %= x.ndim
    if axis == x.ndim - 1:
        ctx.fail("axis must not be the last dim (it holds the real and imaginary parts)")
    inverse, onesided = bool(ctx.attr("inverse", 0)), bool(ctx.attr("onesided", 0))
    n = _int_input(ctx, 1)
    if n is None:
        n = x.type.shape[axis]
        if n is None:
            ctx.fail(f"the transform's length must be known when building, got {x.type} along axis {axis}")
        if inverse and onesided:
            n = 2 * (n - 1)
    return as_pairs(dft(as_signal(ctx, x), n, axis, inverse, onesided), x.dtype)


@converter("STFT")
def stft(ctx):
    x, window = ctx.x(0), ctx.x(2)
    step = _int_input(ctx, 1)
    length = _int_input(ctx, 3)
    if length is None:
        length = window.type.shape[0] if window is not None else x.type.shape[-2]
    size = x.type.shape[-2]
    if length is None or size is None:
        ctx.fail(f"the signal's and frame's lengths must be known when building, got {x.type}")
    n_frames = 1 + (size - length) // step
    starts = np.arange(n_frames)[:, None] * step + np.arange(length)[None, :]
    frames = T.take(x, constant(starts.astype(np.int64)), axis=1)      # (batch, frames, length, 1|2)
    if window is not None:
        frames = frames * T.reshape(window, [1, 1, length, 1])
    onesided = bool(ctx.attr("onesided", 1))
    return as_pairs(dft(as_signal(ctx, frames), length, 2, False, onesided), x.dtype)


def mel_weights(num_mel_bins, dft_length, sample_rate, lower_hz, upper_hz):
    """ONNX MelWeightMatrix (float64): triangular filters over the half spectrum's bins,
    each rising from its left edge to its centre bin and falling to its right edge. The
    edge frequencies are computed in the dtype of the given Hz values, as the reference."""
    edges = np.arange(num_mel_bins + 2)
    low = 2595 * np.log1p(lower_hz / 700) / np.log(10)
    high = 2595 * np.log1p(upper_hz / 700) / np.log(10)
    step = (high - low) / edges.shape[0]   # ONNX divides by num_mel_bins + 2
    hz = 700 * np.expm1((edges * step + low) / 2595 * np.log(10))
    bins = (((dft_length + 1) * hz) // sample_rate).astype(int)
    out = np.zeros((dft_length // 2 + 1, num_mel_bins))
    for i in range(num_mel_bins):
        left, centre, right = bins[i], bins[i + 1], bins[i + 2]
        if centre == left:
            out[centre, i] = 1
        else:
            j = np.arange(left, centre + 1)
            out[j, i] = (j - left) / (centre - left)
        if right > centre:
            j = np.arange(centre, right)
            out[j, i] = (right - j) / (right - centre)
    return out


@converter("MelWeightMatrix")
def mel_weight_matrix(ctx):
    args = [np.asarray(ctx.const(i, "a MelWeightMatrix argument")).reshape(()) for i in range(5)]
    n_mel, n_dft, rate = (int(a) for a in args[:3])
    out = mel_weights(n_mel, n_dft, rate, args[3][()], args[4][()])
    dtype = theon_dtype(ctx.attr("output_datatype", 1), "output_datatype")
    return constant(out.astype(dtype))
