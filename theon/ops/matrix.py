"""Matrix and vector helpers with NumPy's semantics: diagonal, diag, trace, kron, cross,
diff, meshgrid, the norms (numpy.linalg's norm, matrix_norm, vector_norm), vecdot,
matrix_rank, matrix_power and multi_dot. Diagonals are two ops (taking one, and its
adjoint, placing one); the rest are compositions of existing ops (the spectral norms of
svdvals), so their gradients come from those."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..errors import DTypeError, ShapeError
from ..graph import TensorType, format_shape
from .axes import normalize_axis
from .base import Op, as_variable, user_errors
from .broadcast import broadcast_to
from .constructors import ones_like
from .decompositions import Eigvalsh, Svdvals
from .dims import dim
from .elementwise import abs, cast_to, conj, greater, maximum, multiply, not_equal, power, sqrt, subtract, unify
from .linalg import _linalg_inputs, _square, inv, matmul
from .reduce import amax, amin, any, sum
from .shape import concatenate, expand_dims, moveaxis, reshape, stack

__all__ = ["Diagonal", "DiagonalEmbed", "diagonal", "diag", "trace", "kron", "cross", "diff",
           "meshgrid", "norm", "matrix_norm", "vector_norm", "vecdot", "matrix_rank", "matrix_power",
           "multi_dot"]


def _diag_len(n, m, offset):
    if n is None or m is None:
        return None
    return max(0, min(n, m - offset) if offset >= 0 else min(n + offset, m))


@dataclass(frozen=True)
class Diagonal(Op):
    """The `offset` diagonal of the last two axes, as the last axis (axis1/axis2 have
    been moved last by the public function)."""
    offset: int = 0
    name: ClassVar[str] = "diagonal"

    def infer(self, x):
        if x.ndim < 2:
            raise ShapeError(f"diagonal needs at least 2 dims, got shape {x.type.shape}")
        *batch, n, m = x.type.shape
        return [x.type.with_shape(tuple(batch) + (_diag_len(n, m, self.offset),))]

    def kernel(self, x):
        return torch.diagonal(x, self.offset, -2, -1).clone()

    def grad(self, inputs, outputs, output_grads):
        return [DiagonalEmbed(self.offset)(output_grads[0], inputs[0])]


@dataclass(frozen=True)
class DiagonalEmbed(Op):
    """Zeros of `like`'s shape with `d` on the `offset` diagonal of the last two axes (the
    adjoint of Diagonal)."""
    offset: int = 0
    name: ClassVar[str] = "diagonal_embed"

    def infer(self, d, like):
        return [like.type.with_dtype(d.dtype)]

    def kernel(self, d, like):
        out = torch.zeros(like.shape, dtype=d.dtype, device=d.device)
        torch.diagonal(out, self.offset, -2, -1).copy_(d)
        return out

    def grad(self, inputs, outputs, output_grads):
        return [Diagonal(self.offset)(output_grads[0]), None]


@user_errors
def diagonal(x, offset=0, axis1=0, axis2=1):
    """numpy.diagonal: the diagonal of axes (axis1, axis2), appended as the last axis."""
    x = as_variable(x)
    if x.ndim < 2:
        raise ShapeError(f"diagonal: x needs at least 2 dims, got shape {x.type.shape}")
    a1, a2 = (normalize_axis(a, x.ndim)[0] for a in (axis1, axis2))
    if a1 == a2:
        raise ShapeError(f"diagonal: axis1 and axis2 must differ, got {axis1} and {axis2}")
    if (a1, a2) != (x.ndim - 2, x.ndim - 1):
        x = moveaxis(x, [a1, a2], [x.ndim - 2, x.ndim - 1])
    return Diagonal(int(offset))(x)


@user_errors
def diag(v, k=0):
    """numpy.diag: of a 1-D v, the square matrix with v on diagonal k; of a 2-D v, its
    diagonal k."""
    v = as_variable(v)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ShapeError(f"diag: input must be 1-D or 2-D, got shape {v.type.shape}")
    n = dim(v, 0) + builtins_abs(int(k))
    like = broadcast_to(as_variable(np.zeros((), "bool")), (n, n))
    return DiagonalEmbed(int(k))(v, like)


def builtins_abs(k: int) -> int:
    return k if k >= 0 else -k


@user_errors
def trace(x, offset=0, axis1=0, axis2=1, dtype=None):
    """numpy.trace: the sum of a diagonal (over the remaining axes' grid)."""
    return sum(diagonal(x, offset, axis1, axis2), axis=-1, dtype=dtype)


@user_errors
def kron(a, b):
    """numpy.kron: the Kronecker product (block (i, j) of the result is a[i, j] * b)."""
    a, b = as_variable(a), as_variable(b)
    nd = max(a.ndim, b.ndim)
    a = reshape(a, (1,) * (nd - a.ndim) + tuple(dim(a, i) for i in range(a.ndim))) if a.ndim < nd else a
    b = reshape(b, (1,) * (nd - b.ndim) + tuple(dim(b, i) for i in range(b.ndim))) if b.ndim < nd else b
    if nd == 0:
        return a * b
    # a's axes at even positions, b's at odd ones: out[i0, j0, i1, j1, ...] = a[i0, i1] b[j0, j1]
    ea = reshape(a, tuple(d for i in range(nd) for d in (dim(a, i), 1)))
    eb = reshape(b, tuple(d for i in range(nd) for d in (1, dim(b, i))))
    return reshape(ea * eb, tuple(dim(a, i) * dim(b, i) for i in range(nd)))


@user_errors
def cross(a, b, axis=-1):
    """numpy.cross of 3-vectors along `axis` (a and b broadcast)."""
    a, b = as_variable(a), as_variable(b)
    for name, v in (("a", a), ("b", b)):
        if v.ndim == 0:
            raise ShapeError(f"cross: {name} must have at least one dimension")
        (ax,) = normalize_axis(axis, v.ndim)
        if v.type.shape[ax] not in (3, None):  # an unknown length is checked by the slicing
            raise ShapeError(f"cross: {name} must have length 3 along axis {axis}, got shape "
                             f"{v.type.shape} (2-vectors are deprecated in NumPy 2 and not provided)")
    a = moveaxis(a, axis, -1)
    b = moveaxis(b, axis, -1)
    a0, a1, a2 = (a[..., i] for i in range(3))
    b0, b1, b2 = (b[..., i] for i in range(3))
    out = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return moveaxis(out, -1, axis) if axis not in (-1, out.ndim - 1) else out


@user_errors
def diff(x, n=1, axis=-1, prepend=None, append=None):
    """numpy.diff: the n-th forward difference along `axis` (bools give not_equal)."""
    x = as_variable(x)
    if x.ndim == 0:
        raise ShapeError("diff: x must have at least one dimension")
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"diff: order n must be a non-negative int, got {n!r}")
    (ax,) = normalize_axis(axis, x.ndim)
    parts = [_along(p, x, ax) for p in (prepend,) if p is not None] + [x] \
        + [_along(p, x, ax) for p in (append,) if p is not None]
    if len(parts) > 1:
        x = concatenate(parts, axis=ax)
    head = (slice(None),) * ax
    for _ in range(int(n)):
        hi, lo = x[head + (slice(1, None),)], x[head + (slice(None, -1),)]
        x = not_equal(hi, lo) if x.dtype == "bool" else subtract(hi, lo)
    return x


