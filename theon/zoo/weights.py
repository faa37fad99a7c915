"""Filling a zoo model from `weights=`: a state dict file (torch .pt/.pth or safetensors), a
dict already in memory, or None (the model keeps its fresh initialisation). Nothing is
downloaded: the caller names a file that is on disk."""
from __future__ import annotations

import os

from ..io.torch_state import load_state_dict

__all__ = ["apply_weights"]


def apply_weights(model, weights, mapping=None, strict: bool = True):
    """model with `weights` loaded (torch names and layouts; see Model.load_state_dict)."""
    if weights is None:
        return model
    if isinstance(weights, (str, os.PathLike)):
        weights = load_state_dict(weights)
    elif not isinstance(weights, dict):
        raise TypeError(f"weights must be a file path, a state dict or None, got {type(weights).__name__}")
    model.load_state_dict(weights, mapping=mapping, strict=strict)
    return model
