"""Op-table rows for linear algebra (NumPy references)."""
import numpy as np

import theon as th
from theon.errors import DTypeError, ShapeError
from theon.testing import ErrorCase, OpInfo, Sample, integers, rand


def _well_conditioned(rng, *shape):
    n = shape[-1]
    return rand(rng, *shape) + 3 * np.eye(n)


def _lower(rng, *shape):
    return np.tril(rand(rng, *shape)) + 2 * np.eye(shape[-1])


def _spd(rng, *shape):
    a = rand(rng, *shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _sym(a):
    # finite differences on a symmetric input: cholesky reads one triangle only
    return (a + th.matrix_transpose(a)) * 0.5


def _cholesky(a, **kw):
    square = a.ndim >= 2 and a.type.shape[-1] == a.type.shape[-2]
    return th.cholesky(_sym(a) if square else a, **kw)


def _matmul_samples(rng):
    return [
        Sample((rand(rng, 3, 4), rand(rng, 4, 2))),
        Sample((rand(rng, 4), rand(rng, 2, 4, 3))),             # 1-D promoted on the left
        Sample((rand(rng, 2, 3, 4), rand(rng, 4))),             # and on the right
        Sample((rand(rng, 4), rand(rng, 4))),                   # vector dot vector
        Sample((rand(rng, 2, 1, 3, 4), rand(rng, 3, 4, 2))),    # batch dims broadcast
        Sample((integers(rng, -3, 3, 2, 3), integers(rng, -3, 3, 3, 2)), grad=False),
        Sample((rand(rng, 2, 3, dtype="float32"), rand(rng, 3, 2, dtype="float32")), grad=False),
    ]


_MATMUL_ERRORS = [
    ErrorCase((np.zeros((3, 4)), np.zeros((5, 6))), {}, ShapeError,
              r"\(3, 4\) @ \(5, 6\): inner dimensions 4 and 5 differ"),
    ErrorCase((np.zeros((2, 3, 4)), np.zeros((3, 4, 2))), {}, ShapeError, r"batch dimensions \(2,\) and \(3,\)"),
    ErrorCase((np.zeros(()), np.zeros((3,))), {}, ShapeError, "does not take scalars"),
]

_EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij->", [(2, 3)]),
    ("ji", [(2, 3)]), ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]), ("i,i->i", [(3,), (1,)]),
    ("bij,bjk", [(2, 2, 3), (2, 3, 2)]), ("iij->ij", [(2, 2, 3)]), ("i...->...", [(3, 2, 2)]),
    ("ijk,jil->kl", [(2, 3, 2), (3, 2, 2)]), ("i,j,k->ijk", [(2,), (3,), (2,)]),
    ("ij,ij->j", [(1, 3), (2, 3)]),
]


def _einsum_samples(rng):
    return [Sample(tuple(rand(rng, *s) for s in shapes), {"subscripts": sub}) for sub, shapes in _EINSUM]


_SUBLISTS = [  # NumPy's sublist form: operands each followed by its indices, then the output
    ([(2, 3), (3, 4)], [[0, 1], [1, 2]], [0, 2]), ([(2, 3), (3, 4)], [[0, 1], [1, 2]], None),
    ([(3, 3)], [[0, 0]], None), ([(2, 3, 4)], [[Ellipsis, 1, 2]], [Ellipsis, 2, 1]),
    ([(2,), (3,), (2, 3)], [[0], [1], [0, 1]], []),
]


def _sublist_samples(rng):
    return [Sample(tuple(rand(rng, *s) for s in shapes), {"sublists": subs, "out": out})
            for shapes, subs, out in _SUBLISTS]


def _interleave(xs, sublists, out):
    args = [a for pair in zip(xs, sublists) for a in pair]
    return args + ([out] if out is not None else [])


def _singular(rng, *shape):
    """Square matrices of rank n - 1 (the last row is the sum of the others), and zeros."""
    a = rand(rng, *shape)
    a[..., -1, :] = a[..., :-1, :].sum(-2)
    return a


