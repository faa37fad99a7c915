"""OpenCV's Caffe runtime (cv2.dnn.readNetFromCaffe) as the reference an imported model is
checked against (`theon convert --check`). OpenCV is optional: `pip install
"opencv-python-headless<5"`.

Fusion is turned off in OpenCV so each layer keeps its own output, as in the theon model.
"""
from __future__ import annotations

import numpy as np

from .errors import CaffeError

__all__ = ["opencv_outputs", "relative_difference"]


def opencv_outputs(prototxt, caffemodel, inputs: dict, layers: list) -> tuple:
    """(OpenCV's version, its outputs of the Caffe `layers` (Caffe names) for `inputs`
    {blob: array})."""
    try:
        import cv2  # optional: a dependency imported only when a check asks for it
    except ImportError:
        raise CaffeError("the check against OpenCV needs it installed: pip install "
                         "\"opencv-python-headless<5\"") from None
    try:
        net = cv2.dnn.readNetFromCaffe(str(prototxt), None if caffemodel is None else str(caffemodel))
        net.enableFusion(False)
        names = list(inputs)
        if len(names) > 1:
            net.setInputsNames(names)
        for name, value in inputs.items():
            net.setInput(np.ascontiguousarray(value, dtype=np.float32), name)
        return cv2.__version__, list(net.forward(layers))
    except cv2.error as e:
        message = str(e).strip().splitlines()[-1]
        raise CaffeError(f"OpenCV {cv2.__version__} cannot run {prototxt}: {message}") from None


def relative_difference(got: np.ndarray, want: np.ndarray) -> float:
    """max |got - want| / max |want| (inf when the shapes differ)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return float("inf")
    scale = np.abs(want).max() if want.size else 0.0
    diff = np.abs(got - want).max() if want.size else 0.0
    return float(diff / scale) if scale > 0 else float(diff)
