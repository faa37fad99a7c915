"""Reading an ONNX file safely: protobuf decoding, opset checks, and external data that may
only come from regular files inside the model's own folder."""
from __future__ import annotations

import os

import onnx
from google.protobuf.message import DecodeError

from ..errors import OnnxImportError

# the ONNX default domain is spelled either way
DEFAULT_DOMAINS = ("", "ai.onnx")
OLDEST_OPSET = 1


def latest_opset() -> int:
    """The newest default-domain opset the installed `onnx` package defines."""
    return onnx.defs.onnx_opset_version()


def read_model(path_or_bytes) -> tuple:
    """(ModelProto, source label, folder for external data or None) from a path or bytes."""
    if isinstance(path_or_bytes, onnx.ModelProto):
        return path_or_bytes, "<ModelProto>", None
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        data, source, folder = bytes(path_or_bytes), "<bytes>", None
    elif isinstance(path_or_bytes, (str, os.PathLike)):
        source = os.fspath(path_or_bytes)
        if not os.path.isfile(source):
            raise OnnxImportError(f"{source}: no such file")
        with open(source, "rb") as f:
            data = f.read()
        folder = os.path.dirname(os.path.realpath(source))
    else:
        raise TypeError(f"th.onnx.load takes a path, bytes or an onnx.ModelProto, got "
                        f"{type(path_or_bytes).__name__}")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise OnnxImportError(f"{source}: not a valid ONNX model: the file is truncated or "
                              f"corrupted (protobuf: {e})") from None
    if not data or not model.HasField("graph"):
        raise OnnxImportError(f"{source}: not a valid ONNX model: it has no graph "
                              f"({len(data)} bytes read)")
    return model, source, folder


def check_opsets(model, source: str) -> dict:
    """{domain: version} of the model; the default domain's must be one theon knows."""
    opsets = {}
    for entry in model.opset_import:
        domain = "" if entry.domain in DEFAULT_DOMAINS else entry.domain
        opsets[domain] = int(entry.version)
    if not model.opset_import:  # IR version 2 models imply opset 1
        opsets[""] = 1
    version = opsets.get("")
    if version is not None:
        if version > latest_opset():
            raise OnnxImportError(
                f"{source}: the model uses opset {version} of the default ONNX domain, but the "
                f"installed onnx package knows opsets up to {latest_opset()}; upgrade onnx "
                f"(pip install -U onnx) or export the model with an older opset")
        if version < OLDEST_OPSET:
            raise OnnxImportError(f"{source}: opset {version} is not a valid ONNX opset")
    return opsets


def _all_tensors(graph):
    """Every TensorProto of a graph: initializers, Constant values, subgraphs' too."""
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _all_tensors(attr.g)
            for g in attr.graphs:
                yield from _all_tensors(g)


def load_external_data(model, source: str, folder) -> None:
    """Read the external data of every tensor into it, from files inside `folder` only."""
    for tensor in _all_tensors(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        what = f"{source}: tensor {tensor.name!r} keeps its data in external file {location!r}"
        if folder is None:
            raise OnnxImportError(f"{what}, but the model was given as bytes; load it from its "
                                  f"path so the file can be found next to it")
        if not location or os.path.isabs(location) or "\\" in location:
            raise OnnxImportError(f"{what}: external data must be a relative path inside the "
                                  f"model's folder")
        path = os.path.realpath(os.path.join(folder, location))
        if os.path.commonpath([path, folder]) != folder:
            raise OnnxImportError(f"{what}, which is outside the model's folder {folder}; refused")
        if not os.path.isfile(path):
            raise OnnxImportError(f"{what}, which does not exist (or is not a regular file)")
        try:
            offset = int(info.get("offset", 0))
            length = int(info["length"]) if "length" in info else None
        except ValueError:
            raise OnnxImportError(f"{what}: offset/length are not integers") from None
        size = os.path.getsize(path)
        if offset < 0 or (length is not None and (length < 0 or offset + length > size)):
            raise OnnxImportError(f"{what}: bytes {offset}..{offset + (length or 0)} are past the "
                                  f"end of the {size}-byte file")
        with open(path, "rb") as f:
            f.seek(offset)
            tensor.raw_data = f.read(size - offset if length is None else length)
        tensor.data_location = onnx.TensorProto.DEFAULT
        del tensor.external_data[:]
