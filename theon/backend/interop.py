"""Conversion between NumPy arrays, Python values and torch tensors."""
from __future__ import annotations

import numpy as np
import torch

from .dtypes import canonical_dtype

_TORCH = {
    "bool": torch.bool, "uint8": torch.uint8, "int8": torch.int8, "int16": torch.int16,
    "int32": torch.int32, "int64": torch.int64, "float16": torch.float16,
    "float32": torch.float32, "float64": torch.float64,
    "complex64": torch.complex64, "complex128": torch.complex128,
}
_NAME = {v: k for k, v in _TORCH.items()}


def torch_dtype(name: str) -> torch.dtype:
    return _TORCH[name]


def dtype_name(dtype: torch.dtype) -> str:
    try:
        return _NAME[dtype]
    except KeyError:
        raise TypeError(f"unsupported torch dtype {dtype}") from None


def source_dtype(value) -> str | None:
    """The dtype name a value carries (None for Python scalars and lists, which adapt)."""
    if isinstance(value, torch.Tensor):
        return dtype_name(value.dtype)
    if isinstance(value, (np.ndarray, np.generic)):
        return canonical_dtype(value.dtype)
    return None


def to_torch(value, dtype=None, device=None) -> torch.Tensor:
    """A torch tensor of `value` with the given dtype name and device (no copy if it already is)."""
    tdtype = None if dtype is None else _TORCH[canonical_dtype(dtype)]
    if isinstance(value, torch.Tensor):
        return value.to(device=device, dtype=tdtype)
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        arr = np.asarray(value)
        if arr.dtype.name not in _TORCH:
            arr = arr.astype(canonical_dtype(arr.dtype))
        if not arr.flags.writeable or not arr.flags.c_contiguous and not arr.flags.f_contiguous:
            arr = np.array(arr)
        t = torch.from_numpy(arr)
        return t.to(device=device, dtype=tdtype)
    arr = np.asarray(value)
    if dtype is None and arr.dtype.name not in _TORCH:
        arr = arr.astype(canonical_dtype(arr.dtype))
    return torch.as_tensor(arr, dtype=tdtype, device=device)


def to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A NumPy view (CPU) or copy (other devices) of a tensor."""
    if tensor.device.type != "cpu":
        tensor = tensor.cpu()
    return tensor.numpy()
