"""Reinterpreting bits: `bitcast(x, dtype)` views x's bytes as `dtype` of the same width
(float32 <-> int32 ...). An integer input wider than the target (an unsigned value carried
in a wider signed type) is first wrapped to the target's width."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..backend.interop import torch_dtype
from ..errors import DTypeError
from ..graph import TensorType, canonical_dtype
from .base import Op, as_variable

__all__ = ["BitCast", "bitcast"]

_INT_OF_SIZE = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


@dataclass(frozen=True)
class BitCast(Op):
    dtype: str = "int32"
    name: ClassVar[str] = "bitcast"
    differentiable: ClassVar[bool] = False

    def infer(self, x):
        src, dst = np.dtype(x.dtype).itemsize, np.dtype(self.dtype).itemsize
        if src != dst and not (np.dtype(x.dtype).kind in "iu" and src > dst):
            raise DTypeError(f"bitcast: {x.dtype} ({src * 8} bits) and {self.dtype} ({dst * 8} bits) "
                             f"differ in width")
        return [TensorType(self.dtype, x.type.shape)]

    def kernel(self, x):
        target = torch_dtype(self.dtype)
        size = torch.empty((), dtype=target).element_size()
        if x.element_size() != size:
            x = x.to(_INT_OF_SIZE[size])
        return x.contiguous().view(target).clone()


def bitcast(x, dtype):
    return BitCast(canonical_dtype(dtype))(as_variable(x))
