"""Linear algebra: matmul (`@`), dot, tensordot, einsum, outer, and the matrix
decompositions and solves (solve, inv, cholesky, det, slogdet), batched as NumPy is.

Gradients are symbolic and built from these same ops, so second derivatives work.
Einsum is the workhorse: tensordot and dot lower to it, and the gradient of an einsum
is another einsum with the subscripts permuted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..errors import AxisError, DTypeError, GradientError, ShapeError
from ..graph import TensorType, format_shape, is_float
from .axes import broadcast_shapes
from .base import Op, as_variable, result_dtype, user_errors
from .broadcast import sum_to_like
from .constructors import ones_like
from .elementwise import cast_to, conj, multiply, unify
from .shape import ravel, reshape


def _conj(x):
    """conj(x) for complex x (products' gradients conjugate the other factor), else x."""
    return conj(x) if x.dtype.startswith("complex") else x


def _unbroadcast(grad, like, core: int):
    """`grad` summed back to `like`'s shape; nothing to do when `like` has no batch dims."""
    if grad.type.shape == like.type.shape and like.ndim == core:
        return grad
    return sum_to_like(grad, like)


# ---- matrix transpose -------------------------------------------------------------------

@dataclass(frozen=True)
class MatrixTranspose(Op):
    """Swap the last two axes (NumPy's `matrix_transpose`, `x.mT`): a view."""
    name: ClassVar[str] = "matrix_transpose"
    view: ClassVar[bool] = True

    def infer(self, x):
        if x.ndim < 2:
            raise ShapeError(f"matrix_transpose needs at least 2 dims, got shape {format_shape(x.type.shape)}")
        s = x.type.shape
        return [x.type.with_shape(s[:-2] + (s[-1], s[-2]))]

    def kernel(self, x):
        return x.transpose(-1, -2)

    def grad(self, inputs, outputs, output_grads):
        return [MatrixTranspose()(output_grads[0])]


@user_errors
def matrix_transpose(x):
    return MatrixTranspose()(as_variable(x))


# ---- matmul -----------------------------------------------------------------------------

def _matmul_shape(sa: tuple, sb: tuple) -> tuple:
    fa, fb = format_shape(sa), format_shape(sb)
    if not sa or not sb:
        raise ShapeError(f"{fa} @ {fb}: matmul does not take scalars (use multiply)")
    a2 = (1,) + sa if len(sa) == 1 else sa
    b2 = sb + (1,) if len(sb) == 1 else sb
    ka, kb = a2[-1], b2[-2]
    if ka is not None and kb is not None and ka != kb:
        raise ShapeError(f"{fa} @ {fb}: inner dimensions {ka} and {kb} differ")
    try:
        batch = broadcast_shapes(a2[:-2], b2[:-2])
    except ShapeError:
        raise ShapeError(f"{fa} @ {fb}: batch dimensions {format_shape(a2[:-2])} and "
                         f"{format_shape(b2[:-2])} cannot be broadcast together") from None
    return batch + (a2[-2:-1] if len(sa) > 1 else ()) + (b2[-1:] if len(sb) > 1 else ())


def _matmul_by_sum(a, b):
    """matmul as multiply-and-sum, for dtypes BLAS lacks (bool; integers on CUDA)."""
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    if a.dtype == torch.bool:
        a2, b2 = a2.to(torch.int64), b2.to(torch.int64)
    r = (a2.unsqueeze(-1) * b2.unsqueeze(-3)).sum(-2)
    if b.ndim == 1:
        r = r.squeeze(-1)
    if a.ndim == 1:
        r = r.squeeze(-1 if b.ndim == 1 else -2)
    return r != 0 if a.dtype == torch.bool else r.to(a.dtype)


@dataclass(frozen=True)
class Matmul(Op):
    name: ClassVar[str] = "matmul"
    supports_out: ClassVar[bool] = True

    def infer(self, a, b):
        if a.dtype != b.dtype:
            raise DTypeError(f"inputs must share one dtype, got {a.dtype} and {b.dtype}")
        return [TensorType(a.dtype, _matmul_shape(a.type.shape, b.type.shape))]

    def kernel(self, a, b, out=None):
        if a.dtype == torch.bool or (a.device.type != "cpu" and not (a.is_floating_point() or a.is_complex())):
            r = _matmul_by_sum(a, b)
            return r if out is None else out.copy_(r)
        return torch.matmul(a, b) if out is None else torch.matmul(a, b, out=out)

    def grad(self, inputs, outputs, output_grads):
        (a, b), (g,) = inputs, output_grads
        if not is_float(a.dtype):
            return [None, None]
        a, b = _conj(a), _conj(b)   # complex: g @ b^H and a^H @ g (torch's convention)
        if a.ndim == 1 and b.ndim == 1:
            return [g * b, g * a]
        if a.ndim == 1:     # (k,) @ (..., k, m) -> (..., m)
            ga, gb = einsum("...km,...m->...k", b, g), einsum("k,...m->...km", a, g)
        elif b.ndim == 1:   # (..., n, k) @ (k,) -> (..., n)
            ga, gb = einsum("...n,k->...nk", g, b), einsum("...nk,...n->...k", a, g)
        elif b.ndim == 2 and a.ndim > 2:
            # (..., n, k) @ (k, m): the weight's gradient is one (k, N) @ (N, m) product over
            # all rows, not a batch of products summed afterwards
            rows_a = reshape(a, (-1, a.shape[-1]))
            rows_g = reshape(g, (-1, g.shape[-1]))
            ga, gb = matmul(g, matrix_transpose(b)), matmul(matrix_transpose(rows_a), rows_g)
        else:
            ga, gb = matmul(g, matrix_transpose(b)), matmul(matrix_transpose(a), g)
        return [_unbroadcast(ga, a, min(a.ndim, 2)), _unbroadcast(gb, b, min(b.ndim, 2))]


@user_errors
def matmul(a, b):
    """Matrix product with NumPy's rules: 1-D operands are promoted, batch dims broadcast."""
    a, b = unify(a, b)
    return Matmul()(a, b)


@user_errors
def dot(a, b):
    """NumPy's dot: multiply for scalars, matmul for 1-D/2-D, a sum over a's last axis
    and b's second-to-last axis for N-D."""
    a, b = unify(a, b)
    if a.ndim == 0 or b.ndim == 0:
        return multiply(a, b)
    if a.ndim == 1 or b.ndim <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=((a.ndim - 1,), (b.ndim - 2,)))


