"""Matrix decompositions with NumPy's semantics (batched over leading dims): svd, svdvals,
qr, eigh, eigvalsh, and pinv, each a torch.linalg kernel with a symbolic gradient built
from theon ops (so second derivatives work).

Gradients follow the formulas PyTorch documents (Townsend 2016 for the SVD; Walter and
Lehmann / Seeger et al. for QR; the eigenvector perturbation formula for eigh), for real
matrices. The gradient through singular vectors or eigenvectors divides by the gaps
between singular values (eigenvalues): where two of them coincide the vectors are not
unique and the gradient is undefined; the compiled gradient then raises ValueError
saying so (a run-time check in the graph). The gradient of the values alone (svdvals,
eigvalsh, or an svd/eigh whose vectors the cost does not read) is always defined.
"""
from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..errors import GradientError, ShapeError
from ..graph import TensorType, format_shape
from .assertion import check
from .axes import broadcast_shapes
from .base import Op, as_variable, user_errors
from .constructors import FullLike, ones_like, zeros_like
from .dims import dim
from .elementwise import cast_to, equal, less_equal, maximum, minimum, not_equal, where
from .linalg import SolveTriangular, Triangle, _linalg_inputs, _square, matmul, matrix_transpose
from .reduce import all
from .shape import concatenate, expand_dims

__all__ = [
    "svd", "svdvals", "qr", "eigh", "eigvalsh", "pinv",
    "SVDResult", "QRResult", "EighResult",
    "Svd", "Svdvals", "Qr", "Eigh", "Eigvalsh", "Pinv",
]

# NumPy's result types (numpy.linalg returns these named tuples)
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
QRResult = namedtuple("QRResult", ["Q", "R"])
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])

_REAL = {"complex64": "float32", "complex128": "float64"}


def _matrix_dims(fn: str, a):
    if a.ndim < 2:
        raise ShapeError(f"{fn}: needs a (batch of) matrices, got shape {format_shape(a.type.shape)}")
    return a.type.shape[-2], a.type.shape[-1]


def _k(m, n):
    return None if m is None or n is None else min(m, n)


def _is_zero(g) -> bool:
    """True for the zeros autodiff passes as the gradient of an output the cost does not read."""
    return g.owner is not None and isinstance(g.owner.op, FullLike) and g.owner.op.value == 0


def _real_only(fn: str, a):
    if a.dtype.startswith("complex"):
        raise GradientError(f"{fn}: gradients are provided for real matrices only, got {a.dtype}")


def _mT(x):
    return matrix_transpose(x)


def _row(v):
    """(..., k) -> (..., 1, k): scales the columns of a matrix."""
    return expand_dims(v, -2)


def _col(v):
    """(..., k) -> (..., k, 1): scales the rows of a matrix."""
    return expand_dims(v, -1)


def _gaps(values):
    """E[i, j] = values[j] - values[i], with ones on the diagonal (the skew-symmetric
    numerators below are zero there), and a bool scalar: all off-diagonal gaps nonzero."""
    e = _row(values) - _col(values)
    ones = ones_like(e)
    off = Triangle(1, upper=True)(ones) + Triangle(-1, upper=False)(ones)
    safe = e + (ones - off)
    return safe, all(not_equal(safe, 0)), ones - off


def _skew(x):
    return x - _mT(x)


# ---- SVD ----------------------------------------------------------------------------------

_REPEATED = ("{fn}: the gradient through {vectors} is undefined here: {what} repeat (or are "
             "zero for a non-square matrix), so the vectors are not unique. Differentiate a "
             "function of the values alone ({values}), or perturb the input.")


