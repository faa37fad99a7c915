"""embedding and dropout."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..errors import DTypeError, ShapeError
from ..graph import TensorType
from ..graph.types import format_shape
from .base import Op, as_variable
from .constructors import zeros_like
from .elementwise import not_equal
from .nn_util import check_int, float_inputs
from .random import bernoulli
from .shape import expand_dims


@dataclass(frozen=True)
class Embedding(Op):
    """(indices, weight) -> weight rows: shape indices.shape + (weight.shape[1],)."""
    padding_idx: int | None = None  # that row takes no gradient
    name: ClassVar[str] = "embedding"

    def infer(self, indices, weight):
        check_int(indices, "embedding indices")
        if weight.ndim != 2:
            raise ShapeError(f"embedding weight must be (num_embeddings, dim), got "
                             f"{format_shape(weight.type.shape)} (indices {format_shape(indices.type.shape)})")
        return [TensorType(weight.dtype, indices.type.shape + (weight.type.shape[1],))]

    def kernel(self, indices, weight):
        return F.embedding(indices, weight)

    def grad(self, inputs, outputs, output_grads):
        (indices, weight), (g,) = inputs, output_grads
        return [None, EmbeddingBackward(self.padding_idx)(g, indices, weight)]


@dataclass(frozen=True)
class EmbeddingBackward(Op):
    """(g, indices, weight_like) -> like weight: g's rows scatter-added at their indices."""
    padding_idx: int | None = None
    name: ClassVar[str] = "embedding_backward"

    def infer(self, g, indices, weight_like):
        if g.dtype != weight_like.dtype:
            raise DTypeError(f"{self.name}: g is {g.dtype} but the weight is {weight_like.dtype}")
        return [weight_like.type]

    def kernel(self, g, indices, weight_like):
        pad = -1 if self.padding_idx is None else self.padding_idx
        return torch.ops.aten.embedding_dense_backward(g, indices.long(), weight_like.shape[0], pad, False)

    def grad(self, inputs, outputs, output_grads):
        (g, indices, weight_like), (gg,) = inputs, output_grads
        # the adjoint of a scatter-add is a gather (rows at padding_idx took nothing)
        rows = Embedding(self.padding_idx)(indices, gg)
        if self.padding_idx is not None:
            rows = rows * expand_dims(not_equal(indices, self.padding_idx), -1).astype(rows.dtype)
        return [rows, None, None]


def embedding(indices, weight, padding_idx=None):
    """weight[indices]: rows of weight (num_embeddings, dim); the gradient to weight is a
    scatter-add, indices take none. Row `padding_idx` gets no gradient, as in torch."""
    indices = as_variable(indices)
    (weight,) = float_inputs(weight, op="embedding")
    if padding_idx is not None:
        padding_idx = int(padding_idx)
        n = weight.type.shape[0] if weight.ndim == 2 else None
        if padding_idx < 0:
            if n is None:
                raise ShapeError("embedding: a negative padding_idx needs the number of rows known "
                                 "when building")
            padding_idx += n
        if padding_idx < 0 or (n is not None and padding_idx >= n):
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for weight "
                             f"{format_shape(weight.type.shape)}")
    return Embedding(padding_idx)(indices, weight)


def dropout(x, rate, training=True, rng=None):
    """Zero each element with probability `rate` and scale the rest by 1/(1 - rate);
    the identity when not training. `rng` is a th.random RandomState (default: the global one)."""
    (x,) = float_inputs(x, op="dropout")
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"dropout: rate must lie in [0, 1], got {rate}")
    if not training or rate == 0.0:
        return x
    if rate == 1.0:
        return zeros_like(x)
    keep = bernoulli(1.0 - rate, x.shape, dtype=x.dtype, rng=rng)
    return x * (keep * (1.0 / (1.0 - rate)))


__all__ = ["embedding", "dropout"]