def _solve_samples(rng):
    return [
        Sample((_well_conditioned(rng, 3, 3), rand(rng, 3))),
        Sample((_well_conditioned(rng, 2, 3, 3), rand(rng, 3))),         # 1-D b against a batch
        Sample((_well_conditioned(rng, 3, 3), rand(rng, 3, 2))),
        Sample((_well_conditioned(rng, 3, 3), rand(rng, 2, 3, 2))),      # batch from b
        Sample((integers(rng, 2, 4, 2, 2) + 3 * np.eye(2, dtype="int64"), integers(rng, 0, 3, 2)), grad=False),
    ]


def _square_samples(make):
    return lambda rng: [Sample((make(rng, 3, 3),)), Sample((make(rng, 2, 3, 3),))]


def _solve_triangular_ref(a, b, lower=False, left=True):
    t = np.tril(a) if lower else np.triu(a)
    if left:
        return np.linalg.solve(t, b)
    return np.swapaxes(np.linalg.solve(np.swapaxes(t, -1, -2), np.swapaxes(b, -1, -2)), -1, -2)


def _not_square(fn):
    return ErrorCase((np.zeros((3, 4)),), {}, ShapeError, f"{fn}: matrices must be square")


ROWS = [
    OpInfo("matmul", th.matmul, np.matmul, _matmul_samples, errors=_MATMUL_ERRORS, second_order=True),
    OpInfo("matmul_operator", lambda a, b: a @ b, lambda a, b: a @ b,
           lambda rng: [Sample((rand(rng, 5, 4), rand(rng, 4, 3)))]),
    OpInfo("dot", th.dot, np.dot, lambda rng: [
        Sample((rand(rng, 3, 4), rand(rng, 4, 2))), Sample((rand(rng, 4), rand(rng, 4))),
        Sample((rand(rng, 2, 3, 4), rand(rng, 3, 4, 2))), Sample((rand(rng, 3), rand(rng, 2, 3, 2))),
        Sample((rand(rng, 2, 3), 2.0))]),
    OpInfo("vdot", th.vdot, np.vdot, lambda rng: [
        Sample((rand(rng, 4), rand(rng, 4))), Sample((rand(rng, 2, 3), rand(rng, 3, 2)))]),
    OpInfo("tensordot", th.tensordot, np.tensordot, lambda rng: [
        Sample((rand(rng, 2, 3, 4), rand(rng, 3, 4, 2))),
        Sample((rand(rng, 2, 3, 4), rand(rng, 4, 3, 2)), {"axes": ([1, 2], [1, 0])}),
        Sample((rand(rng, 2, 3), rand(rng, 4)), {"axes": 0}),
        Sample((rand(rng, 2, 3), rand(rng, 3, 2)), {"axes": (-1, 0)})],
        errors=[ErrorCase((np.zeros((2, 3)), np.zeros((4, 2))), {"axes": 1}, ShapeError, "differ along")]),
    OpInfo("einsum", lambda *xs, subscripts: th.einsum(subscripts, *xs),
           lambda *xs, subscripts: np.einsum(subscripts, *xs), _einsum_samples, errors=[
               ErrorCase((np.zeros((2, 3)), np.zeros((4, 2))), {"subscripts": "ij,jk->ik"}, ShapeError,
                         "index 'j' has sizes 3 in operand 0, 4 in operand 1"),
               ErrorCase((np.zeros((2, 3)),), {"subscripts": "ijk"}, ShapeError, "rank 2"),
               ErrorCase((np.zeros((2, 3)),), {"subscripts": "ij->ik"}, ShapeError, "output label 'k'")],
           second_order=True),
    OpInfo("einsum_sublist", lambda *xs, sublists, out: th.einsum(*_interleave(xs, sublists, out)),
           lambda *xs, sublists, out: np.einsum(*_interleave(xs, sublists, out)), _sublist_samples,
           errors=[ErrorCase((np.zeros((2, 3)), np.zeros((3, 2))), {"sublists": [[0, 1], [1, 99]], "out": None},
                             ShapeError, "sublist index 99"),
                   ErrorCase((np.zeros((2, 3)), np.zeros((4, 2))), {"sublists": [[0, 1], [1, 2]], "out": None},
                             ShapeError, "index 'b' has sizes 3 in operand 0, 4 in operand 1")]),
    OpInfo("outer", th.outer, np.outer, lambda rng: [
        Sample((rand(rng, 3), rand(rng, 4))), Sample((rand(rng, 2, 2), rand(rng, 3)))]),
    OpInfo("matrix_transpose", th.matrix_transpose, lambda a: np.swapaxes(a, -1, -2),
           lambda rng: [Sample((rand(rng, 2, 3),)), Sample((rand(rng, 2, 3, 4),))],
           errors=[ErrorCase((np.zeros(3),), {}, ShapeError, "at least 2 dims")]),
    OpInfo("tril", th.tril, np.tril, lambda rng: [
        Sample((rand(rng, 3, 4),)), Sample((rand(rng, 2, 3, 3),), {"k": 1}), Sample((rand(rng, 4, 2),), {"k": -2}),
        Sample((integers(rng, 0, 5, 3, 3),), grad=False)],
        errors=[ErrorCase((np.zeros(3),), {}, ShapeError, "at least 2 dims")]),
    OpInfo("triu", th.triu, np.triu, lambda rng: [
        Sample((rand(rng, 3, 4),)), Sample((rand(rng, 2, 3, 3),), {"k": -1}), Sample((rand(rng, 4, 2),), {"k": 3})]),
    OpInfo("solve", th.solve, np.linalg.solve, _solve_samples, errors=[
        ErrorCase((np.zeros((3, 3)), np.zeros((4, 2))), {}, ShapeError, r"rows 4 != 3"),
        ErrorCase((np.zeros((3, 4)), np.zeros(3)), {}, ShapeError, "must be square"),
        ErrorCase((np.zeros((3, 3), "float16"), np.zeros(3, "float16")), {}, DTypeError, "float16")],
        rtol=1e-5, atol=1e-8),
    OpInfo("solve_triangular", th.solve_triangular, _solve_triangular_ref, lambda rng: [
        Sample((_lower(rng, 3, 3), rand(rng, 3, 2)), {"lower": True}),
        Sample((np.swapaxes(_lower(rng, 2, 3, 3), -1, -2).copy(), rand(rng, 3, 2))),
        Sample((_lower(rng, 3, 3), rand(rng, 2, 2, 3)), {"lower": True, "left": False})],
        errors=[ErrorCase((np.zeros((3, 3)), np.zeros(3)), {}, ShapeError, "batch of\\) matrices")]),
    OpInfo("inv", th.inv, np.linalg.inv, _square_samples(_well_conditioned), errors=[_not_square("inv")],
           second_order=True),
    OpInfo("det", th.det, np.linalg.det, _square_samples(_well_conditioned), errors=[_not_square("det")],
           second_order=True),
    # the gradient (the adjugate, transposed) exists where inv does not
    OpInfo("det_singular", th.det, np.linalg.det,
           lambda rng: [Sample((_singular(rng, 3, 3),)), Sample((_singular(rng, 2, 4, 4),)),
                        Sample((np.zeros((3, 3)),)), Sample((np.array([[1.0, 2.0], [2.0, 4.0]]),))],
           atol=1e-12),
    OpInfo("slogdet", th.slogdet, lambda a: tuple(np.linalg.slogdet(a)),
           lambda rng: [Sample((_well_conditioned(rng, 3, 3),)), Sample((-_well_conditioned(rng, 2, 3, 3),))],
           errors=[_not_square("slogdet")]),
    OpInfo("cholesky", _cholesky, np.linalg.cholesky, lambda rng: [
        *_square_samples(_spd)(rng), Sample((_spd(rng, 2, 3, 3),), {"upper": True})],
           errors=[_not_square("cholesky"), ErrorCase((np.zeros(3),), {}, ShapeError, "square matrices")],
           second_order=True),
]
