"""Op-table rows for the matrix decompositions (svd, svdvals, qr, eigh, eigvalsh, pinv) and
the functions built on them or next to them in th.linalg (matrix_rank, matrix_power, the
norms, vecdot, multi_dot), against numpy.linalg.

Singular vectors and eigenvectors are unique only up to sign (LAPACK's choice in NumPy,
torch's here), so those rows compare and differentiate gauge-invariant functions of them:
their squares (each column's sign drops out) and products such as U diag(S) Vh."""
import numpy as np

import theon as th
from theon.errors import DTypeError, ShapeError
from theon.testing import ErrorCase, OpInfo, Sample, integers, rand


def _mT(a):
    return th.matrix_transpose(a)


def _sym(a):
    # finite differences on a symmetric input: eigh reads one triangle only
    square = a.ndim >= 2 and a.type.shape[-1] == a.type.shape[-2]
    return (a + _mT(a)) * 0.5 if square else a


def _np_sym(a):
    return (a + np.swapaxes(a, -1, -2)) * 0.5


def _svd_squares(a, full_matrices=False):
    u, s, vh = th.linalg.svd(a, full_matrices=full_matrices)
    return u * u, s, vh * vh


def _np_svd_squares(a, full_matrices=False):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    return u * u, s, vh * vh


def _svd_reconstruct(a, full_matrices=False):
    u, s, vh = th.linalg.svd(a, full_matrices=full_matrices)
    k = th.dim(s, -1)
    return th.matmul(u[..., :, :k] * th.expand_dims(s, -2), vh[..., :k, :]), th.matmul(_mT(u), u)


def _np_svd_reconstruct(a, full_matrices=False):
    m = a.shape[-2]
    return a, np.broadcast_to(np.eye(m), a.shape[:-2] + (m, m)) if full_matrices else \
        np.broadcast_to(np.eye(min(a.shape[-2:])), a.shape[:-2] + (min(a.shape[-2:]),) * 2)


def _eigh_squares(a, UPLO="L"):
    w, v = th.linalg.eigh(_sym(a), UPLO=UPLO)
    return w, v * v


def _np_eigh_squares(a, UPLO="L"):
    w, v = np.linalg.eigh(_np_sym(a), UPLO=UPLO)
    return w, v * v


def _general(rng):
    """Tall, square, wide and batched matrices (distinct singular values, full rank)."""
    return [Sample((rand(rng, 4, 4),)), Sample((rand(rng, 5, 3),)), Sample((rand(rng, 3, 5),)),
            Sample((rand(rng, 2, 4, 3),)), Sample((rand(rng, 3, 4, dtype="float32"),), grad=False),
            Sample((integers(rng, -3, 4, 3, 3),), grad=False)]


def _rank_deficient(rng, *shape):
    a = rand(rng, *shape)
    a[..., -1, :] = a[..., 0, :] * 2.0
    return a


def _qr(a, mode="reduced"):
    out = th.linalg.qr(a, mode=mode)
    return out if mode == "r" else tuple(out)


def _np_qr(a, mode="reduced"):
    out = np.linalg.qr(a, mode=mode)
    return out if mode == "r" else tuple(out)


def _qr_samples(rng):
    return [Sample((rand(rng, 4, 4),)), Sample((rand(rng, 5, 3),)), Sample((rand(rng, 3, 5),)),
            Sample((rand(rng, 2, 4, 3),)), Sample((rand(rng, 5, 3),), {"mode": "r"}),
            Sample((rand(rng, 3, 5),), {"mode": "complete"}), Sample((rand(rng, 3, 3),), {"mode": "complete"}),
            # Q's extra columns of a tall complete QR are not unique: values only
            Sample((rand(rng, 5, 3),), {"mode": "complete"}, grad=False),
            Sample((integers(rng, -3, 4, 3, 3),), grad=False)]


def _symmetric_samples(rng):
    return [Sample((rand(rng, 4, 4),)), Sample((rand(rng, 2, 3, 3),)), Sample((rand(rng, 3, 3),), {"UPLO": "U"}),
            Sample((rand(rng, 3, 3, dtype="float32"),), grad=False)]


def _pinv_samples(rng):
    return [Sample((rand(rng, 4, 4) + 2 * np.eye(4),)), Sample((rand(rng, 5, 3),)), Sample((rand(rng, 3, 5),)),
            Sample((rand(rng, 2, 4, 3),)), Sample((rand(rng, 3, 3),), {"hermitian": False, "rcond": 1e-10}),
            Sample((rand(rng, 2, 3, 3),), {"rtol": None}),
            # one rtol per matrix: the second matrix's smaller singular values count as zero
            Sample((rand(rng, 2, 3, 3), np.array([1e-12, 0.9])), grad=False),
            # a rank-deficient matrix: values (the gradient jumps where the rank changes)
            Sample((_rank_deficient(rng, 4, 3),), grad=False),
            Sample((rand(rng, 3, 4, dtype="float32"),), grad=False)]


