"""The Caffe importer's errors: each names the file and, where there is one, the layer."""
from __future__ import annotations

from ..errors import TheonError

__all__ = ["CaffeError", "CaffeFormatError", "MissingInputShapeError", "UnsupportedLayersError"]


class CaffeError(TheonError, ValueError):
    """A Caffe file theon cannot turn into a model: a mismatched prototxt and caffemodel,
    a layer whose settings make no sense, a missing input shape."""


class CaffeFormatError(CaffeError):
    """A file that is not a well-formed prototxt or caffemodel (truncated, corrupted,
    declaring sizes it does not hold)."""


class UnsupportedLayersError(CaffeError):
    """Layers theon cannot import, all of them listed at once before anything is built.
    `unsupported` maps each type (with the setting that is not supported) to its layers."""

    def __init__(self, message: str, unsupported: dict):
        super().__init__(message)
        self.unsupported = unsupported


class MissingInputShapeError(CaffeError):
    """An input whose shape the files do not give (a data layer reading a data set): pass
    it as input_shape. `blob` names the input."""

    def __init__(self, message: str, blob: str):
        super().__init__(message)
        self.blob = blob
