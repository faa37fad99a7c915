"""The dtype names theon accepts (NumPy spelling) and the canonical name of any spelling.
The bottom layer: graph types and tensor interop both read it."""
from __future__ import annotations

import numpy as np

# dtype names theon accepts, in NumPy spelling.
DTYPES = (
    "bool", "uint8", "int8", "int16", "int32", "int64",
    "float16", "float32", "float64", "complex64", "complex128",
)
DTYPE_SET = frozenset(DTYPES)
FLOAT_DTYPES = ("float16", "float32", "float64")
INT_DTYPES = ("uint8", "int8", "int16", "int32", "int64")

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
