"""Special functions: cube root, base-2 exponential, the inverse error function and the
gamma family (lgamma, digamma, polygamma), plus `isclose` and `nan_to_num`. NumPy/SciPy
semantics: integer inputs compute in the float dtype NumPy (scipy.special) would give."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..errors import DTypeError
from ..graph import user_location
from .base import as_variable
from .elementwise import (
    Unary, abs, cast_to, equal, exp as _exp, isfinite, isnan, less_equal, logical_and,
    logical_or, multiply, subtract, unary, where,
)

__all__ = ["cbrt", "exp2", "erfinv", "lgamma", "digamma", "polygamma", "Polygamma", "isclose",
           "nan_to_num"]


def _cbrt(x, out=None):
    # torch has no cbrt: |x|^(1/3) with x's sign (exact for 0, inf and nan)
    return torch.sign(x) * torch.abs(x).pow(1.0 / 3.0)


cbrt = unary("cbrt", _cbrt, lambda x, y, g: g / (3 * y * y), ufunc=np.cbrt, supports_out=False)
exp2 = unary("exp2", torch.exp2, lambda x, y, g: g * y * math.log(2.0), ufunc=np.exp2)
# d erfinv(x) = sqrt(pi)/2 * exp(erfinv(x)^2)
erfinv = unary("erfinv", torch.erfinv, lambda x, y, g: g * _exp(y * y) * (math.sqrt(math.pi) / 2),
               float_only=True)
lgamma = unary("lgamma", torch.lgamma, lambda x, y, g: g * digamma(x), float_only=True)
digamma = unary("digamma", torch.digamma, lambda x, y, g: g * Polygamma(1)(x), float_only=True)


@dataclass(frozen=True)
class Polygamma(Unary):
    """The n-th derivative of digamma (n >= 1)."""
    n: int = 1
    name: ClassVar[str] = "polygamma"

    def kernel(self, x, out=None):
        return torch.special.polygamma(self.n, x, out=out) if out is not None \
            else torch.special.polygamma(self.n, x)

    def grad(self, inputs, outputs, output_grads):
        return [output_grads[0] * Polygamma(self.n + 1)(inputs[0])]


def dtype_error(message):
    """A DTypeError naming the user's line (for checks made before any node is built)."""
    return DTypeError(f"{message}\n  at {user_location()}")


def polygamma(n, x):
    """scipy.special.polygamma(n, x) for an int n >= 0 (n = 0 is digamma)."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"polygamma: n must be an int >= 0, got {n!r}")
    x = as_variable(x)
    x = _as_float(x)
    return digamma(x) if n == 0 else Polygamma(int(n))(x)


def _as_float(x):
    if x.dtype.startswith("complex"):
        raise dtype_error(f"expected a real input, got {x.dtype}")
    return x if x.dtype.startswith("float") else cast_to(x, "float64")


def isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    """|a - b| <= atol + rtol * |b|, elementwise, as numpy.isclose (infinities are close
    only to themselves; NaN to NaN only with equal_nan)."""
    a, b = as_variable(a), as_variable(b)
    if a.dtype.startswith("complex") or b.dtype.startswith("complex"):
        raise dtype_error("isclose: complex inputs are not supported")
    a = _as_float(a) if not a.dtype.startswith("float") else a
    b = _as_float(b) if not b.dtype.startswith("float") else b
    finite = logical_and(isfinite(a), isfinite(b))
    near = less_equal(abs(subtract(a, b)), atol + multiply(rtol, abs(b)))
    out = where(finite, near, equal(a, b))
    if equal_nan:
        out = logical_or(out, logical_and(isnan(a), isnan(b)))
    return out


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN -> `nan`, +inf -> `posinf` (default the dtype's largest), -inf -> `neginf`
    (default its most negative), as numpy.nan_to_num; integers pass through. The gradient
    flows to the finite elements only."""
    x = as_variable(x)
    if not (x.dtype.startswith("float") or x.dtype.startswith("complex")):
        return x
    if x.dtype.startswith("complex"):
        raise dtype_error("nan_to_num: complex inputs are not supported")
    info = np.finfo(x.dtype)
    posinf = float(info.max) if posinf is None else float(posinf)
    neginf = float(info.min) if neginf is None else float(neginf)
    def const(v):  # in x's dtype: a weak scalar would compute (and overflow) in float32
        return as_variable(np.asarray(v, x.dtype))
    fill = where(isnan(x), const(nan), where(x > 0, const(posinf), const(neginf)))
    return where(isfinite(x), x, fill)
