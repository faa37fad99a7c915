"""ONNX tensors and attributes as NumPy values and theon dtypes, with the size checks a
hostile file needs (declared dims must agree with the data actually stored)."""
from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import OnnxImportError

T = onnx.TensorProto
# ONNX element type -> theon dtype (the types theon has)
DTYPES = {
    T.FLOAT: "float32", T.DOUBLE: "float64", T.FLOAT16: "float16",
    T.INT8: "int8", T.INT16: "int16", T.INT32: "int32", T.INT64: "int64", T.UINT8: "uint8",
    T.BOOL: "bool", T.COMPLEX64: "complex64", T.COMPLEX128: "complex128",
}
# unsigned types theon lacks are carried in the next wider signed type (same values for
# everything below 2**63; bitwise results are exact once cast back to the unsigned type)
CARRIERS = {T.UINT16: "int32", T.UINT32: "int64", T.UINT64: "int64"}
DTYPES.update(CARRIERS)
ONNX_TYPE = {v: k for k, v in DTYPES.items() if k not in CARRIERS}

# bytes per element where raw data is fixed-size
_ITEMSIZE = {T.FLOAT: 4, T.DOUBLE: 8, T.FLOAT16: 2, T.BFLOAT16: 2, T.INT8: 1, T.INT16: 2,
             T.INT32: 4, T.INT64: 8, T.UINT8: 1, T.UINT16: 2, T.UINT32: 4, T.UINT64: 8,
             T.BOOL: 1, T.COMPLEX64: 8, T.COMPLEX128: 16}
# the typed repeated field each element type stores its values in, and values per element
_FIELD = {T.FLOAT: ("float_data", 1), T.COMPLEX64: ("float_data", 2), T.DOUBLE: ("double_data", 1),
          T.COMPLEX128: ("double_data", 2), T.INT64: ("int64_data", 1),
          T.UINT32: ("uint64_data", 1), T.UINT64: ("uint64_data", 1)}
MAX_ELEMENTS = 1 << 34


def type_name(elem_type: int) -> str:
    return T.DataType.Name(elem_type) if elem_type in T.DataType.values() else str(elem_type)


def theon_dtype(elem_type: int, what: str) -> str:
    try:
        return DTYPES[elem_type]
    except KeyError:
        raise OnnxImportError(f"{what}: element type {type_name(elem_type)} has no theon dtype "
                              f"(theon has {', '.join(sorted(set(DTYPES.values())))})") from None


def to_array(tensor, what: str) -> np.ndarray:
    """A TensorProto's value, after checking its dims against the data it holds."""
    dims = list(tensor.dims)
    if any(d < 0 for d in dims):
        raise OnnxImportError(f"{what}: tensor {tensor.name!r} has a negative dimension {dims}")
    count = math.prod(dims)
    if count > MAX_ELEMENTS:
        raise OnnxImportError(f"{what}: tensor {tensor.name!r} declares {count} elements, more "
                              f"than theon accepts")
    if tensor.data_location == T.EXTERNAL:
        raise OnnxImportError(f"{what}: tensor {tensor.name!r} keeps its data in an external file "
                              f"that was not read")
    elem = tensor.data_type
    if elem == T.STRING:
        raise OnnxImportError(f"{what}: tensor {tensor.name!r} holds strings, which theon has no "
                              f"dtype for")
    stored = None
    if tensor.HasField("raw_data") or tensor.raw_data:
        size = _ITEMSIZE.get(elem)
        if size is not None:
            stored = len(tensor.raw_data) / size
    elif elem in _FIELD:
        field, per = _FIELD[elem]
        stored = len(getattr(tensor, field)) / per
    elif elem in _ITEMSIZE:
        stored = len(tensor.int32_data)
    if stored is not None and stored != count:
        raise OnnxImportError(f"{what}: tensor {tensor.name!r} declares shape {tuple(dims)} "
                              f"({count} elements) but holds data for {stored:g}")
    try:
        value = np.asarray(numpy_helper.to_array(tensor))
        if elem in CARRIERS:
            value = value.astype(CARRIERS[elem])
        return value
    except Exception as e:  # noqa: BLE001 - any decoding failure is the file's fault
        raise OnnxImportError(f"{what}: tensor {tensor.name!r} cannot be decoded: {e}") from None


def attribute_value(attr, what: str):
    """An attribute as a Python value (tensors as NumPy arrays, graphs as GraphProto)."""
    A = onnx.AttributeProto
    kind = attr.type
    if kind == A.FLOAT:
        return float(attr.f)
    if kind == A.INT:
        return int(attr.i)
    if kind == A.STRING:
        return attr.s.decode("utf-8", "replace")
    if kind == A.TENSOR:
        return to_array(attr.t, what)
    if kind == A.GRAPH:
        return attr.g
    if kind == A.FLOATS:
        return [float(f) for f in attr.floats]
    if kind == A.INTS:
        return [int(i) for i in attr.ints]
    if kind == A.STRINGS:
        return [s.decode("utf-8", "replace") for s in attr.strings]
    if kind == A.TENSORS:
        return [to_array(t, what) for t in attr.tensors]
    if kind == A.GRAPHS:
        return list(attr.graphs)
    if kind == A.SPARSE_TENSOR:
        raise OnnxImportError(f"{what}: sparse tensor attribute {attr.name!r} is not supported")
    if kind == A.UNDEFINED and attr.ref_attr_name:
        raise OnnxImportError(f"{what}: attribute {attr.name!r} refers to a function attribute")
    raise OnnxImportError(f"{what}: attribute {attr.name!r} has an unknown type {kind}")


def value_info_type(info) -> tuple:
    """(elem_type, dims, dim names) of a ValueInfoProto; dims None where unknown."""
    tt = info.type.tensor_type
    if not info.type.HasField("tensor_type"):
        return None, None, None
    if not tt.HasField("shape"):
        return tt.elem_type, None, None
    dims, names = [], []
    for d in tt.shape.dim:
        if d.HasField("dim_value") and d.dim_value >= 0:
            dims.append(int(d.dim_value))
            names.append(int(d.dim_value))
        else:
            dims.append(None)
            names.append(d.dim_param or None)
    return tt.elem_type, dims, names
