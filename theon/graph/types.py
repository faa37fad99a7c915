"""Tensor types: a dtype name plus a static shape whose dims may be unknown (None)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# dtype names theon accepts, in NumPy spelling.
DTYPES = (
    "bool", "uint8", "int8", "int16", "int32", "int64",
    "float16", "float32", "float64", "complex64", "complex128",
)
_DTYPE_SET = frozenset(DTYPES)
FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("uint8", "int8", "int16", "int32", "int64")

Dim = "int | None"

# The one default-dtype rule: a Python number (or list of them) becomes these dtypes when
# nothing else fixes its dtype (th.constant(0.5), th.zeros(3), th.arange(0.5, 2), an
# expression of Python scalars alone). Next to a tensor, a Python scalar is weak and takes
# the tensor's dtype instead (NEP 50). float32 is the deep-learning default (torch, JAX),
# and the dtype of th.tensor inputs.
DEFAULT_FLOAT = "float32"
DEFAULT_COMPLEX = "complex64"
DEFAULT_INT = "int64"


def default_dtype(kind: str) -> str:
    """The default dtype of a NumPy dtype kind ('b', 'i', 'u', 'f' or 'c')."""
    return {"b": "bool", "i": DEFAULT_INT, "u": DEFAULT_INT, "f": DEFAULT_FLOAT,
            "c": DEFAULT_COMPLEX}[kind]


def canonical_dtype(dtype) -> str:
    """Normalise any dtype spelling (np.float32, 'f4', torch.float32, float) to a name."""
    if dtype is None:
        raise TypeError("dtype must be given")
    name = getattr(dtype, "name", None)
    if name is None and type(dtype).__module__ == "torch":
        name = str(dtype).replace("torch.", "")
    if name is None:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            raise TypeError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}") from None
    if name not in DTYPES:
        raise TypeError(f"unsupported dtype {name!r}; expected one of {', '.join(DTYPES)}")
    return name


def is_float(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES or dtype.startswith("complex")


def is_int(dtype: str) -> bool:
    return dtype in INT_DTYPES


@dataclass(frozen=True)
class TensorType:
    dtype: str
    shape: tuple  # of int | None

    def __post_init__(self):
        if self.dtype not in _DTYPE_SET:
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
