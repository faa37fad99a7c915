"""Normalisation over neighbouring channels: GroupNorm (groups of channels, torch's
GroupNorm) and LocalResponseNormalization (windows of channels, AlexNet's LRN).

LRN's alpha, across channels: y_c = x_c / (k + alpha / size * sum of x^2 over the `size`
channels around c) ** beta. Caffe (LRNLayer, ACROSS_CHANNELS), torch
(torch.nn.LocalResponseNorm) and cuDNN all divide alpha by the window size, and agree for
the odd sizes Caffe accepts; the window of an even size reaches size // 2 channels before c
and size // 2 - 1 after it, as in torch. TensorFlow's tf.nn.local_response_normalization
(depth_radius r, window 2r + 1) does NOT divide: its alpha is this layer's alpha / size, and
its bias is k. Within a channel (Caffe's WITHIN_CHANNEL): y = x / (k + alpha * mean of x^2
over a size x size square around the position, zeros outside) ** beta; Caffe itself uses
k = 1 there whatever k says.
"""
from __future__ import annotations

from ..errors import ShapeError
from ..graph import format_shape
from ..ops.dims import dim
from ..ops.elementwise import rsqrt
from ..ops.nn_pool import avg_pool2d
from ..ops.nn_util import channel_view
from ..ops.rearrange import pad
from ..ops.reduce import mean, var
from ..ops.shape import reshape, reshape_like
from . import initializers
from .layer import Layer

__all__ = ["GroupNorm", "LocalResponseNormalization"]


def _channels(layer, input_shape, min_rank: int) -> int:
    if len(input_shape) + 1 < min_rank or input_shape[0] is None:
        raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}) needs inputs (N, C, ...) of rank "
                         f">= {min_rank} with C known, got {format_shape((None, *input_shape))}")
    return int(input_shape[0])


class GroupNorm(Layer):
    """Split the C channels of (N, C, ...) into `groups` groups, normalise each group of each
    sample over its channels and positions (biased variance, as torch.nn.GroupNorm), then
    scale by "gamma" and shift by "beta", both (C,)."""

    def __init__(self, groups: int, eps: float = 1e-5, center: bool = True, scale: bool = True,
                 gamma_initializer="ones", beta_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.groups = int(groups)
        if self.groups < 1:
            raise ValueError(f"GroupNorm: groups must be positive, got {groups}")
        self.eps = float(eps)
        self.center, self.scale = bool(center), bool(scale)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_initializer = initializers.get(beta_initializer)

    def build(self, input_shape):
        c = _channels(self, input_shape, 2)
        if c % self.groups:
            raise ShapeError(f"layer {self.name!r} (GroupNorm): {c} channels are not divisible by "
                             f"groups={self.groups}")
        self.gamma = self.add_param("gamma", (c,), self.gamma_initializer) if self.scale else None
        self.beta = self.add_param("beta", (c,), self.beta_initializer) if self.center else None

    def call(self, x, training=False):
        x = self.cast_input(x)
        grouped = reshape(x, (dim(x, 0), self.groups, -1))
        m = mean(grouped, axis=-1, keepdims=True)
        v = var(grouped, axis=-1, keepdims=True)
        y = reshape_like((grouped - m) * rsqrt(v + self.eps), x)
        if self.gamma is not None:
            y = y * channel_view(self.gamma, x.ndim)
        if self.beta is not None:
            y = y + channel_view(self.beta, x.ndim)
        return y

    def get_config(self):
        return {**super().get_config(), "groups": self.groups, "eps": self.eps, "center": self.center,
                "scale": self.scale, "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "beta_initializer": initializers.serialize(self.beta_initializer)}


class LocalResponseNormalization(Layer):
    """y = x / (k + alpha * mean of x^2 over a window) ** beta, the window being `size`
    neighbouring channels (region='across', torch.nn.LocalResponseNorm and Caffe's default)
    or a size x size square of positions in the channel itself (region='within', Caffe's
    WITHIN_CHANNEL, odd sizes, (N, C, H, W) inputs). See the module docstring for how alpha
    is scaled elsewhere."""

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0,
                 region: str = "across", **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)
        if self.size < 1:
            raise ValueError(f"LocalResponseNormalization: size must be positive, got {size}")
        if region not in ("across", "within"):
            raise ValueError(f"LocalResponseNormalization: region must be 'across' or 'within', got {region!r}")
        if region == "within" and self.size % 2 == 0:
            raise ValueError(f"LocalResponseNormalization: region='within' needs an odd size, got {size}")
        self.alpha, self.beta, self.k = float(alpha), float(beta), float(k)
        self.region = region

    def build(self, input_shape):
        _channels(self, input_shape, 4 if self.region == "within" else 3)
        if self.region == "within" and len(input_shape) != 3:
            raise ShapeError(f"layer {self.name!r} (LocalResponseNormalization): region='within' takes "
                             f"inputs (N, C, H, W), got {format_shape((None, *input_shape))}")

    def _window_mean(self, squares):
        if self.region == "within":
            return avg_pool2d(squares, self.size, 1, (self.size - 1) // 2, count_include_pad=True)
        # the channel axis as the rows of a one-channel image, pooled by (size, 1) windows
        c = squares.type.shape[1]
        planes = reshape(squares, (dim(squares, 0), 1, c, -1))
        planes = pad(planes, ((0, 0), (0, 0), (self.size // 2, (self.size - 1) // 2), (0, 0)))
        return reshape_like(avg_pool2d(planes, (self.size, 1), 1), squares)

    def call(self, x, training=False):
        x = self.cast_input(x)
        return x / (self.k + self.alpha * self._window_mean(x * x)) ** self.beta

    def get_config(self):
        return {**super().get_config(), "size": self.size, "alpha": self.alpha, "beta": self.beta,
                "k": self.k, "region": self.region}
