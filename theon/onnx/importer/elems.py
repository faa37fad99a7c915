"""Shape arithmetic at import time. ONNX exporters compute shapes with ops (Shape, Gather,
Concat, Mul ...); the importer follows small integer vectors element by element, each an
int or a symbolic theon scalar (`x.shape[i]`), so Reshape/Expand/Slice get exact static
shapes wherever the input's dims are known, and symbolic dims elsewhere."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from ...graph import Constant, Variable


def _as_int(e):
    if isinstance(e, Constant):
        return int(e.value)
    return e


class Elems:
    """A small int vector (or scalar when `scalar`) of ints and int64 scalar variables."""

    __slots__ = ("values", "scalar", "dtype")

    def __init__(self, values, scalar: bool = False, dtype: str = "int64"):
        self.values = [_as_int(v) for v in values]
        self.scalar = scalar
        self.dtype = dtype

    @classmethod
    def from_numpy(cls, arr) -> "Elems":
        arr = np.asarray(arr)
        return cls([int(v) for v in arr.reshape(-1)], scalar=arr.ndim == 0, dtype=arr.dtype.name)

    def __len__(self):
        return len(self.values)

    def is_static(self) -> bool:
        return all(isinstance(v, (int, np.integer)) for v in self.values)

    def to_numpy(self) -> np.ndarray:
        arr = np.array(self.values, dtype=self.dtype)
        return arr.reshape(()) if self.scalar else arr

    def to_variable(self) -> Variable:
        if self.is_static():
            return T.as_variable(self.to_numpy())
        parts = [T.cast_to(T.as_variable(np.int64(v)) if not isinstance(v, Variable) else v, "int64")
                 for v in self.values]
        out = parts[0] if self.scalar else T.stack(parts)
        return T.cast_to(out, self.dtype) if self.dtype != "int64" else out

    def with_values(self, values, scalar=None) -> "Elems":
        return Elems(values, self.scalar if scalar is None else scalar, self.dtype)


def binary(fn, a: Elems, b: Elems) -> Elems | None:
    """Elementwise `fn` on two Elems with broadcasting of a length-1 side."""
    n = max(len(a), len(b))
    if len(a) not in (1, n) or len(b) not in (1, n):
        return None
    va = a.values * n if len(a) == 1 else a.values
    vb = b.values * n if len(b) == 1 else b.values
    try:
        return Elems([fn(x, y) for x, y in zip(va, vb)], a.scalar and b.scalar, a.dtype)
    except (TypeError, ZeroDivisionError):
        return None


def int_div(x, y):
    """ONNX integer division (truncates toward zero)."""
    if isinstance(x, int) and isinstance(y, int):
        q = abs(x) // abs(y)
        return q if (x >= 0) == (y >= 0) else -q
    return T.floor_divide(x, y)
