"""Activation layers with parameters: ReLU (leaky slope, cap), ELU (alpha), Softmax (axis)
and PReLU (a learned slope per channel, torch layout)."""
from __future__ import annotations

from ..errors import ShapeError
from ..graph import format_shape
from ..ops.elementwise import elu, leaky_relu, minimum, relu
from ..ops.nn_loss import softmax
from ..ops.nn_util import channel_view
from . import initializers
from .layer import Layer

__all__ = ["ReLU", "ELU", "Softmax", "PReLU"]


class ReLU(Layer):
    """max(x, 0), or x * negative_slope below 0 (a leaky ReLU, Caffe's ReLU with
    negative_slope); max_value caps the output (ReLU6: max_value=6)."""

    def __init__(self, negative_slope: float = 0.0, max_value: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = float(negative_slope)
        self.max_value = None if max_value is None else float(max_value)
        if self.max_value is not None and self.max_value <= 0:
            raise ValueError(f"ReLU: max_value must be positive, got {max_value}")

    def call(self, x, training=False):
        x = self.cast_input(x)
        y = relu(x) if self.negative_slope == 0.0 else leaky_relu(x, self.negative_slope)
        return y if self.max_value is None else minimum(y, self.max_value)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope, "max_value": self.max_value}


class ELU(Layer):
    """x above 0, alpha * (exp(x) - 1) below."""

    def __init__(self, alpha: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, x, training=False):
        return elu(self.cast_input(x), self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Softmax(Layer):
    """softmax over `axis` (counted with the batch dim; default -1, the last)."""

    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _axis(self, rank: int) -> int:
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= axis < rank:
            raise ShapeError(f"layer {self.name!r} (Softmax): axis {self.axis} is out of range for "
                             f"inputs of rank {rank} (the batch axis 0 cannot be normalised over)")
        return axis

    def build(self, input_shape):
        self._axis(len(input_shape) + 1)

    def call(self, x, training=False):
        return softmax(self.cast_input(x), axis=self._axis(x.ndim))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class PReLU(Layer):
    """max(x, 0) + alpha * min(x, 0) with a learned slope "alpha" over the channel axis 1:
    shaped (C,) (channelwise, torch.nn.PReLU(C) and Caffe's PReLU) or (1,) (one slope
    shared by every channel, torch.nn.PReLU()), initialised to `init`."""

    def __init__(self, channelwise: bool = True, init: float = 0.25, **kwargs):
        super().__init__(**kwargs)
        self.channelwise = bool(channelwise)
        self.init = float(init)

    def build(self, input_shape):
        if self.channelwise:
            if len(input_shape) < 1 or input_shape[0] is None:
                raise ShapeError(f"layer {self.name!r} (PReLU) needs inputs (N, C, ...) with C known, got "
                                 f"{format_shape((None, *input_shape))}")
            n = int(input_shape[0])
        else:
            n = 1
        self.alpha = self.add_param("alpha", (n,), initializers.Constant(self.init))

    def call(self, x, training=False):
        x = self.cast_input(x)
        alpha = channel_view(self.alpha, x.ndim) if x.ndim > 1 else self.alpha
        return relu(x) + alpha * minimum(x, 0.0)

    def get_config(self):
        return {**super().get_config(), "channelwise": self.channelwise, "init": self.init}