@user_errors
def vdot(a, b):
    """Sum of the products of the flattened operands (real dtypes: no conjugation)."""
    a, b = (x if x.ndim == 1 else _ravel(x) for x in unify(a, b))
    return _make_einsum("a,a->", [a, b])


def _ravel(x):
    return ravel(x)


# ---- einsum -----------------------------------------------------------------------------

_LABELS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _letters(n: int, skip: str = "") -> str:
    free = [c for c in _LABELS if c not in skip]
    if n > len(free):
        raise ShapeError(f"einsum: needs {n} index labels, only {len(free)} remain")
    return "".join(free[:n])


def _canonical_subscripts(subscripts: str, ndims: list) -> str:
    """Explicit subscripts ('ij,jk->ik') with every ellipsis spelled out as fresh labels."""
    if not isinstance(subscripts, str):
        raise TypeError("einsum: subscripts must be a string such as 'ij,jk->ik'")
    spec = subscripts.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ShapeError(f"einsum {subscripts!r}: {len(terms)} operand subscripts for {len(ndims)} operands")
    for t in terms + [rhs]:
        bad = set(t.replace("...", "")) - set(_LABELS)
        if bad or t.count("...") > 1:
            raise ShapeError(f"einsum {subscripts!r}: invalid subscript {t!r}")
    ell = []
    for i, (t, nd) in enumerate(zip(terms, ndims)):
        named = len(t.replace("...", ""))
        if "..." not in t and named != nd or "..." in t and named > nd:
            raise ShapeError(f"einsum {subscripts!r}: operand {i} has rank {nd} but subscript {t!r} "
                             f"names {named} dims")
        ell.append(nd - named if "..." in t else 0)
    used = "".join(t.replace("...", "") for t in terms)
    fresh = _letters(max(ell, default=0), skip=used + rhs)
    expanded = [t.replace("...", fresh[len(fresh) - e:]) for t, e in zip(terms, ell)]
    if arrow:
        if "..." not in rhs and any(ell):
            raise ShapeError(f"einsum {subscripts!r}: the output needs '...' for the operands' "
                             f"ellipsis dims")
        out = rhs.replace("...", fresh)
        for c in out:
            if out.count(c) > 1 or c not in used + fresh:
                raise ShapeError(f"einsum {subscripts!r}: output label {c!r} repeated or not in the inputs")
    else:
        out = fresh + "".join(sorted(c for c in set(used) if used.count(c) == 1))
    return ",".join(expanded) + "->" + out


