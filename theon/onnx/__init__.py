"""ONNX interoperability: `th.onnx.load(path_or_bytes)` imports a model as a `th.nn.Model`;
`th.onnx.export(model, path, example_inputs)` writes a theon model, function or graph as an
ONNX file; `theon.onnx.backend` runs ONNX's backend conformance tests against theon.

The `onnx` package is an optional dependency (`pip install theon[onnx]`): it is imported
when a model is loaded or exported, not when theon is.
"""
from __future__ import annotations

from .errors import OnnxExportError, OnnxImportError, UnexportableOpsError, UnsupportedOpsError

__all__ = ["load", "export", "supported_ops", "exportable_ops", "OnnxImportError", "UnsupportedOpsError",
           "OnnxExportError", "UnexportableOpsError"]


def _needs_onnx(import_module):
    # onnx is an optional extra: import the protobuf-based code only when it is used
    try:
        return import_module()
    except ImportError as e:
        if "onnx" in str(e) or "google" in str(e):
            raise ImportError("th.onnx needs the onnx package: pip install 'theon[onnx]'") from e
        raise


def _importer():
    def load_module():
        from .importer import load as loader  # optional: onnx
        return loader
    return _needs_onnx(load_module)


def _exporter():
    def load_module():
        from . import exporter  # optional: onnx
        return exporter
    return _needs_onnx(load_module)


def load(path_or_bytes, name: str | None = None, constants: dict | None = None):
    return _importer().load(path_or_bytes, name=name, constants=constants)


load.__doc__ = """An ONNX model (a path, bytes or an onnx.ModelProto) as a theon `nn.Model`; see
theon.onnx.importer.load.load."""


def supported_ops() -> list:
    """The ONNX op types theon can import."""
    from .ops import supported_ops as ops  # optional: onnx (the converters read its types)
    return ops()


def export(model_or_function, path, example_inputs=None, opset=None, dynamic_axes=None, input_names=None,
           output_names=None, external_data=None):
    """Write a th.nn.Model (inference graph), a th.function or a list of output variables as
    an ONNX file at `path` (atomically); see theon.onnx.exporter.api.export. Every op with no
    ONNX form is listed in one UnexportableOpsError before anything is written."""
    return _exporter().export(model_or_function, path, example_inputs, opset=opset, dynamic_axes=dynamic_axes,
                              input_names=input_names, output_names=output_names, external_data=external_data)


def exportable_ops() -> list:
    """The theon op classes (by name) that have an ONNX form."""
    return _exporter().exportable_ops()
