"""Linear algebra: matmul, transposes of the last two dims, einsum, triangles and det.
ONNX has no solve, inverse, Cholesky or log-determinant: those ops have no rule."""
from __future__ import annotations

import numpy as np

from ....ops import linalg as L
from ..registry import Unsupported, rule
from .common import cast


@rule(L.Matmul)
def _matmul(ctx):
    if ctx.dtype() == "bool":
        a, b = (cast(ctx, x, "int64") for x in ctx.xs())
        return cast(ctx, ctx.emit("MatMul", [a, b]), "bool")
    return ctx.emit("MatMul", ctx.xs())


@rule(L.MatrixTranspose)
def _matrix_transpose(ctx):
    n = len(ctx.shape())
    return ctx.emit("Transpose", [ctx.x(0)], perm=list(range(n - 2)) + [n - 1, n - 2])


@rule(L.Einsum, L.Einsum1)
def _einsum(ctx):
    if ctx.dtype() == "bool":
        raise Unsupported("einsum over bools")
    terms = ctx.op.subscripts.split("->")[0].split(",")
    shapes = [ctx.shape(i) for i in range(len(terms))]
    sizes = {}
    for term, shape in zip(terms, shapes):
        for c, d in zip(term, shape):
            sizes[c] = None if d is None or sizes.get(c, 1) is None else max(d, sizes.get(c, 1))
    xs = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        full = [sizes[c] for c in term]
        if any(d == 1 and f != 1 for d, f in zip(shape, full)):  # a label NumPy broadcasts: ONNX does not
            if None in full:
                raise Unsupported("a broadcast label of a size unknown when exporting")
            xs.append(ctx.emit("Expand", [ctx.x(i), ctx.ints(full)]))
        else:
            xs.append(ctx.x(i))
    return ctx.emit("Einsum", xs, equation=ctx.op.subscripts)


@rule(L.Triangle)
def _triangle(ctx):
    return ctx.emit("Trilu", [ctx.x(0), ctx.const(np.int64(ctx.op.k))], upper=int(ctx.op.upper))


@rule(L.Det)
def _det(ctx):
    return ctx.emit("Det", [ctx.x(0)])
