"""theon layers for the Keras layers theon's general layers do not cover exactly: Permute
(which the importer also uses, once per tensor, where a channels-first tensor meets a
layer that needs Keras' channels-last order), PReLU with one learned slope per element
(Keras' default), the elementwise merges Multiply, Subtract, Average, Maximum and
Minimum, and 1-d pooling over (N, C, L) with Keras' padding. Each is a plain theon layer (configs, weights by name, trainable)."""
from __future__ import annotations

import functools

from ..errors import ShapeError
from ..graph import format_shape
from ..ops.elementwise import maximum, minimum, relu
from ..ops.shape import transpose
from ..nn import initializers
from ..nn.layer import Layer
from ..nn.layers_pool import AvgPool2D, MaxPool2D
from ..ops.shape import expand_dims, squeeze

__all__ = ["KerasPermute", "KerasPReLU", "KerasMerge", "KerasMaxPool1D", "KerasAvgPool1D"]


class KerasPermute(Layer):
    """Reorder the axes after the batch axis: dims is a permutation of 1..rank-1, as in
    Keras' Permute ((2, 1) swaps the two axes of (N, A, B))."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"KerasPermute: dims must be a permutation of 1..{len(self.dims)}, got {dims!r}")

    def _check(self, input_shape):
        if len(input_shape) != len(self.dims):
            raise ShapeError(f"layer {self.name!r} (KerasPermute): dims {self.dims} need inputs of rank "
                             f"{len(self.dims) + 1}, got {format_shape((None, *input_shape))}")

    def build(self, input_shape):
        self._check(input_shape)

    def call(self, x, training=False):
        self._check(x.type.shape[1:])
        return transpose(x, (0, *self.dims))

    def output_shape(self, input_shape):
        self._check(input_shape)
        return tuple(input_shape[d - 1] for d in self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class KerasPReLU(Layer):
    """max(x, 0) + alpha * min(x, 0) with a learned "alpha" of `alpha_shape` (the input's
    shape without the batch dim, 1 along shared axes), broadcast against the input."""

    def __init__(self, alpha_shape, init: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha_shape = tuple(int(d) for d in alpha_shape)
        self.init = float(init)

    def build(self, input_shape):
        if len(input_shape) != len(self.alpha_shape) or any(
                a != 1 and a != d for a, d in zip(self.alpha_shape, input_shape)):
            raise ShapeError(f"layer {self.name!r} (KerasPReLU): alpha {format_shape(self.alpha_shape)} does "
                             f"not broadcast against inputs {format_shape((None, *input_shape))}")
        self.alpha = self.add_param("alpha", self.alpha_shape, initializers.Constant(self.init))

    def call(self, x, training=False):
        x = self.cast_input(x)
        return relu(x) + self.alpha * minimum(x, 0.0)

    def get_config(self):
        return {**super().get_config(), "alpha_shape": list(self.alpha_shape), "init": self.init}


_MERGES = {"multiply": lambda a, b: a * b, "maximum": maximum, "minimum": minimum}


class KerasMerge(Layer):
    """An elementwise merge of a list of tensors of one shape: "multiply", "subtract" (of
    two), "average", "maximum" or "minimum"."""
    takes_list = True

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("multiply", "subtract", "average", "maximum", "minimum"):
            raise ValueError(f"KerasMerge: mode must be multiply, subtract, average, maximum or minimum, "
                             f"got {mode!r}")
        self.mode = mode

    def build(self, input_shape):
        if len(input_shape) < 2 or (self.mode == "subtract" and len(input_shape) != 2):
            want = "two tensors" if self.mode == "subtract" else "at least two tensors"
            raise ValueError(f"layer {self.name!r} (KerasMerge {self.mode}) takes {want}, got {len(input_shape)}")

    def call(self, xs, training=False):
        xs = [self.cast_input(x) for x in xs]
        if self.mode == "subtract":
            return xs[0] - xs[1]
        if self.mode == "average":
            return functools.reduce(lambda a, b: a + b, xs) * (1.0 / len(xs))
        return functools.reduce(_MERGES[self.mode], xs)

    def output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class _Pool1D:
    """1-d pooling of (N, C, L) as 2-d pooling of (N, C, 1, L): Keras' 'valid'/'same'
    padding (padded positions never win a max nor count in an average)."""

    def __init__(self, pool_size: int = 2, strides=None, padding: str = "valid", **kwargs):
        self.pool_size_1d = int(pool_size)
        self.strides_1d = self.pool_size_1d if strides is None else int(strides)
        super().__init__((1, self.pool_size_1d), (1, self.strides_1d), padding, **kwargs)

    def _check1d(self, input_shape):
        if len(input_shape) != 2:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) expects inputs (N, C, L), got "
                             f"{format_shape((None, *input_shape))}")

    def build(self, input_shape):
        self._check1d(input_shape)

    def call(self, x, training=False):
        self._check1d(x.type.shape[1:])
        return squeeze(super().call(expand_dims(x, 2), training), 2)

    def output_shape(self, input_shape):
        self._check1d(input_shape)
        c, _, n = super().output_shape((input_shape[0], 1, input_shape[1]))
        return (c, n)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size_1d, strides=self.strides_1d)
        return config


class KerasMaxPool1D(_Pool1D, MaxPool2D):
    """The maximum over windows of pool_size steps of (N, C, L)."""


class KerasAvgPool1D(_Pool1D, AvgPool2D):
    """The mean over windows of pool_size steps of (N, C, L), padding not counted."""

    def __init__(self, pool_size: int = 2, strides=None, padding: str = "valid", **kwargs):
        kwargs.setdefault("count_include_pad", False)
        super().__init__(pool_size, strides, padding, **kwargs)