def _renamed(spelled: str) -> str:
    """Labels renamed in order of appearance, so equal contractions are equal ops."""
    rename = {}
    for c in spelled:
        if c in _LABELS and c not in rename:
            rename[c] = _LABELS[len(rename)]
    return "".join(rename.get(c, c) for c in spelled)


def _split(subscripts: str):
    lhs, _, out = subscripts.partition("->")
    return lhs.split(","), out


def _label_dims(subscripts: str, shapes: list) -> dict:
    """Each label's size: known sizes must agree (size 1 broadcasts), else None."""
    terms, _ = _split(subscripts)
    seen: dict = {}
    for i, (t, s) in enumerate(zip(terms, shapes)):
        if len(t) != len(s):
            raise ShapeError(f"einsum {subscripts!r}: operand {i} has rank {len(s)}, subscript {t!r}")
        for c, d in zip(t, s):
            seen.setdefault(c, []).append((i, d))
    dims = {}
    for c, occ in seen.items():
        known = {d for _, d in occ if d is not None and d != 1}
        if len(known) > 1:
            detail = ", ".join(f"{d} in operand {i}" for i, d in occ)
            raise ShapeError(f"einsum {subscripts!r}: index {c!r} has sizes {detail}; shapes "
                             f"{', '.join(format_shape(s) for s in shapes)}")
        dims[c] = known.pop() if known else (None if any(d is None for _, d in occ) else 1)
    return dims


@dataclass(frozen=True)
class Einsum(Op):
    subscripts: str = "->"   # explicit, no ellipsis (see _canonical_subscripts)
    name: ClassVar[str] = "einsum"

    def infer(self, *xs):
        if len({x.dtype for x in xs}) > 1:
            raise DTypeError(f"inputs must share one dtype, got {', '.join(x.dtype for x in xs)}")
        terms, out = _split(self.subscripts)
        if len(terms) != len(xs):
            raise ShapeError(f"einsum {self.subscripts!r} takes {len(terms)} operands, got {len(xs)}")
        dims = _label_dims(self.subscripts, [x.type.shape for x in xs])
        return [TensorType(xs[0].dtype, tuple(dims[c] for c in out))]

    def kernel(self, *xs):
        if xs[0].dtype == torch.bool:
            return torch.einsum(self.subscripts, *[x.to(torch.int64) for x in xs]) != 0
        y = torch.einsum(self.subscripts, *xs)
        # torch sums small integers in int64 (a one-operand reduction); NumPy keeps the dtype
        return y if y.dtype == xs[0].dtype else y.to(xs[0].dtype)

    def grad(self, inputs, outputs, output_grads):
        if not is_float(inputs[0].dtype):
            return [None] * len(inputs)
        (g,) = output_grads
        terms, out = _split(self.subscripts)
        others = [_conj(x) for x in inputs]   # complex: the other operands conjugated
        return [_einsum_operand_grad(i, others, terms, out, g) for i in range(len(inputs))]


@dataclass(frozen=True)
class Einsum1(Einsum):
    """A one-operand einsum (transpose, diagonal, trace): torch may return a view of it."""
    view: ClassVar[bool] = True


def _einsum_operand_grad(i, inputs, terms, out, g):
    x, target = inputs[i], terms[i]
    subs = [t for j, t in enumerate(terms) if j != i] + [out]
    args = [v for j, v in enumerate(inputs) if j != i] + [g]
    # labels whose full size some other term carries (g carries every output label's)
    provided = set(out) | {c for j, t in enumerate(terms) if j != i
                           for c, d in zip(t, inputs[j].type.shape) if d is not None and d != 1}
    provided |= {c for c, d in zip(target, x.type.shape) if d == 1}
    if any(target.count(c) > 1 for c in target):
        # a repeated label reads a diagonal: give the repeats fresh labels and mask
        # the gradient to that diagonal.
        relabeled, spare = "", iter(_letters(len(target), skip="".join(terms) + out))
        for c in target:
            relabeled += next(spare) if c in relabeled else c
        subs.append(relabeled)
        args.append(DiagonalMask(target)(x))
        target = relabeled
    elif set(target) - provided:
        subs.append(target)   # labels no other term sizes: ones of x's shape supply them
        args.append(ones_like(x))
    grad = _make_einsum(",".join(subs) + "->" + target, args)
    # skip the reduction when no dim of x can have been broadcast
    others = set("".join(t for j, t in enumerate(terms) if j != i))
    if grad.type.shape == x.type.shape and all(
            d is not None and d != 1 or (d is None and c not in others) for c, d in zip(terms[i], x.type.shape)):
        return grad
    return sum_to_like(grad, x)


