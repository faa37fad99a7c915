"""Layers that resize the spatial dims of (N, C, H, W): UpSampling2D (nearest or bilinear),
ZeroPadding2D and Cropping2D (Keras' arguments, channels first)."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..graph import constant, format_shape
from ..ops.linalg import matmul
from ..ops.rearrange import pad, repeat
from .layer import Layer

__all__ = ["UpSampling2D", "ZeroPadding2D", "Cropping2D", "bilinear_matrix"]


def _check_4d(layer, input_shape):
    if len(input_shape) != 3:
        raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}) expects inputs (N, C, H, W) "
                         f"(channels first), got {format_shape((None, *input_shape))}")


def _pair(value, what: str) -> tuple:
    t = (int(value),) * 2 if isinstance(value, (int, np.integer)) else tuple(int(v) for v in value)
    if len(t) != 2:
        raise ValueError(f"{what} must be an int or two ints, got {value!r}")
    return t


def _sides(value, what: str) -> tuple:
    """Keras' forms: n, (h, w) or ((top, bottom), (left, right)) -> ((t, b), (l, r))."""
    if isinstance(value, (int, np.integer)):
        sides = ((int(value),) * 2,) * 2
    else:
        value = tuple(value)
        if len(value) != 2:
            raise ValueError(f"{what} must be an int, (h, w) or ((top, bottom), (left, right)), got {value!r}")
        sides = tuple((int(v),) * 2 if isinstance(v, (int, np.integer)) else _pair(v, what) for v in value)
    if min(min(s) for s in sides) < 0:
        raise ValueError(f"{what} must be non-negative, got {value!r}")
    return sides


def bilinear_matrix(n_in: int, factor: int) -> np.ndarray:
    """The (n_in * factor, n_in) matrix of linear interpolation with half-pixel centres
    (torch's align_corners=False, TensorFlow 2's resize): output i samples the input at
    (i + 0.5) / factor - 0.5, clamped to the first and last pixels."""
    n_out = n_in * factor
    src = np.maximum((np.arange(n_out) + 0.5) / factor - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1.0 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m


class UpSampling2D(Layer):
    """Enlarge H and W by integer factors `size`: 'nearest' repeats rows and columns,
    'bilinear' interpolates with half-pixel centres (torch's F.interpolate with
    align_corners=False; needs H and W known when the layer is called)."""

    def __init__(self, size=2, interpolation: str = "nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = _pair(size, "UpSampling2D size")
        if min(self.size) < 1:
            raise ValueError(f"UpSampling2D: size must be positive, got {size!r}")
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError(f"UpSampling2D: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
        self.interpolation = interpolation

    def build(self, input_shape):
        _check_4d(self, input_shape)

    def call(self, x, training=False):
        if self.interpolation == "nearest":
            return repeat(repeat(x, self.size[0], axis=2), self.size[1], axis=3)
        h, w = x.type.shape[2:]
        if h is None or w is None:
            raise ShapeError(f"layer {self.name!r} (UpSampling2D): bilinear interpolation needs H and W "
                             f"known, got input {format_shape(x.type.shape)}")
        x = self.cast_input(x)
        rows = constant(bilinear_matrix(h, self.size[0]).astype(x.dtype))
        cols = constant(bilinear_matrix(w, self.size[1]).T.astype(x.dtype))
        return matmul(rows, matmul(x, cols))

    def output_shape(self, input_shape):
        _check_4d(self, input_shape)
        c, h, w = input_shape
        return (c, None if h is None else h * self.size[0], None if w is None else w * self.size[1])

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "interpolation": self.interpolation}


class ZeroPadding2D(Layer):
    """Zeros around H and W: padding n, (h, w) or ((top, bottom), (left, right))."""

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = _sides(padding, "ZeroPadding2D padding")

    def build(self, input_shape):
        _check_4d(self, input_shape)

    def call(self, x, training=False):
        return pad(x, ((0, 0), (0, 0), *self.padding))

    def output_shape(self, input_shape):
        _check_4d(self, input_shape)
        c, h, w = input_shape
        (t, b), (l, r) = self.padding
        return (c, None if h is None else h + t + b, None if w is None else w + l + r)

    def get_config(self):
        return {**super().get_config(), "padding": [list(s) for s in self.padding]}


class Cropping2D(Layer):
    """Remove rows and columns at the edges of H and W: cropping n, (h, w) or
    ((top, bottom), (left, right))."""

    def __init__(self, cropping=0, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _sides(cropping, "Cropping2D cropping")

    def build(self, input_shape):
        self.output_shape(input_shape)

    def call(self, x, training=False):
        (t, b), (l, r) = self.cropping
        return x[:, :, t:-b if b else None, l:-r if r else None]

    def output_shape(self, input_shape):
        _check_4d(self, input_shape)
        c, *spatial = input_shape
        out = []
        for n, (before, after), axis in zip(spatial, self.cropping, ("H", "W")):
            if n is not None and before + after >= n:
                raise ShapeError(f"layer {self.name!r} (Cropping2D): cropping {before} + {after} leaves nothing "
                                 f"of {axis} = {n} (input {format_shape((None, *input_shape))})")
            out.append(None if n is None else n - before - after)
        return (c, *out)

    def get_config(self):
        return {**super().get_config(), "cropping": [list(s) for s in self.cropping]}
