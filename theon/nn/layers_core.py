"""Core layers: Dense, Flatten, Reshape, Activation, Dropout, Embedding, Add, Concatenate."""
from __future__ import annotations

import math

from ..errors import ShapeError
from ..graph import format_shape, is_float
from ..ops.dims import dim
from ..ops.nn_conv import linear
from ..ops.nn_misc import dropout, embedding
from ..ops.shape import concatenate, reshape
from . import activations, initializers
from .layer import Layer
from ..ops.random import RandomState

__all__ = ["Dense", "Flatten", "Reshape", "Activation", "Dropout", "Embedding", "Add", "Concatenate"]


def _known(layer, what: str, value) -> int:
    if value is None:
        raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}) needs the {what} known "
                         f"when it is built")
    return int(value)


class Dense(Layer):
    """y = activation(x @ kernel + bias) over the last axis of x.

    kernel is shaped (in_features, units), the transpose of torch.nn.Linear's weight;
    bias is (units,). Parameters: "kernel", "bias".
    """

    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"Dense: units must be positive, got {units}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape):
        if len(input_shape) < 1:
            raise ShapeError(f"layer {self.name!r} (Dense) needs inputs of rank >= 2, got "
                             f"{format_shape((None, *input_shape))}")
        n_in = _known(self, "last input dim", input_shape[-1])
        self.kernel = self.add_param("kernel", (n_in, self.units), self.kernel_initializer)
        self.bias = self.add_param("bias", (self.units,), self.bias_initializer) if self.use_bias else None

    def call(self, x, training=False):
        return self.activation(linear(self.cast_input(x), self.kernel.T, self.bias))

    def output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...)."""

    def call(self, x, training=False):
        rest = x.type.shape[1:]
        if all(d is not None for d in rest):
            return reshape(x, (-1, math.prod(rest)))
        return reshape(x, (dim(x, 0), -1))

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return (math.prod(input_shape),) if None not in input_shape else (None,)


class Reshape(Layer):
    """(N, ...) -> (N, *target_shape); target_shape may hold one -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, int):
            target_shape = (target_shape,)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(d < -1 or d == 0 for d in self.target_shape):
            raise ValueError(f"Reshape: target_shape must hold positive dims and at most one -1, "
                             f"got {self.target_shape}")

    def call(self, x, training=False):
        return reshape(x, (dim(x, 0), *self.target_shape))

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if -1 not in self.target_shape:
            return self.target_shape
        if None in input_shape:
            return tuple(None if d == -1 else d for d in self.target_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        total = math.prod(input_shape)
        if total % known:
            raise ShapeError(f"Reshape: cannot reshape {format_shape(input_shape)} into "
                             f"{format_shape(self.target_shape)}")
        return tuple(total // known if d == -1 else d for d in self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Activation(Layer):
    """An activation by name ('relu', 'softmax', ...) or callable."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, x, training=False):
        return self.activation(x)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Zero each element with probability `rate` and scale the rest by 1/(1 - rate), in
    training calls only (th.nn.dropout). seed: draw from an own RandomState with this seed
    instead of the default one (th.seed)."""

    def __init__(self, rate: float, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(rate)
        if not 0.0 <= self.rate < 1.0:
            raise ValueError(f"Dropout: rate must lie in [0, 1), got {rate}")
        self._rng_state = None

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        if self.seed is not None and self._rng_state is None:
            self._rng_state = RandomState(self.seed)
        return dropout(x, self.rate, training=True, rng=self._rng_state)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


class Embedding(Layer):
    """Integer indices (N, ...) -> rows of a (input_dim, output_dim) table, (N, ..., output_dim).
    Float indices are cast to int64. padding_idx: a row that gets no gradient (as torch)."""

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="random_uniform",
                 padding_idx: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        if self.input_dim < 1 or self.output_dim < 1:
            raise ValueError(f"Embedding: input_dim and output_dim must be positive, got "
                             f"{input_dim} and {output_dim}")
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.padding_idx = None if padding_idx is None else int(padding_idx)

    def build(self, input_shape):
        self.embeddings = self.add_param("embeddings", (self.input_dim, self.output_dim),
                                         self.embeddings_initializer)

    def call(self, x, training=False):
        if is_float(x.dtype):
            x = x.astype("int64")
        return embedding(x, self.embeddings, self.padding_idx)

    def output_shape(self, input_shape):
        return (*tuple(input_shape), self.output_dim)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "padding_idx": self.padding_idx}


def _check_list(layer, shapes):
    if len(shapes) < 2:
        raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) takes at least two "
                         f"tensors, got {len(shapes)}")


class Add(Layer):
    """The elementwise sum of a list of tensors of one shape."""
    takes_list = True

    def build(self, input_shape):
        _check_list(self, input_shape)

    def call(self, xs, training=False):
        out = self.cast_input(xs[0])
        for x in xs[1:]:
            out = out + self.cast_input(x)
        return out

    def output_shape(self, input_shape):
        _check_list(self, input_shape)
        shapes = [tuple(s) for s in input_shape]
        if any(len(s) != len(shapes[0]) for s in shapes):
            raise ShapeError(f"Add: inputs must share one shape, got "
                             f"{', '.join(format_shape(s) for s in shapes)}")
        out = []
        for ds in zip(*shapes):
            known = {d for d in ds if d is not None}
            if len(known) > 1:
                raise ShapeError(f"Add: inputs must share one shape, got "
                                 f"{', '.join(format_shape(s) for s in shapes)}")
            out.append(known.pop() if known else None)
        return tuple(out)


class Concatenate(Layer):
    """Join a list of tensors along `axis` (counted with the batch dim; default 1, the
    channels of NCHW tensors and the features of (N, F) ones)."""
    takes_list = True

    def __init__(self, axis: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _axis(self, rank: int) -> int:
        axis = self.axis + rank + 1 if self.axis < 0 else self.axis
        if not 1 <= axis <= rank:
            raise ValueError(f"Concatenate: axis {self.axis} is out of range for inputs of rank "
                             f"{rank + 1} (the batch axis 0 cannot be joined)")
        return axis

    def build(self, input_shape):
        _check_list(self, input_shape)

    def call(self, xs, training=False):
        return concatenate([self.cast_input(x) for x in xs], axis=self._axis(xs[0].ndim - 1))

    def output_shape(self, input_shape):
        _check_list(self, input_shape)
        shapes = [tuple(s) for s in input_shape]
        a = self._axis(len(shapes[0])) - 1
        joined = [s[a] for s in shapes]
        out = list(shapes[0])
        out[a] = None if None in joined else sum(joined)
        return tuple(out)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