def _matrix_power_samples(ns):
    def samples(rng):
        out = [Sample((rand(rng, 3, 3) + 2 * np.eye(3),), {"n": n}) for n in ns]
        out.append(Sample((rand(rng, 2, 3, 3) + 2 * np.eye(3),), {"n": ns[-1]}))
        if min(ns) >= 0:
            out.append(Sample((integers(rng, -2, 3, 3, 3),), {"n": ns[-1]}, grad=False))
        return out
    return samples


def _norm_input(rng, *shape):
    """Entries apart from each other in size: max/min norms have no kinks nearby."""
    n = int(np.prod(shape))
    return (rng.permutation(n) + 1.0).reshape(shape) / n * rng.choice([-1.0, 1.0], size=shape)


def _matrix_norm_samples(ords):
    def samples(rng):
        out = [Sample((_norm_input(rng, 3, 4),), {"ord": o}) for o in ords]
        out += [Sample((_norm_input(rng, 2, 4, 3),), {"ord": ords[0], "keepdims": True}),
                Sample((rand(rng, 3, 3, dtype="float32"),), {"ord": ords[-1]}, grad=False)]
        return out
    return samples


_VECTOR_NORM = [  # (shape, kwargs)
    ((5,), {}), ((3, 4), {}), ((2, 3, 4), {"axis": 1}), ((2, 3, 4), {"axis": (0, 2), "keepdims": True}),
    ((3, 4), {"ord": 1}), ((3, 4), {"ord": np.inf, "axis": 0}), ((3, 4), {"ord": -np.inf}), ((4,), {"ord": 3}),
    ((2, 3), {"ord": 0.5, "keepdims": True}),
]


def _vector_norm_samples(rng):
    return [Sample((_norm_input(rng, *shape),), kw) for shape, kw in _VECTOR_NORM] + [
        Sample((np.array([0.0, 2.0, 0.0, -1.0]),), {"ord": 0}, grad=False),
        Sample((integers(rng, -3, 3, 2, 3),), grad=False),
        Sample((rand(rng, 3, 3, dtype="float32"),), grad=False)]


def _spectral_norm_samples(rng):
    return [Sample((_norm_input(rng, 3, 4),), {"ord": "nuc"}), Sample((_norm_input(rng, 4, 3),), {"ord": 2}),
            Sample((_norm_input(rng, 3, 3),), {"ord": -2}),
            Sample((_norm_input(rng, 2, 3, 4),), {"ord": "nuc", "axis": (2, 0), "keepdims": True}),
            Sample((_norm_input(rng, 2, 3, 4),), {"ord": 2, "axis": (1, 2)})]


def _multi_dot(*xs):
    return th.linalg.multi_dot(list(xs))


def _np_multi_dot(*xs):
    return np.linalg.multi_dot(list(xs))


_NOT_MATRIX = ErrorCase((np.zeros(3),), {}, ShapeError, "batch of\\) matrices")

