"""MultiHeadAttention with torch.nn.MultiheadAttention's semantics and weight names.

Called on [query], [query, key_value] or [query, key, value] (a single tensor is
[query]: self-attention), each (N, length, features), batch first. Parameters, named and
shaped as torch's: "in_proj_weight" (3E, E) when key and value have E features, else
"q_proj_weight" (E, E), "k_proj_weight" (E, kdim) and "v_proj_weight" (E, vdim);
"in_proj_bias" (3E,), "out_proj.weight" (E, E), "out_proj.bias" (E,). So a torch module's
state dict loads as it is, and the layer computes
`torch.nn.MultiheadAttention(E, num_heads, batch_first=True)(q, k, v, need_weights=False)[0]`.
"""
from __future__ import annotations

import math

from ..errors import ShapeError
from ..graph import format_shape
from ..ops.dims import dim
from ..ops.linalg import matmul
from ..ops.nn_attention import attention_weights, scaled_dot_product_attention
from ..ops.nn_conv import linear
from ..ops.nn_misc import dropout
from ..ops.shape import reshape, swapaxes
from . import initializers
from .layer import Layer

__all__ = ["MultiHeadAttention"]


class MultiHeadAttention(Layer):
    """Attention of `num_heads` heads over embed_dim = E features (E divisible by num_heads):
    queries, keys and values are projected, each head attends with scale 1/sqrt(E / num_heads),
    and the heads' outputs are joined and projected. causal: each query attends only to keys
    at or before its position. dropout: on the attention weights, in training calls."""

    takes_list = True

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, use_bias: bool = True,
                 causal: bool = False, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 **kwargs):
        super().__init__(**kwargs)
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        if self.embed_dim < 1 or self.num_heads < 1 or self.embed_dim % self.num_heads:
            raise ValueError(f"MultiHeadAttention: embed_dim {embed_dim} must be a positive multiple of "
                             f"num_heads {num_heads}")
        self.dropout = float(dropout)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must lie in [0, 1), got {dropout}")
        self.use_bias, self.causal = bool(use_bias), bool(causal)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def __call__(self, inputs, training: bool = False):
        return super().__call__(inputs if isinstance(inputs, (list, tuple)) else [inputs], training)

    @staticmethod
    def _qkv(xs):
        if not 1 <= len(xs) <= 3:
            raise TypeError(f"MultiHeadAttention takes [query], [query, key_value] or [query, key, value], "
                            f"got {len(xs)} tensors")
        q = xs[0]
        k = xs[1] if len(xs) > 1 else q
        v = xs[2] if len(xs) > 2 else k
        return q, k, v

    def _check(self, shapes):
        q, k, v = self._qkv(shapes)
        if any(len(s) != 2 for s in (q, k, v)):
            raise ShapeError(f"layer {self.name!r} (MultiHeadAttention) takes inputs (N, length, features), "
                             f"got {', '.join(format_shape((None, *s)) for s in (q, k, v))}")
        if q[-1] != self.embed_dim or k[-1] is None or v[-1] is None:
            raise ShapeError(f"layer {self.name!r} (MultiHeadAttention): the query needs {self.embed_dim} "
                             f"features and key and value known feature counts; got "
                             f"{', '.join(format_shape((None, *s)) for s in (q, k, v))}")
        if k[0] is not None and v[0] is not None and k[0] != v[0]:
            raise ShapeError(f"layer {self.name!r} (MultiHeadAttention): key and value lengths differ: "
                             f"{format_shape((None, *k))} and {format_shape((None, *v))}")
        return q, k, v

    def build(self, input_shape):
        _, (_, kdim), (_, vdim) = self._check(input_shape)
        e = self.embed_dim
        self.separate = not (kdim == vdim == e)
        if self.separate:
            self.q_proj_weight = self.add_param("q_proj_weight", (e, e), self.kernel_initializer)
            self.k_proj_weight = self.add_param("k_proj_weight", (e, kdim), self.kernel_initializer,
                                                fans=(kdim, e))
            self.v_proj_weight = self.add_param("v_proj_weight", (e, vdim), self.kernel_initializer,
                                                fans=(vdim, e))
        else:
            self.in_proj_weight = self.add_param("in_proj_weight", (3 * e, e), self.kernel_initializer,
                                                 fans=(e, 3 * e))
        self.in_proj_bias = self.add_param("in_proj_bias", (3 * e,), self.bias_initializer) \
            if self.use_bias else None
        self.out_proj_weight = self.add_param("out_proj.weight", (e, e), self.kernel_initializer)
        self.out_proj_bias = self.add_param("out_proj.bias", (e,), self.bias_initializer) \
            if self.use_bias else None

    def _projections(self):
        e = self.embed_dim
        if self.separate:
            weights = [self.q_proj_weight, self.k_proj_weight, self.v_proj_weight]
        else:
            weights = [self.in_proj_weight[i * e:(i + 1) * e] for i in range(3)]
        biases = [None] * 3 if self.in_proj_bias is None else \
            [self.in_proj_bias[i * e:(i + 1) * e] for i in range(3)]
        return weights, biases

    def _heads(self, x):
        """(N, length, E) -> (N, heads, length, E / heads)."""
        return swapaxes(reshape(x, (dim(x, 0), dim(x, 1), self.num_heads, -1)), 1, 2)

    def call(self, xs, training=False):
        q, k, v = self._qkv([self.cast_input(x) for x in xs])
        self._check([x.type.shape[1:] for x in (q, k, v)])
        weights, biases = self._projections()
        q, k, v = (self._heads(linear(x, w, b)) for x, w, b in zip((q, k, v), weights, biases))
        if training and self.dropout > 0.0:
            scale = 1.0 / math.sqrt(self.embed_dim // self.num_heads)
            p = dropout(attention_weights(q, k, None, self.causal, scale), self.dropout)
            heads = matmul(p, v)
        else:
            heads = scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        joined = swapaxes(heads, 1, 2)
        joined = reshape(joined, (dim(joined, 0), dim(joined, 1), self.embed_dim))
        return linear(joined, self.out_proj_weight, self.out_proj_bias)

    def output_shape(self, input_shape):
        if all(d is None or isinstance(d, int) for d in input_shape):  # one shape: self-attention
            input_shape = [input_shape]
        (length, _), _, _ = self._check(input_shape)
        return (length, self.embed_dim)

    def get_config(self):
        return {**super().get_config(), "embed_dim": self.embed_dim, "num_heads": self.num_heads,
                "dropout": self.dropout, "use_bias": self.use_bias, "causal": self.causal,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}
