"""Tensor types: a dtype name plus a static shape whose dims may be unknown (None)."""
from __future__ import annotations

from dataclasses import dataclass

from ..backend.dtypes import (  # noqa: F401
    DEFAULT_COMPLEX,
    DEFAULT_FLOAT,
    DEFAULT_INT,
    DTYPE_SET,
    DTYPES,
    FLOAT_DTYPES,
    INT_DTYPES,
    canonical_dtype,
    default_dtype,
)


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES or dtype.startswith("complex")


def is_int(dtype: str) -> bool:
    return dtype in INT_DTYPES


@dataclass(frozen=True)
class TensorType:
    dtype: str
    shape: tuple  # of int | None

    def __post_init__(self):
        if self.dtype not in DTYPE_SET:
            object.__setattr__(self, "dtype", canonical_dtype(self.dtype))
        shape = tuple(None if d is None else int(d) for d in self.shape)
        if any(d is not None and d < 0 for d in shape):
            raise ValueError(f"negative dimension in shape {shape}")
        object.__setattr__(self, "shape", shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_concrete(self) -> bool:
        return all(d is not None for d in self.shape)

    def accepts(self, dtype: str, shape: tuple) -> bool:
        """Whether a value of this dtype and concrete shape is an instance of this type."""
        return dtype == self.dtype and len(shape) == len(self.shape) and all(
            d is None or d == s for d, s in zip(self.shape, shape))

    def with_shape(self, shape) -> "TensorType":
        return TensorType(self.dtype, tuple(shape))

    def with_dtype(self, dtype) -> "TensorType":
        return TensorType(dtype, self.shape)

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        if len(self.shape) == 1:
            dims += ","
        return f"{self.dtype}[{dims}]"


def shapes_agree(a, b) -> bool:
    """Same rank, and equal wherever both dims are known (None matches anything)."""
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def format_shape(shape) -> str:
    """(3, None) -> '(3, ?)' for error messages."""
    dims = ", ".join("?" if d is None else str(d) for d in shape)
    return f"({dims},)" if len(shape) == 1 else f"({dims})"
