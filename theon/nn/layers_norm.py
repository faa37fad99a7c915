"""Normalisation layers: BatchNorm (over every axis but the channels, axis 1) and LayerNorm."""
from __future__ import annotations

from ..errors import ShapeError
from ..graph import format_shape
from ..ops.nn_norm import batch_norm, layer_norm
from . import initializers
from .layer import Layer

__all__ = ["BatchNorm", "LayerNorm"]


class BatchNorm(Layer):
    """Batch normalisation of (N, C, ...) over every axis but 1, torch semantics.

    Parameters: "gamma", "beta" (trainable, unless center/scale are off) and
    "running_mean", "running_var" (never trainable). A training call normalises with the
    batch statistics and records `(running_mean, new)` and `(running_var, new)` in
    `self.updates` (new = (1 - momentum) * old + momentum * batch statistic; the variance is
    the unbiased one, as torch). A frozen layer (`trainable = False`) always runs in
    inference mode, with the running statistics, and records no updates.
    """

    def __init__(self, momentum: float = 0.1, eps: float = 1e-5, center: bool = True, scale: bool = True,
                 gamma_initializer="ones", beta_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.momentum, self.eps = float(momentum), float(eps)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"BatchNorm: momentum must lie in [0, 1], got {momentum}")
        self.center, self.scale = bool(center), bool(scale)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_initializer = initializers.get(beta_initializer)

    def build(self, input_shape):
        if len(input_shape) < 1 or input_shape[0] is None:
            raise ShapeError(f"layer {self.name!r} (BatchNorm) needs inputs (N, C, ...) with C known, "
                             f"got {format_shape((None, *input_shape))}")
        c = int(input_shape[0])
        self.gamma = self.add_param("gamma", (c,), self.gamma_initializer) if self.scale else None
        self.beta = self.add_param("beta", (c,), self.beta_initializer) if self.center else None
        self.running_mean = self.add_param("running_mean", (c,), "zeros", trainable=False)
        self.running_var = self.add_param("running_var", (c,), "ones", trainable=False)

    def call(self, x, training=False):
        x = self.cast_input(x)
        if training and self.trainable:
            y, new_mean, new_var = batch_norm(x, self.running_mean, self.running_var, self.gamma, self.beta,
                                              training=True, momentum=self.momentum, eps=self.eps)
            self.updates = [(self.running_mean, new_mean), (self.running_var, new_var)]
            return y
        return batch_norm(x, self.running_mean, self.running_var, self.gamma, self.beta,
                          training=False, eps=self.eps)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "eps": self.eps,
                "center": self.center, "scale": self.scale,
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_initializer": initializers.serialize(self.beta_initializer)}


class LayerNorm(Layer):
    """Normalise over trailing axes (`axis`: an int or tuple counted with the batch dim,
    default -1; e.g. axis=(1, 2, 3) for whole (N, C, H, W) samples), then scale by "gamma"
    and shift by "beta" (shaped like those axes)."""

    def __init__(self, axis=-1, eps: float = 1e-5, center: bool = True, scale: bool = True,
                 gamma_initializer="ones", beta_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.axis = (int(axis),) if isinstance(axis, int) else tuple(int(a) for a in axis)
        if not self.axis:
            raise ValueError("LayerNorm: axis must name at least one axis")
        self.eps = float(eps)
        self.center, self.scale = bool(center), bool(scale)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_initializer = initializers.get(beta_initializer)

    def _normalized_shape(self, input_shape) -> tuple:
        rank = len(input_shape) + 1
        axes = sorted(a + rank if a < 0 else a for a in self.axis)
        if axes[0] < 1 or axes[-1] >= rank or axes != list(range(axes[0], rank)):
            raise ShapeError(f"layer {self.name!r} (LayerNorm): axis {self.axis} must name the trailing "
                             f"axes (not the batch axis) of inputs {format_shape((None, *input_shape))}")
        shape = tuple(input_shape[a - 1] for a in axes)
        if None in shape:
            raise ShapeError(f"layer {self.name!r} (LayerNorm) needs the normalised dims known, got "
                             f"inputs {format_shape((None, *input_shape))}")
        return shape

    def build(self, input_shape):
        self.normalized_shape = self._normalized_shape(input_shape)
        self.gamma = self.add_param("gamma", self.normalized_shape, self.gamma_initializer) if self.scale else None
        self.beta = self.add_param("beta", self.normalized_shape, self.beta_initializer) if self.center else None

    def call(self, x, training=False):
        return layer_norm(self.cast_input(x), self.normalized_shape, self.gamma, self.beta, self.eps)

    def output_shape(self, input_shape):
        self._normalized_shape(input_shape)
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis), "eps": self.eps, "center": self.center,
                "scale": self.scale, "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_initializer": initializers.serialize(self.beta_initializer)}
