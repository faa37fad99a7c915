"""ONNX interoperability: `th.onnx.load(path_or_bytes)` imports a model as a `th.nn.Model`;
`theon.onnx.backend` runs ONNX's backend conformance tests against theon.

The `onnx` package is an optional dependency (`pip install theon[onnx]`): it is imported
when a model is loaded, not when theon is.
"""
from __future__ import annotations

from .errors import OnnxImportError, UnsupportedOpsError

__all__ = ["load", "supported_ops", "OnnxImportError", "UnsupportedOpsError"]


def _importer():
    # onnx is an optional extra: import the protobuf-based importer only when it is used
    try:
        from .importer import load as loader  # optional: onnx
    except ImportError as e:
        if "onnx" in str(e) or "google" in str(e):
            raise ImportError("th.onnx needs the onnx package: pip install 'theon[onnx]'") from e
        raise
    return loader


def load(path_or_bytes, name: str | None = None, constants: dict | None = None):
    return _importer().load(path_or_bytes, name=name, constants=constants)


load.__doc__ = """An ONNX model (a path, bytes or an onnx.ModelProto) as a theon `nn.Model`; see
theon.onnx.importer.load.load."""


def supported_ops() -> list:
    """The ONNX op types theon can import."""
    from .ops import supported_ops as ops  # optional: onnx (the converters read its types)
    return ops()