ROWS = [
    OpInfo("svd", _svd_squares, _np_svd_squares, _general, rtol=1e-5, atol=1e-6,
           errors=[_NOT_MATRIX, ErrorCase((np.zeros((3, 3), "float16"),), {}, DTypeError, "float16")]),
    # U diag(S) Vh is the input again, and U^T U the identity: the gradient through U, S and
    # Vh together is the identity map's, for full matrices too where U is square
    OpInfo("svd_reconstruct", _svd_reconstruct, _np_svd_reconstruct, lambda rng: [
        Sample((rand(rng, 4, 4),)), Sample((rand(rng, 5, 3),)), Sample((rand(rng, 3, 5),)),
        Sample((rand(rng, 4, 4),), {"full_matrices": True}),
        Sample((rand(rng, 2, 5, 3),), {"full_matrices": True}, grad=False)], atol=1e-12),
    OpInfo("svdvals", th.linalg.svdvals, np.linalg.svdvals, _general, errors=[_NOT_MATRIX]),
    OpInfo("svd_values_only", lambda a, **kw: th.linalg.svd(a, **kw),
           lambda a, **kw: np.linalg.svd(a, **kw), lambda rng: [
               Sample((rand(rng, 4, 3),), {"compute_uv": False}), Sample((rand(rng, 2, 3, 4),), {"compute_uv": False})]),
    OpInfo("qr", _qr, _np_qr, _qr_samples, atol=1e-12,
           errors=[_NOT_MATRIX, ErrorCase((np.zeros((3, 3)),), {"mode": "raw"}, ValueError, "'raw'")]),
    OpInfo("eigh", _eigh_squares, _np_eigh_squares, _symmetric_samples,
           errors=[ErrorCase((np.zeros((3, 4)),), {}, ShapeError, "eigh: matrices must be square"),
                   ErrorCase((np.zeros((3, 3)),), {"UPLO": "X"}, ValueError, "'L' or 'U'")]),
    OpInfo("eigvalsh", lambda a, **kw: th.linalg.eigvalsh(_sym(a), **kw),
           lambda a, **kw: np.linalg.eigvalsh(_np_sym(a), **kw), _symmetric_samples,
           errors=[ErrorCase((np.zeros((3, 4)),), {}, ShapeError, "matrices must be square")]),
    OpInfo("pinv", th.linalg.pinv, np.linalg.pinv, _pinv_samples, grad_args=(0,), errors=[
        _NOT_MATRIX, ErrorCase((np.zeros((3, 3)),), {"rcond": 1e-3, "rtol": 1e-3}, ValueError, "not both")]),
    OpInfo("matrix_rank", th.linalg.matrix_rank, np.linalg.matrix_rank, lambda rng: [
        Sample((rand(rng, 4, 3),)), Sample((_rank_deficient(rng, 2, 4, 4),)),
        Sample((_rank_deficient(rng, 4, 3),), {"tol": 1e-8}), Sample((_rank_deficient(rng, 3, 3),), {"rtol": 1e-8}),
        Sample((_np_sym(_rank_deficient(rng, 3, 3)),), {"hermitian": True}),
        Sample((np.zeros((3, 3)),)), Sample((integers(rng, -3, 3, 3, 3),))], grad=False),
    # a vector's (or scalar's) rank: 1 unless every entry is zero
    OpInfo("matrix_rank_vector", th.linalg.matrix_rank, np.linalg.matrix_rank, lambda rng: [
        Sample((rand(rng, 3),)), Sample((np.zeros(3),)), Sample((np.array(0.0),))], grad=False),
    OpInfo("matrix_power", th.linalg.matrix_power, np.linalg.matrix_power, _matrix_power_samples([1, 2, 3, 5]),
           rtol=1e-10, second_order=True,
           errors=[ErrorCase((np.zeros((3, 4)),), {"n": 2}, ShapeError, "matrices must be square"),
                   ErrorCase((np.zeros((3, 3)),), {"n": 1.5}, TypeError, "must be an int")]),
    OpInfo("matrix_power_inverse", th.linalg.matrix_power, np.linalg.matrix_power,
           _matrix_power_samples([0, -1, -2, -3]), rtol=1e-10),
    OpInfo("matrix_norm", th.linalg.matrix_norm, np.linalg.matrix_norm,
           _matrix_norm_samples(["fro", 1, -1, np.inf, -np.inf]), rtol=1e-10, errors=[
               ErrorCase((np.zeros(3),), {}, ShapeError, "batch of\\) matrices"),
               ErrorCase((np.zeros((3, 3)),), {"ord": 3}, ValueError, "invalid norm order 3 for matrices")]),
    OpInfo("matrix_norm_spectral", th.linalg.matrix_norm, np.linalg.matrix_norm,
           _matrix_norm_samples(["nuc", 2, -2]), rtol=1e-10),
    OpInfo("norm_spectral", th.norm, np.linalg.norm, _spectral_norm_samples, rtol=1e-10),
    OpInfo("vector_norm", th.linalg.vector_norm, np.linalg.vector_norm, _vector_norm_samples, rtol=1e-10,
           errors=[ErrorCase((np.zeros(3),), {"ord": "fro"}, ValueError, "invalid norm order")]),
    OpInfo("vecdot", th.vecdot, np.vecdot, lambda rng: [
        Sample((rand(rng, 4), rand(rng, 4))), Sample((rand(rng, 2, 3, 4), rand(rng, 3, 4))),
        Sample((rand(rng, 3, 2), rand(rng, 3, 2)), {"axis": 0}), Sample((rand(rng, 2, 3, 4), rand(rng, 3, 1)), {"axis": -2}),
        Sample((integers(rng, -3, 3, 2, 3, dtype="int32"), integers(rng, -3, 3, 3, dtype="int32")), grad=False)],
        errors=[ErrorCase((np.zeros(3), np.zeros(4)), {}, ShapeError, "differ in length along axis -1")]),
    OpInfo("multi_dot", _multi_dot, _np_multi_dot, lambda rng: [
        Sample((rand(rng, 3, 4), rand(rng, 4, 2))), Sample((rand(rng, 3), rand(rng, 3, 4), rand(rng, 4, 2))),
        Sample((rand(rng, 2, 3), rand(rng, 3, 4), rand(rng, 4)))],
        errors=[ErrorCase((np.zeros((2, 3)), np.zeros((2, 3, 3)), np.zeros((3, 2))), {}, ShapeError,
                          "array 1 must be 2-D")]),
    OpInfo("linalg_diagonal", th.linalg.diagonal, np.linalg.diagonal, lambda rng: [
        Sample((rand(rng, 2, 3, 4),)), Sample((rand(rng, 3, 4),), {"offset": -1})]),
    OpInfo("linalg_trace", th.linalg.trace, np.linalg.trace, lambda rng: [
        Sample((rand(rng, 2, 3, 4),)), Sample((rand(rng, 3, 4),), {"offset": 1}),
        Sample((integers(rng, 0, 5, 2, 3, 3),), grad=False)]),
]