@dataclass(frozen=True)
class Svd(Op):
    """(U, S, Vh) with a = U diag(S) Vh; `full_matrices`: U is (m, m) and Vh (n, n), else
    (m, k) and (k, n) with k = min(m, n). S is descending."""
    full_matrices: bool = False
    name: ClassVar[str] = "svd"
    nout: ClassVar[int] = 3

    def infer(self, a):
        m, n = _matrix_dims("svd", a)
        batch, k = a.type.shape[:-2], _k(m, n)
        ucols, vrows = (m, n) if self.full_matrices else (k, k)
        return [a.type.with_shape(batch + (m, ucols)),
                TensorType(_REAL.get(a.dtype, a.dtype), batch + (k,)),
                a.type.with_shape(batch + (vrows, n))]

    def kernel(self, a):
        return tuple(torch.linalg.svd(a, full_matrices=self.full_matrices))

    def grad(self, inputs, outputs, output_grads):
        (a,), (u, s, vh), (gu, gs, gvh) = inputs, outputs, output_grads
        _real_only("svd", a)
        m, n = a.type.shape[-2:]
        vectors = not (_is_zero(gu) and _is_zero(gvh))
        square = None   # a run-time condition where the dims are unknown when building
        if self.full_matrices and not (m is not None and m == n):
            if vectors and m is not None and n is not None:
                raise GradientError(
                    f"svd: no gradient through U or Vh with full_matrices=True for a non-square "
                    f"matrix (shape {format_shape(a.type.shape)}): the extra columns are not unique; "
                    f"use full_matrices=False")
            if vectors:
                square = equal(dim(a, -2), dim(a, -1))
            k = dim(s, -1)
            u, vh = u[..., :, :k], vh[..., :k, :]
            # (an unread U or Vh keeps its structural zero, which _svd_grad recognises)
            gu = zeros_like(u) if _is_zero(gu) else gu[..., :, :k]
            gvh = zeros_like(vh) if _is_zero(gvh) else gvh[..., :k, :]
        ga = _svd_grad(u, s, vh, gu, gs, gvh, m, n)
        if square is not None:
            ga = check(ga, square, "svd: no gradient through U or Vh with full_matrices=True for a "
                                   "non-square matrix: the extra columns are not unique; use "
                                   "full_matrices=False")
        return [ga]


def _svd_grad(u, s, vh, gu, gs, gvh, m, n):
    """The vjp of the reduced SVD (PyTorch's svd_backward, real case). m, n: the matrix
    dims where known; where not, both of the terms a non-square matrix needs are built."""
    if _is_zero(gu) and _is_zero(gvh):
        return matmul(u * _row(gs), vh)
    gap, distinct, eye = _gaps(s * s)
    core = (_skew(matmul(_mT(u), gu)) * _row(s) + _col(s) * _skew(matmul(vh, _mT(gvh)))) / gap
    ga = core + eye * _row(gs)
    known = m is not None and n is not None
    tall = not _is_zero(gu) and not (known and m <= n)     # U does not span the columns' space
    wide = not _is_zero(gvh) and not (known and m >= n)    # V does not span the rows' space
    # 1/s where s != 0: a square matrix's terms below vanish, and where a non-square one has a
    # zero singular value the check below stops the call
    inv_s = where(not_equal(s, 0), 1 / where(not_equal(s, 0), s, 1), 0)
    ga = matmul(matmul(u, ga), vh)
    if tall:        # (I - U U^T) gU S^-1 Vh: the part of gU outside span(U)
        gu_s = gu * _row(inv_s)
        ga = ga + matmul(gu_s - matmul(u, matmul(_mT(u), gu_s)), vh)
    if wide:        # U S^-1 gVh (I - V V^T)
        s_gvh = gvh * _col(inv_s)
        ga = ga + matmul(u, s_gvh - matmul(matmul(s_gvh, _mT(vh)), vh))
    ok = distinct
    if known and m != n:
        ok = ok & all(not_equal(s, 0))
    elif not known:
        ok = ok & (equal(dim(u, -2), dim(vh, -1)) | all(not_equal(s, 0)))
    return check(ga, ok, _REPEATED.format(fn="svd", vectors="U or Vh", what="singular values",
                                           values="svdvals, or S"))


@dataclass(frozen=True)
class Svdvals(Op):
    """The singular values, descending (NumPy's svd(a, compute_uv=False))."""
    name: ClassVar[str] = "svdvals"

    def infer(self, a):
        m, n = _matrix_dims("svdvals", a)
        return [TensorType(_REAL.get(a.dtype, a.dtype), a.type.shape[:-2] + (_k(m, n),))]

    def kernel(self, a):
        return torch.linalg.svdvals(a)

    def grad(self, inputs, outputs, output_grads):
        # U diag(gS) Vh: defined even where singular values repeat
        (a,), (gs,) = inputs, output_grads
        _real_only("svdvals", a)
        u, _, vh = Svd(False)(a)
        return [matmul(u * _row(gs), vh)]


@user_errors
def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """numpy.linalg.svd: (U, S, Vh) with a = U @ diag(S) @ Vh, S descending; only S when
    compute_uv is False. `hermitian` is accepted for NumPy's signature; the general SVD is
    computed either way (the same values; vectors may differ in sign)."""
    (a,) = _linalg_inputs("svd", a)
    if not compute_uv:
        return Svdvals()(a)
    return SVDResult(*Svd(bool(full_matrices))(a))


@user_errors
def svdvals(x):
    """numpy.linalg.svdvals: the singular values of a (batch of) matrices, descending."""
    (x,) = _linalg_inputs("svdvals", x)
    return Svdvals()(x)