def _along(p, x, ax):
    """prepend/append values: a scalar is broadcast to one slice of x along the axis."""
    p = as_variable(p)
    if p.ndim == 0:
        shape = tuple(1 if i == ax else dim(x, i) for i in range(x.ndim))
        return broadcast_to(p, shape)
    return p


@user_errors
def meshgrid(*xs, indexing="xy", sparse=False):
    """numpy.meshgrid: coordinate arrays from 1-D coordinate vectors ('xy' swaps the first
    two output axes, Cartesian style; 'ij' is matrix indexing)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    xs = [as_variable(x) for x in xs]
    for i, x in enumerate(xs):
        if x.ndim != 1:
            xs[i] = reshape(x, (-1,))
    k = len(xs)
    sizes = [dim(x, 0) for x in xs]
    order = list(range(k))
    if indexing == "xy" and k >= 2:
        order[0], order[1] = 1, 0
    shape = [None] * k
    for i in range(k):
        shape[order[i]] = sizes[i]
    out = []
    for i, x in enumerate(xs):
        view = tuple(sizes[i] if j == order[i] else 1 for j in range(k))
        y = reshape(x, view)
        out.append(y if sparse else broadcast_to(y, tuple(shape)))
    return out


@user_errors
def norm(x, ord=None, axis=None, keepdims=False):
    """numpy.linalg.norm. Vector norms (axis an int, or x 1-D): 2 (default), 1, inf, -inf,
    0 (count of nonzeros) and any other p; matrix norms (axis a pair, or x 2-D with ord
    given): 'fro' (default), 'nuc' (sum of singular values), 1, -1, 2 (largest singular
    value), -2 (smallest), inf, -inf."""
    x = as_variable(x)
    if x.dtype.startswith("complex") or x.dtype == "bool" or not x.dtype.startswith("float"):
        x = abs(x) if x.dtype.startswith("complex") else cast_to(x, "float64")
    if axis is None:
        if ord is None or (ord == "fro" and x.ndim == 2):
            out = sqrt(sum(x * x))
            return reshape(out, (1,) * x.ndim) if keepdims else out
        if x.ndim == 1:
            axis = (0,)
        elif x.ndim == 2:
            axis = (0, 1)
        else:
            raise ShapeError(f"norm: ord={ord!r} with axis=None needs a 1-D or 2-D x, got {x.ndim}-D")
    axes = normalize_axis(axis, x.ndim)
    if isinstance(axis, (tuple, list)) and len(axis) == 2:
        return _matrix_norm(x, ord, [normalize_axis(a, x.ndim)[0] for a in axis], keepdims)
    if len(axes) != 1:
        raise ShapeError(f"norm: axis must be an int or a pair, got {axis!r}")
    return _vector_norm(x, ord, axes[0], keepdims)


def _vector_norm(x, ord, ax, keepdims):
    """The ord-norm over axis (or axes) `ax` of x (x real: complex was made |x|)."""
    a = abs(x)
    if ord is None or ord == 2:
        return sqrt(sum(x * x, axis=ax, keepdims=keepdims))
    if ord == np.inf:
        return amax(a, axis=ax, keepdims=keepdims)
    if ord == -np.inf:
        return amin(a, axis=ax, keepdims=keepdims)
    if ord == 0:
        return sum(cast_to(not_equal(x, 0), x.dtype), axis=ax, keepdims=keepdims)
    if ord == 1:
        return sum(a, axis=ax, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    p = float(ord)
    return power(sum(power(a, p), axis=ax, keepdims=keepdims), 1.0 / p)


def _matrix_norm(x, ord, axes, keepdims):
    r, c = axes
    if r == c:
        raise ShapeError(f"norm: the two axes must differ, got {axes}")
    if ord is None or ord == "fro":
        out = sqrt(sum(x * x, axis=(r, c), keepdims=keepdims))
        return out
    if ord in ("nuc", 2, -2):   # from the singular values of the (r, c) matrices
        s = Svdvals()(moveaxis(x, [r, c], [-2, -1]))
        out = {"nuc": sum, 2: amax, -2: amin}[ord](s, axis=-1)
        return expand_dims(out, sorted((r, c))) if keepdims else out
    a = abs(x)
    if ord in (1, -1):   # largest/smallest column sum
        sums = sum(a, axis=r, keepdims=True)
        pick = amax if ord == 1 else amin
        out = pick(sums, axis=c, keepdims=True)
    elif ord in (np.inf, -np.inf):   # largest/smallest row sum
        sums = sum(a, axis=c, keepdims=True)
        pick = amax if ord == np.inf else amin
        out = pick(sums, axis=r, keepdims=True)
    else:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices ('fro', 'nuc', 1, -1, 2, -2, "
                         f"inf, -inf are)")
    return out if keepdims else reshape(out, tuple(dim(x, i) for i in range(x.ndim) if i not in (r, c)))


def _float_for_norm(x):
    """Norms are of |x| in a float dtype: complex becomes its modulus, integers float64."""
    if x.dtype.startswith("complex"):
        return abs(x)
    return x if x.dtype.startswith("float") else cast_to(x, "float64")


@user_errors
def vector_norm(x, axis=None, keepdims=False, ord=2):
    """numpy.linalg.vector_norm: the ord-norm over `axis` (an int, a tuple, or None for all
    elements as one vector); ord is any p, inf, -inf or 0."""
    x = _float_for_norm(as_variable(x))
    if isinstance(ord, str):
        raise ValueError(f"vector_norm: invalid norm order {ord!r} for vectors")
    axes = tuple(range(x.ndim)) if axis is None else normalize_axis(axis, x.ndim)
    if x.ndim == 0:
        return abs(x)
    return _vector_norm(x, ord, axes, keepdims)


@user_errors
def matrix_norm(x, keepdims=False, ord="fro"):
    """numpy.linalg.matrix_norm: the ord-norm of the last two axes ('fro', 'nuc', 1, -1, 2,
    -2, inf, -inf)."""
    x = _float_for_norm(as_variable(x))
    if x.ndim < 2:
        raise ShapeError(f"matrix_norm: needs a (batch of) matrices, got shape {format_shape(x.type.shape)}")
    return _matrix_norm(x, ord, [x.ndim - 2, x.ndim - 1], keepdims)


@user_errors
def vecdot(x1, x2, axis=-1):
    """numpy.vecdot: sum(conj(x1) * x2) along `axis`, the other axes broadcast; the dtype
    is the operands' common one."""
    x1, x2 = unify(x1, x2)
    for name, v in (("x1", x1), ("x2", x2)):
        if v.ndim == 0:
            raise ShapeError(f"vecdot: {name} must have at least one dimension")
    # the vectors are each operand's `axis` (a gufunc's core dim); the rest broadcast
    x1, x2 = moveaxis(x1, axis, -1), moveaxis(x2, axis, -1)
    n1, n2 = x1.type.shape[-1], x2.type.shape[-1]
    if n1 is not None and n2 is not None and n1 != n2:
        raise ShapeError(f"vecdot: x1 and x2 differ in length along axis {axis} ({n1} vs {n2})")
    dtype = x1.dtype
    if dtype.startswith("complex"):
        x1 = conj(x1)
    return sum(multiply(x1, x2), axis=-1, dtype=dtype)