@dataclass(frozen=True)
class DiagonalMask(Op):
    """Ones where every repeated label of `subscript` indexes equal positions, else zeros
    (x's shape and dtype): the shape of an einsum gradient through a diagonal."""
    subscript: str = ""
    name: ClassVar[str] = "diagonal_mask"
    differentiable: ClassVar[bool] = False

    def infer(self, x):
        return [x.type]

    def kernel(self, x):
        mask = torch.ones((1,) * x.ndim, dtype=x.dtype, device=x.device)
        for pos, c in enumerate(self.subscript):
            first = self.subscript.index(c)
            if first != pos:
                n = x.shape[pos]
                shape = [1] * x.ndim
                shape[first], shape[pos] = n, n
                mask = mask * torch.eye(n, dtype=x.dtype, device=x.device).reshape(shape)
        return mask.expand(x.shape).contiguous()

    def grad(self, inputs, outputs, output_grads):
        return [None]


def _make_einsum(subscripts: str, operands):
    cls = Einsum1 if len(operands) == 1 else Einsum
    spelled = _canonical_subscripts(subscripts, [o.ndim for o in operands])
    _label_dims(spelled, [o.type.shape for o in operands])   # errors in the user's labels
    return cls(_renamed(spelled))(*operands)


@user_errors
def einsum(subscripts, *operands):
    """Einstein summation with NumPy's subscripts ('ij,jk->ik', '...ij->...ji', 'ii'), or
    NumPy's sublist form: einsum(a, [0, 1], b, [1, 2], [0, 2]) (ints name the indices,
    `...` the broadcast dims; the last list, if unpaired, is the output)."""
    if not isinstance(subscripts, str):
        subscripts, operands = _from_sublists((subscripts,) + operands)
    return _make_einsum(subscripts, unify(*operands))


def _from_sublists(args):
    """(subscripts string, operands) from einsum(op0, sublist0, op1, sublist1, ..., [out])."""
    pairs, out = list(args), None
    if len(pairs) % 2:
        out = pairs.pop()
    operands, terms = pairs[0::2], pairs[1::2]
    if not operands:
        raise ShapeError("einsum: give subscripts, or operands each followed by its list of indices")
    spelled = [_sublist_term(t) for t in terms]
    spec = ",".join(spelled)
    return (spec + "->" + _sublist_term(out) if out is not None else spec), operands


def _sublist_term(sublist) -> str:
    if isinstance(sublist, (str, bytes)) or not hasattr(sublist, "__iter__"):
        raise TypeError(f"einsum: a sublist must be a list of ints and ..., got {sublist!r}")
    text = ""
    for s in sublist:
        if s is Ellipsis:
            text += "..."
        elif isinstance(s, (int, np.integer)) and not isinstance(s, bool) and 0 <= s < len(_LABELS):
            text += _LABELS[int(s)]
        else:
            raise ShapeError(f"einsum: sublist index {s!r} must be an int in [0, {len(_LABELS)}) or ...")
    return text


