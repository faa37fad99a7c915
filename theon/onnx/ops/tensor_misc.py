"""Other ONNX tensor ops composed from theon ops: OneHot, Scatter*, TopK, NonZero, Compress..."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from . import converter, resize  # noqa: F401  (resize registers Resize/Upsample)


@converter("OneHot")
def one_hot(ctx):
    idx = ctx.x(0)
    depth = int(np.asarray(ctx.const(1, "depth")).reshape(-1)[0])
    values = ctx.x(2)
    axis = ctx.attr("axis", -1)
    idx = T.cast_to(idx, "int64")
    idx = T.where(T.less(idx, 0), idx + np.int64(depth), idx)
    rank = idx.ndim + 1
    axis = axis % rank
    pos = T.as_variable(np.arange(depth, dtype=np.int64).reshape([-1] + [1] * (rank - 1 - axis)))
    hot = T.equal(T.expand_dims(idx, axis), pos)
    return T.where(hot, values[1], values[0])