@user_errors
def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):
    """numpy.linalg.matrix_rank: the number of singular values above tol (default
    max(S) * rtol, rtol defaulting to max(m, n) * eps); a 0-d or 1-D A gives 1 unless all
    its entries are zero."""
    A = as_variable(A)
    if A.ndim < 2:
        return cast_to(any(not_equal(A, 0)), "int64")
    if tol is not None and rtol is not None:
        raise ValueError("matrix_rank: give tol or rtol, not both")
    (a,) = _linalg_inputs("matrix_rank", A)
    s = abs(Eigvalsh()(a)) if hermitian else Svdvals()(a)
    if tol is None:
        if rtol is None:
            m, n = dim(a, -2), dim(a, -1)   # symbolic where unknown until the call
            size = max(m, n) if isinstance(m, int) and isinstance(n, int) else cast_to(maximum(m, n), s.dtype)
            rtol = size * float(np.finfo(s.dtype).eps)
        else:
            rtol = expand_dims(cast_to(as_variable(rtol), s.dtype), -1)
        tol = amax(s, axis=-1, keepdims=True) * rtol
    else:
        tol = expand_dims(cast_to(as_variable(tol), s.dtype), -1)
    return sum(greater(s, tol), axis=-1)


@user_errors
def matrix_power(a, n):
    """numpy.linalg.matrix_power: a @ a @ ... (n factors) by repeated squaring; n = 0 gives
    the identity (a's dtype), n < 0 powers of inv(a)."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"matrix_power: the exponent must be an int, got {n!r}")
    a = as_variable(a)
    _square("matrix_power", a)
    if a.dtype == "float16":
        raise DTypeError("matrix_power: float16 is not supported by linear algebra kernels; cast to float32")
    n = int(n)
    if n == 0:
        return DiagonalEmbed(0)(ones_like(Diagonal(0)(a)), a)
    if n < 0:
        a, n = inv(a), -n
    result, base = None, a
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


@user_errors
def multi_dot(arrays):
    """numpy.linalg.multi_dot: the product of a chain of matrices (the first may be a 1-D
    row vector and the last a 1-D column vector)."""
    arrays = [as_variable(a) for a in arrays]
    if len(arrays) < 2:
        raise ValueError("multi_dot: needs at least two arrays")
    for i, a in enumerate(arrays):
        ends = i in (0, len(arrays) - 1)
        if a.ndim != 2 and not (ends and a.ndim == 1):
            raise ShapeError(f"multi_dot: array {i} must be 2-D{' (or 1-D at the ends)' if ends else ''}, "
                             f"got shape {format_shape(a.type.shape)}")
    out = arrays[0]
    for a in arrays[1:]:
        out = matmul(out, a)
    return out