# ---- QR -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Qr(Op):
    """(Q, R) with a = Q R: reduced (Q (m, k), R (k, n)) or complete (Q (m, m), R (m, n))."""
    complete: bool = False
    name: ClassVar[str] = "qr"
    nout: ClassVar[int] = 2

    def infer(self, a):
        m, n = _matrix_dims("qr", a)
        batch, k = a.type.shape[:-2], (m if self.complete else _k(m, n))
        return [a.type.with_shape(batch + (m, k)), a.type.with_shape(batch + (k, n))]

    def kernel(self, a):
        return tuple(torch.linalg.qr(a, mode="complete" if self.complete else "reduced"))

    def grad(self, inputs, outputs, output_grads):
        (a,), (q, r), (gq, gr) = inputs, outputs, output_grads
        _real_only("qr", a)
        m, n = a.type.shape[-2:]
        known = m is not None and n is not None
        if self.complete and known and m > n:
            raise GradientError(f"qr: no gradient for mode='complete' of a tall matrix (shape "
                                f"{format_shape(a.type.shape)}): Q's extra columns are not unique; "
                                f"use mode='reduced'")
        if known and m >= n:
            return [_qr_grad_tall(q, r, gq, gr)]
        # wide (or not known): a = [x | y], r = [r1 | r2] with x = q r1 square (k = R's rows)
        # and y = q r2, which moves r2 only; for a tall matrix y and r2 are empty
        k = dim(r, -2)
        if self.complete:   # a run-time error if tall; the slices keep the shapes consistent
            k = minimum(dim(a, -2), dim(a, -1))
            r = check(r[..., :k, :], less_equal(dim(a, -2), dim(a, -1)),
                      "qr: no gradient for mode='complete' of a tall matrix: Q's extra columns "
                      "are not unique; use mode='reduced'")
            q, gq, gr = q[..., :, :k], gq[..., :, :k], gr[..., :k, :]
        y, r1 = a[..., :, k:], r[..., :, :k]
        gr1, gr2 = gr[..., :, :k], gr[..., :, k:]
        gx = _qr_grad_tall(q, r1, gq + matmul(y, _mT(gr2)), gr1)
        return [concatenate([gx, matmul(q, gr2)], axis=-1)]


def _qr_grad_tall(q, r, gq, gr):
    """The vjp of the reduced QR of a matrix with m >= n and full column rank (PyTorch's
    linalg_qr_backward): (gQ + Q copyltu(M)) R^-T with M = triu(gR R^T - Q^T gQ)."""
    mm = Triangle(0, upper=True)(matmul(gr, _mT(r)) - matmul(_mT(q), gq))
    sym = mm + _mT(Triangle(1, upper=True)(mm))   # M + M^T with M's diagonal once
    ga = matmul(q, sym) + gq
    return SolveTriangular(lower=True, left=False)(_mT(r), ga)   # ga @ R^-T


@user_errors
def qr(a, mode="reduced"):
    """numpy.linalg.qr: (Q, R) with a = Q @ R, Q orthonormal, R upper triangular. mode
    'reduced' (Q (m, k), R (k, n)), 'complete' (Q (m, m), R (m, n)) or 'r' (R only)."""
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r} "
                         f"('raw' and 'economic' are not provided)")
    (a,) = _linalg_inputs("qr", a)
    q, r = Qr(mode == "complete")(a)
    return r if mode == "r" else QRResult(q, r)


# ---- symmetric eigendecomposition -----------------------------------------------------------

def _uplo(fn: str, UPLO) -> bool:
    if UPLO not in ("L", "U"):
        raise ValueError(f"{fn}: UPLO must be 'L' or 'U', got {UPLO!r}")
    return UPLO == "U"


@dataclass(frozen=True)
class Eigh(Op):
    """(eigenvalues ascending, eigenvectors as columns) of symmetric matrices, reading the
    lower (or `upper`) triangle."""
    upper: bool = False
    name: ClassVar[str] = "eigh"
    nout: ClassVar[int] = 2

    def infer(self, a):
        n = _square("eigh", a)
        return [TensorType(_REAL.get(a.dtype, a.dtype), a.type.shape[:-2] + (n,)), a.type]

    def kernel(self, a):
        return tuple(torch.linalg.eigh(a, UPLO="U" if self.upper else "L"))

    def grad(self, inputs, outputs, output_grads):
        # V (diag(gL) + skew(V^T gV) / E) V^T: symmetric, a gradient for the symmetric input
        (a,), (w, v), (gw, gv) = inputs, outputs, output_grads
        _real_only("eigh", a)
        if _is_zero(gv):
            return [matmul(v * _row(gw), _mT(v))]
        gap, distinct, eye = _gaps(w)
        core = _skew(matmul(_mT(v), gv)) * 0.5 / gap + eye * _row(gw)
        ga = matmul(matmul(v, core), _mT(v))
        return [check(ga, distinct, _REPEATED.format(fn="eigh", vectors="the eigenvectors",
                                                     what="eigenvalues", values="eigvalsh"))]


