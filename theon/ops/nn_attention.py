"""scaled_dot_product_attention: softmax(q k^T * scale + mask) v.

The forward pass is torch's fused kernel (flash / memory-efficient attention where the
device has them). The gradient recomputes the attention weights in theon ops (matmul,
softmax) and is written in them, so it differentiates again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..errors import DTypeError, ShapeError
from ..graph import TensorType
from ..graph.types import format_shape
from .axes import broadcast_shapes
from .base import Op, as_variable
from .broadcast import sum_to_like
from .dims import dim
from .elementwise import rsqrt, where
from .linalg import matmul
from .nn_loss import softmax
from .nn_util import float_inputs
from .shape import swapaxes


@dataclass(frozen=True)
class CausalMask(Op):
    """(scores (..., L, S)) -> bool (L, S), True on and below the diagonal (top-left aligned)."""
    name: ClassVar[str] = "causal_mask"
    differentiable: ClassVar[bool] = False

    def infer(self, scores):
        return [TensorType("bool", scores.type.shape[-2:])]

    def kernel(self, scores):
        return torch.ones(scores.shape[-2:], dtype=torch.bool, device=scores.device).tril_()


@dataclass(frozen=True)
class Attention(Op):
    """(q, k, v[, mask]) -> attention output (..., L, Ev)."""
    is_causal: bool = False
    scale: float | None = None  # None: 1/sqrt(E)
    name: ClassVar[str] = "scaled_dot_product_attention"

    def infer(self, q, k, v, mask=None):
        if len({q.dtype, k.dtype, v.dtype}) > 1:
            raise DTypeError(f"attention: q, k and v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
        qs, ks, vs = q.type.shape, k.type.shape, v.type.shape
        shapes = f"q {format_shape(qs)}, k {format_shape(ks)}, v {format_shape(vs)}"
        if min(q.ndim, k.ndim, v.ndim) < 2:
            raise ShapeError(f"attention expects q (..., L, E), k (..., S, E), v (..., S, Ev); got {shapes}")
        if _differ(qs[-1], ks[-1]) or _differ(ks[-2], vs[-2]):
            raise ShapeError(f"attention: q and k must share the last dim E and k and v the "
                             f"sequence dim S; got {shapes}")
        batch = broadcast_shapes(qs[:-2], ks[:-2], vs[:-2])
        if mask is not None:
            if mask.dtype != "bool" and mask.dtype != q.dtype:
                raise DTypeError(f"attention: mask must be bool or {q.dtype}, got {mask.dtype}")
            scores = batch + (qs[-2], ks[-2])
            try:
                full = broadcast_shapes(mask.type.shape, scores)
            except ShapeError:
                full = None
            if full is None or len(full) != len(scores):
                raise ShapeError(f"attention: mask {format_shape(mask.type.shape)} does not broadcast "
                                 f"to the scores {format_shape(scores)}; {shapes}")
        return [TensorType(q.dtype, batch + (qs[-2], vs[-1]))]

    def kernel(self, q, k, v, mask=None):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=self.is_causal,
                                              scale=self.scale)

    def grad(self, inputs, outputs, output_grads):
        (g,) = output_grads
        q, k, v = inputs[:3]
        mask = inputs[3] if len(inputs) == 4 else None
        scale = self.scale if self.scale is not None else _default_scale(q)
        p = attention_weights(q, k, mask, self.is_causal, scale)
        gv = matmul(_t(p), g)
        gp = matmul(g, _t(v))
        gs = p * (gp - (gp * p).sum(axis=-1, keepdims=True))
        gq = matmul(gs, k) * scale
        gk = matmul(_t(gs), q) * scale
        grads = [sum_to_like(gq, q), sum_to_like(gk, k), sum_to_like(gv, v)]
        if mask is not None:
            grads.append(sum_to_like(gs, mask) if mask.dtype != "bool" else None)
        return grads


def _differ(a, b) -> bool:
    return a is not None and b is not None and a != b


def _t(x):
    return swapaxes(x, -1, -2)


def _default_scale(q):
    e = dim(q, -1)
    return 1.0 / math.sqrt(e) if isinstance(e, int) else rsqrt(e.astype(q.dtype))


def attention_weights(q, k, mask=None, is_causal=False, scale=None):
    """softmax(q k^T * scale + mask) in theon ops (what the fused kernel computes inside)."""
    if scale is None:
        scale = _default_scale(q)
    s = matmul(q, _t(k)) * scale
    if is_causal:
        s = where(CausalMask()(s), s, -math.inf)
    if mask is not None:
        s = where(mask, s, -math.inf) if mask.dtype == "bool" else s + mask
    return softmax(s, axis=-1)


def scaled_dot_product_attention(q, k, v, mask=None, is_causal=False, scale=None):
    """softmax(q @ k^T * scale + mask) @ v for q (..., L, E), k (..., S, E), v (..., S, Ev).

    mask: bool (True = attend) or float (added to the scores), broadcast to (..., L, S).
    is_causal: attend only to positions at or before the query's (top-left aligned).
    scale: defaults to 1/sqrt(E).
    """
    q, k, v = float_inputs(q, k, v, op="scaled_dot_product_attention")
    if mask is not None:
        mask = as_variable(mask)
        if is_causal:
            raise ValueError("scaled_dot_product_attention: give a mask or is_causal=True, not both")
        if mask.dtype != "bool":
            q, k, v, mask = float_inputs(q, k, v, mask, op="scaled_dot_product_attention")
    op = Attention(bool(is_causal), None if scale is None else float(scale))
    return op(q, k, v) if mask is None else op(q, k, v, mask)


__all__ = ["scaled_dot_product_attention"]
