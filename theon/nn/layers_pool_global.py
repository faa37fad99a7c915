"""Global pooling over every spatial position of channels-first inputs: GlobalMaxPool1D
(N, C, L), GlobalMaxPool2D (N, C, H, W), and GlobalAvgPool1D to match GlobalAvgPool2D."""
from __future__ import annotations

from typing import ClassVar

from ..errors import ShapeError
from ..graph import format_shape
from ..ops.reduce import amax, mean
from .layer import Layer

__all__ = ["GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalAvgPool1D"]


class _GlobalPool(Layer):
    rank: ClassVar[int] = 2
    reduce: ClassVar = None

    def __init__(self, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.keepdims = bool(keepdims)

    def _check(self, input_shape):
        if len(input_shape) != self.rank + 1:
            layout = {1: "(N, C, L)", 2: "(N, C, H, W)"}[self.rank]
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) expects inputs {layout} "
                             f"(channels first), got {format_shape((None, *input_shape))}")
        if 0 in input_shape[1:]:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) cannot pool an empty input "
                             f"{format_shape((None, *input_shape))}")

    def build(self, input_shape):
        self._check(input_shape)

    def call(self, x, training=False):
        self._check(x.type.shape[1:])
        return type(self).reduce(x, axis=tuple(range(2, 2 + self.rank)), keepdims=self.keepdims)

    def output_shape(self, input_shape):
        self._check(input_shape)
        return (input_shape[0], *(1,) * self.rank) if self.keepdims else (input_shape[0],)

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


class GlobalMaxPool1D(_GlobalPool):
    """The maximum over L: (N, C, L) -> (N, C), or (N, C, 1) with keepdims."""
    rank = 1
    reduce = staticmethod(amax)


class GlobalMaxPool2D(_GlobalPool):
    """The maximum over H and W: (N, C, H, W) -> (N, C), or (N, C, 1, 1) with keepdims."""
    rank = 2
    reduce = staticmethod(amax)


class GlobalAvgPool1D(_GlobalPool):
    """The mean over L: (N, C, L) -> (N, C), or (N, C, 1) with keepdims."""
    rank = 1
    reduce = staticmethod(mean)
