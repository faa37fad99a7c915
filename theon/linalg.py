"""`th.linalg`: NumPy's `numpy.linalg` namespace over theon's operators (which live in
theon/ops: linalg.py, decompositions.py, matrix.py). Names, arguments and defaults are
numpy.linalg's; `diagonal` and `trace` here take the last two axes, as numpy.linalg's do
(the top-level `th.diagonal`/`th.trace` follow numpy.diagonal/numpy.trace: axes 0 and 1).
"""
from .ops.base import user_errors
from .ops.decompositions import (
    EighResult, QRResult, SVDResult, eigh, eigvalsh, pinv, qr, svd, svdvals,
)
from .ops.linalg import (
    cholesky, det, inv, matmul, matrix_transpose, outer, slogdet, solve, tensordot,
)
from .ops.matrix import (
    cross, matrix_norm, matrix_power, matrix_rank, multi_dot, norm, vecdot, vector_norm,
)
from .ops.matrix import diagonal as _diagonal
from .ops.matrix import trace as _trace

__all__ = [
    "cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm",
    "matrix_power", "matrix_rank", "matrix_transpose", "multi_dot", "norm", "outer", "pinv", "qr",
    "slogdet", "solve", "svd", "svdvals", "tensordot", "trace", "vecdot", "vector_norm",
    "EighResult", "QRResult", "SVDResult",
]


@user_errors
def diagonal(x, offset=0):
    """numpy.linalg.diagonal: the `offset` diagonal of the last two axes."""
    return _diagonal(x, offset, axis1=-2, axis2=-1)


@user_errors
def trace(x, offset=0, dtype=None):
    """numpy.linalg.trace: the sum of the `offset` diagonal of the last two axes."""
    return _trace(x, offset, axis1=-2, axis2=-1, dtype=dtype)
