"""The Keras importer's errors: each names the file and, where there is one, the layer."""
from __future__ import annotations

from ..errors import TheonError

__all__ = ["KerasError", "KerasFormatError", "UnsupportedLayersError"]


class KerasError(TheonError, ValueError):
    """A Keras file theon cannot turn into a model: no model config (a weights-only file),
    weights that do not fit the config, a layer whose settings theon does not follow."""


class KerasFormatError(KerasError):
    """A file that is not a well-formed Keras model file (not HDF5 or zip, truncated,
    a config that is not JSON, sizes it does not hold)."""


class UnsupportedLayersError(KerasError):
    """Layers theon cannot import, all listed at once before anything is built.
    `unsupported` maps each class (with the setting that is not supported) to its layers."""

    def __init__(self, message: str, unsupported: dict):
        super().__init__(message)
        self.unsupported = unsupported