@user_errors
def tensordot(a, b, axes=2):
    """Sum products over `axes` (an int N: a's last N with b's first N; or two sequences)."""
    a, b = unify(a, b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(a.ndim, b.ndim):
            raise ShapeError(f"tensordot: axes={n} is out of range for shapes "
                             f"{format_shape(a.type.shape)} and {format_shape(b.type.shape)}")
        ax_a, ax_b = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        ax_a, ax_b = ([v] if isinstance(v, (int, np.integer)) else list(v) for v in axes)
        if len(ax_a) != len(ax_b):
            raise ShapeError(f"tensordot: axes {axes} pair {len(ax_a)} axes of a with {len(ax_b)} of b")
        for ax, nd in ((ax_a, a.ndim), (ax_b, b.ndim)):
            for k, v in enumerate(ax):
                if not -nd <= v < nd:
                    raise AxisError(f"tensordot: axis {v} is out of range for rank {nd}")
                ax[k] = int(v) % nd
    for p, q in zip(ax_a, ax_b):
        da, db = a.type.shape[p], b.type.shape[q]
        if da is not None and db is not None and da != db:
            raise ShapeError(f"tensordot: shapes {format_shape(a.type.shape)} and {format_shape(b.type.shape)} "
                             f"differ along the summed axes ({da} vs {db} at axes {p} and {q})")
    la = _letters(a.ndim)
    lb = list(_letters(b.ndim, skip=la))
    for p, q in zip(ax_a, ax_b):
        lb[q] = la[p]
    out = "".join(c for k, c in enumerate(la) if k not in ax_a) + \
        "".join(c for k, c in enumerate(lb) if k not in ax_b)
    return _make_einsum(f"{la},{''.join(lb)}->{out}", [a, b])


@user_errors
def outer(a, b):
    """NumPy's outer: the flattened operands' outer product, shape (a.size, b.size)."""
    a, b = (x if x.ndim == 1 else _ravel(x) for x in unify(a, b))
    return _make_einsum("a,b->ab", [a, b])


# ---- triangular parts ----------------------------------------------------------------------

@dataclass(frozen=True)
class Triangle(Op):
    """The lower (tril) or upper (triu) triangle of the last two axes, from diagonal k."""
    k: int = 0
    upper: bool = False
    name: ClassVar[str] = "triangle"

    def infer(self, x):
        if x.ndim < 2:
            raise ShapeError(f"needs at least 2 dims, got shape {format_shape(x.type.shape)}")
        return [x.type]

    def kernel(self, x):
        return torch.triu(x, self.k) if self.upper else torch.tril(x, self.k)

    def grad(self, inputs, outputs, output_grads):
        return [self(output_grads[0])]


@user_errors
def tril(x, k=0):
    """The lower triangle of the last two axes (zeros above diagonal k), NumPy's tril."""
    return Triangle(int(k), upper=False)(as_variable(x))


@user_errors
def triu(x, k=0):
    """The upper triangle of the last two axes (zeros below diagonal k), NumPy's triu."""
    return Triangle(int(k), upper=True)(as_variable(x))


# ---- solves and decompositions ------------------------------------------------------------

def _linalg_inputs(fn: str, *values):
    """Inputs in one float dtype: integers become float64 as in NumPy; float16 is refused."""
    xs = [as_variable(v) for v in values]
    dtype = result_dtype(*xs)
    if dtype == "float16":
        raise DTypeError(f"{fn}: float16 is not supported by linear algebra kernels; cast to float32")
    if not is_float(dtype):
        dtype = "float64"
    return [cast_to(x, dtype) for x in xs]


def _square(fn: str, a) -> int | None:
    s = a.type.shape
    if len(s) < 2:
        raise ShapeError(f"{fn}: needs a (batch of) square matrices, got shape {format_shape(s)}")
    if s[-1] is not None and s[-2] is not None and s[-1] != s[-2]:
        raise ShapeError(f"{fn}: matrices must be square, got shape {format_shape(s)}")
    return s[-1] if s[-1] is not None else s[-2]


def _batch(fn: str, sa: tuple, sb: tuple, a, b) -> tuple:
    try:
        return broadcast_shapes(sa, sb)
    except ShapeError:
        raise ShapeError(f"{fn}: batch dimensions of {format_shape(a.type.shape)} and "
                         f"{format_shape(b.type.shape)} cannot be broadcast together") from None


def _check_dim(fn, what, d, n, a, b):
    if d is not None and n is not None and d != n:
        raise ShapeError(f"{fn}: a is {format_shape(a.type.shape)} but b is {format_shape(b.type.shape)} "
                         f"({what} {d} != {n})")


@dataclass(frozen=True)
class Solve(Op):
    """x with a @ x = b; `vector`: b is a batch of vectors (..., n), else of matrices (..., n, k)."""
    vector: bool = False
    name: ClassVar[str] = "solve"

    def infer(self, a, b):
        n = _square("solve", a)
        sb = b.type.shape
        if self.vector:
            if b.ndim < 1:
                raise ShapeError("solve: b must have at least 1 dim")
            _check_dim("solve", "rows", sb[-1], n, a, b)
            return [TensorType(a.dtype, _batch("solve", a.type.shape[:-2], sb[:-1], a, b) + (sb[-1] or n,))]
        if b.ndim < 2:
            raise ShapeError(f"solve: b must be a (batch of) matrices, got shape {format_shape(sb)}")
        _check_dim("solve", "rows", sb[-2], n, a, b)
        return [TensorType(a.dtype, _batch("solve", a.type.shape[:-2], sb[:-2], a, b) + (sb[-2] or n, sb[-1]))]

    def kernel(self, a, b):
        if self.vector:
            return torch.linalg.solve(a, b.unsqueeze(-1)).squeeze(-1)
        # as many dims as a, so torch never reads b as a batch of vectors
        b = b.reshape((1,) * (a.ndim - b.ndim) + tuple(b.shape))
        return torch.linalg.solve(a, b)

    def grad(self, inputs, outputs, output_grads):
        (a, b), (x,), (g,) = inputs, outputs, output_grads
        gb = Solve(self.vector)(matrix_transpose(a), g)
        if self.vector:
            ga = -einsum("...i,...j->...ij", gb, x)
        else:
            ga = -matmul(gb, matrix_transpose(x))
        return [_unbroadcast(ga, a, 2), _unbroadcast(gb, b, 1 if self.vector else 2)]


@user_errors
def solve(a, b):
    """x with a @ x = b. As NumPy 2: b is a vector only when it is 1-D, else (..., n, k)."""
    a, b = _linalg_inputs("solve", a, b)
    return Solve(b.ndim == 1)(a, b)


@dataclass(frozen=True)
class SolveTriangular(Op):
    """x with a @ x = b (left) or x @ a = b (right), reading only a's lower/upper triangle."""
    lower: bool = False
    left: bool = True
    name: ClassVar[str] = "solve_triangular"

    def infer(self, a, b):
        n = _square("solve_triangular", a)
        sb = b.type.shape
        if b.ndim < 2:
            raise ShapeError(f"solve_triangular: b must be a (batch of) matrices, got shape {format_shape(sb)}")
        _check_dim("solve_triangular", "rows" if self.left else "columns", sb[-2 if self.left else -1], n, a, b)
        batch = _batch("solve_triangular", a.type.shape[:-2], sb[:-2], a, b)
        core = (sb[-2] or n, sb[-1]) if self.left else (sb[-2], sb[-1] or n)
        return [TensorType(a.dtype, batch + core)]

    def kernel(self, a, b):
        return torch.linalg.solve_triangular(a, b, upper=not self.lower, left=self.left)

    def grad(self, inputs, outputs, output_grads):
        (a, b), (x,), (g,) = inputs, outputs, output_grads
        gb = SolveTriangular(not self.lower, self.left)(matrix_transpose(a), g)
        if self.left:
            ga = -matmul(gb, matrix_transpose(x))
        else:
            ga = -matmul(matrix_transpose(x), gb)
        ga = Triangle(0, upper=not self.lower)(ga)
        return [_unbroadcast(ga, a, 2), _unbroadcast(gb, b, 2)]


@user_errors
def solve_triangular(a, b, lower=False, left=True):
    """x with a @ x = b (or x @ a = b when left=False) for triangular a (SciPy's argument
    names; b is a (batch of) matrices)."""
    a, b = _linalg_inputs("solve_triangular", a, b)
    return SolveTriangular(bool(lower), bool(left))(a, b)


@dataclass(frozen=True)
class SquareOp(Op):
    """An op on a batch of square matrices that keeps their shape."""

    def infer(self, a):
        _square(self.name, a)
        return [a.type]


@dataclass(frozen=True)
class Inv(SquareOp):
    name: ClassVar[str] = "inv"
    torch_fn: ClassVar = staticmethod(torch.linalg.inv)

    def grad(self, inputs, outputs, output_grads):
        (y,), (g,) = outputs, output_grads
        yt = matrix_transpose(y)
        return [-matmul(matmul(yt, g), yt)]


@user_errors
def inv(a):
    (a,) = _linalg_inputs("inv", a)
    return Inv()(a)


@dataclass(frozen=True)
class Cholesky(SquareOp):
    """The lower factor L of a = L @ L.T (reads a's lower triangle)."""
    name: ClassVar[str] = "cholesky"
    torch_fn: ClassVar = staticmethod(torch.linalg.cholesky)

    def grad(self, inputs, outputs, output_grads):
        # Murray (2016), arXiv:1602.07527, as torch states it: the symmetric gradient
        # L^-T Phi(L^T gL) L^-1, with Phi taking the lower triangle and halving it.
        (L,), (g,) = outputs, output_grads
        p = Triangle()(matmul(matrix_transpose(L), g))
        s = (p + matrix_transpose(Triangle(-1)(p))) * 0.5
        s = SolveTriangular(lower=False, left=True)(matrix_transpose(L), s)
        return [SolveTriangular(lower=True, left=False)(L, s)]


@user_errors
def cholesky(a, *, upper=False):
    """numpy.linalg.cholesky: the lower factor L of a = L @ L^H of symmetric (Hermitian)
    positive-definite matrices, or with upper=True the upper factor L^H."""
    (a,) = _linalg_inputs("cholesky", a)
    lower = Cholesky()(a)
    return _conj(MatrixTranspose()(lower)) if upper else lower


@dataclass(frozen=True)
class Det(Op):
    name: ClassVar[str] = "det"
    torch_fn: ClassVar = staticmethod(torch.linalg.det)

    def infer(self, a):
        _square("det", a)
        return [a.type.with_shape(a.type.shape[:-2])]

    def grad(self, inputs, outputs, output_grads):
        # d det(A) / dA = adj(A)^T, which, unlike det(A) inv(A)^T, exists for singular A
        (a,), (g,) = inputs, output_grads
        return [einsum("...,...ji->...ij", g, Adjugate()(a))]


@dataclass(frozen=True)
class Adjugate(SquareOp):
    """adj(A), with A adj(A) = det(A) I, from the SVD so that singular matrices have one too:
    A = U S V^H gives adj(A) = conj(det V) det(U) V diag(prod_{j != i} s_j) U^H."""
    name: ClassVar[str] = "adjugate"

    def kernel(self, a):
        u, s, vh = torch.linalg.svd(a)
        n = s.shape[-1]
        ones = torch.ones_like(s[..., :1])
        # the product of the other singular values, without dividing (s may hold zeros)
        before = torch.cumprod(torch.cat([ones, s[..., :-1]], -1), -1)
        after = torch.cumprod(torch.cat([ones, s.flip(-1)[..., :-1]], -1), -1).flip(-1)
        others = (before * after).to(a.dtype)
        v, uh = vh.mH, u.mH
        phase = torch.linalg.det(vh) * torch.linalg.det(u)   # conj(det V) det(U)
        adj = (v * others.unsqueeze(-2)) @ uh
        return adj * phase.unsqueeze(-1).unsqueeze(-1) if n else adj

    def grad(self, inputs, outputs, output_grads):
        # adj(A) = det(A) A^-1 away from singular matrices: its vjp for G is
        # det(A) (<G, A^-1> A^-T - A^-T G A^-T) (the second derivative of det is exact there)
        (a,), (g,) = inputs, output_grads
        if a.dtype.startswith("complex"):
            raise GradientError("adjugate: no second derivative for complex matrices here")
        ai = inv(a)
        ait = matrix_transpose(ai)
        inner = einsum("...ij,...ij->...", g, ai)
        return [einsum("...,...ij->...ij", det(a) * inner, ait) - einsum("...,...ij->...ij", det(a),
                                                                      matmul(matmul(ait, g), ait))]


@user_errors
def det(a):
    (a,) = _linalg_inputs("det", a)
    return Det()(a)


@dataclass(frozen=True)
class Slogdet(Op):
    """(sign, log|det|) of a batch of square matrices."""
    name: ClassVar[str] = "slogdet"
    nout: ClassVar[int] = 2

    def infer(self, a):
        _square("slogdet", a)
        batch = a.type.shape[:-2]
        real = {"complex64": "float32", "complex128": "float64"}.get(a.dtype, a.dtype)
        return [TensorType(a.dtype, batch), TensorType(real, batch)]

    def kernel(self, a):
        return tuple(torch.linalg.slogdet(a))

    def grad(self, inputs, outputs, output_grads):
        (a,), (_, g) = inputs, output_grads    # the sign is piecewise constant
        return [einsum("...,...ji->...ij", g, inv(a))]


@user_errors
def slogdet(a):
    (a,) = _linalg_inputs("slogdet", a)
    return tuple(Slogdet()(a))


__all__ = [
    "matmul", "dot", "vdot", "tensordot", "einsum", "outer", "matrix_transpose", "tril", "triu", "solve",
    "solve_triangular", "inv", "cholesky", "det", "slogdet",
    "Matmul", "MatrixTranspose", "Einsum", "Einsum1", "DiagonalMask", "Triangle", "Solve",
    "SolveTriangular", "Inv", "Cholesky", "Det", "Adjugate", "Slogdet",
]