@dataclass(frozen=True)
class Eigvalsh(Op):
    """The eigenvalues of symmetric matrices, ascending."""
    upper: bool = False
    name: ClassVar[str] = "eigvalsh"

    def infer(self, a):
        n = _square("eigvalsh", a)
        return [TensorType(_REAL.get(a.dtype, a.dtype), a.type.shape[:-2] + (n,))]

    def kernel(self, a):
        return torch.linalg.eigvalsh(a, UPLO="U" if self.upper else "L")

    def grad(self, inputs, outputs, output_grads):
        (a,), (gw,) = inputs, output_grads
        _real_only("eigvalsh", a)
        _, v = Eigh(self.upper)(a)
        return [matmul(v * _row(gw), _mT(v))]


@user_errors
def eigh(a, UPLO="L"):
    """numpy.linalg.eigh: (eigenvalues ascending, eigenvectors as columns) of symmetric
    matrices, reading the lower ('L') or upper ('U') triangle."""
    upper = _uplo("eigh", UPLO)
    (a,) = _linalg_inputs("eigh", a)
    return EighResult(*Eigh(upper)(a))


@user_errors
def eigvalsh(a, UPLO="L"):
    """numpy.linalg.eigvalsh: the eigenvalues of symmetric matrices, ascending."""
    upper = _uplo("eigvalsh", UPLO)
    (a,) = _linalg_inputs("eigvalsh", a)
    return Eigvalsh(upper)(a)


# ---- pseudo-inverse -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Pinv(Op):
    """The Moore-Penrose pseudo-inverse of a, where singular values at most rtol * max(S)
    count as zero (rtol: a real scalar, or one per matrix of the batch)."""
    hermitian: bool = False
    name: ClassVar[str] = "pinv"

    def infer(self, a, rtol):
        m, n = _matrix_dims("pinv", a)
        try:
            broadcast_shapes(a.type.shape[:-2], rtol.type.shape)
        except ShapeError:
            raise ShapeError(f"pinv: rtol of shape {format_shape(rtol.type.shape)} does not broadcast "
                             f"against the batch of matrices {format_shape(a.type.shape)}") from None
        return [a.type.with_shape(a.type.shape[:-2] + (n, m))]

    def kernel(self, a, rtol):
        return torch.linalg.pinv(a, rtol=rtol, hermitian=self.hermitian)

    def grad(self, inputs, outputs, output_grads):
        # where the rank is locally constant: -P^T g P^T + (I - A P) g^T P P^T + P^T P g^T (I - P A)
        (a, _), (p,), (g,) = inputs, outputs, output_grads
        _real_only("pinv", a)
        pt, gt = _mT(p), _mT(g)
        left = gt - matmul(a, matmul(p, gt))          # (I - A P) g^T
        right = gt - matmul(matmul(gt, p), a)         # g^T (I - P A)
        return [-matmul(matmul(pt, g), pt) + matmul(matmul(left, p), pt) + matmul(pt, matmul(p, right)),
                None]


class _Unset:
    def __repr__(self):
        return "<unset>"


_UNSET = _Unset()


@user_errors
def pinv(a, rcond=None, hermitian=False, *, rtol=_UNSET):
    """numpy.linalg.pinv: singular values at most rcond times the largest are taken as zero;
    rcond defaults to 1e-15, or with rtol=None to max(m, n) * eps. rcond/rtol may hold one
    value per matrix of the batch."""
    (a,) = _linalg_inputs("pinv", a)
    m, n = _matrix_dims("pinv", a)
    if rcond is not None and rtol is not _UNSET:
        raise ValueError("pinv: give rcond or rtol, not both")
    real = _REAL.get(a.dtype, a.dtype)
    if rcond is None:
        if rtol is _UNSET:
            rcond = 1e-15
        elif rtol is None:
            eps = float(np.finfo(real).eps)
            rcond = max(m, n) * eps if m is not None and n is not None else \
                cast_to(maximum(dim(a, -2), dim(a, -1)), real) * eps
        else:
            rcond = rtol
    return Pinv(bool(hermitian))(a, cast_to(as_variable(rcond), real))
