"""Kernels for acos, expm1 and log1p whose complex special values (signed zeros, infinite
and NaN parts) follow C99's Annex G, NumPy and the Array API where torch's complex kernels
differ. Real inputs go straight to torch; each kernel takes an optional `out=` like the
other elementwise kernels."""
from __future__ import annotations

import math

import torch

__all__ = ["acos", "expm1", "log1p"]


def _into(result, out):
    return result if out is None else out.copy_(result)


def _real_kernel(fn, x, out):
    return fn(x) if out is None else fn(x, out=out)


def acos(x, out=None):
    """cacos: the imaginary part has the opposite sign of x's, zeros included
    (acos(0.5 + 0j) is 1.047 - 0j); torch gives +0 there."""
    if not x.is_complex():
        return _real_kernel(torch.acos, x, out)
    r = torch.acos(x)
    imag = torch.where(r.imag == 0, torch.copysign(torch.zeros_like(r.imag), -x.imag), r.imag)
    return _into(torch.complex(r.real, imag), out)


def expm1(x, out=None):
    """exp(z) - 1 with cexp's special values: a zero imaginary part stays that zero
    (expm1(inf + 0j) is inf + 0j), exp(-inf + i*(inf or nan)) is a zero, so the result is
    -1 + 0j, and +inf + i*(inf or nan) gives inf + nan j. torch (and NumPy) give NaNs there."""
    if not x.is_complex():
        return _real_kernel(torch.expm1, x, out)
    r = torch.expm1(x)
    re, im = x.real, x.imag
    real = torch.where(r.real == 0, 0.0, r.real)   # e**x cos(y) - 1 is +0 at x = -0, y = 0
    imag = torch.where(im == 0, im, r.imag)
    unbounded = ~torch.isfinite(im)
    to_zero = torch.isneginf(re) & unbounded
    to_inf = torch.isposinf(re) & unbounded
    real = torch.where(to_zero, -1.0, torch.where(to_inf, math.inf, real))
    zero = torch.copysign(torch.zeros_like(im), im)
    imag = torch.where(to_zero, zero, torch.where(to_inf, math.nan, imag))
    return _into(torch.complex(real, imag), out)


def log1p(x, out=None):
    """clog(1 + z): an infinite real or imaginary part gives a +inf real part, even beside a
    NaN (log1p(nan + inf j) is inf + nan j); torch gives NaN there. As NumPy."""
    if not x.is_complex():
        return _real_kernel(torch.log1p, x, out)
    r = torch.log1p(x)
    infinite = torch.isinf(x.real) | torch.isinf(x.imag)
    # log|1 + z| is +0 where |1 + z| is 1 (torch's complex64 gives -0 for z = -0 + 0j)
    real = torch.where(r.real == 0, 0.0, r.real)
    return _into(torch.complex(torch.where(infinite, math.inf, real), r.imag), out)
