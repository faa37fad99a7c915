"""Where the real ONNX models of the tests come from: the rapidocr-onnxruntime and
silero-vad packages (installed with pip --no-deps by the test extra; never imported, only
located), and realistic inputs for them."""
import importlib.util
import os

import numpy as np


def package_file(package: str, *parts) -> str:
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin, f"{package} is not installed (pip install -e '.[test]')"
    return os.path.join(os.path.dirname(spec.origin), *parts)


def ppocr(name: str) -> str:
    return package_file("rapidocr_onnxruntime", "models", name)


def silero(name: str) -> str:
    return package_file("silero_vad", "data", name)


def text_image(batch: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """A normalised (N, 3, H, W) image of dark strokes on a light page, as PP-OCR expects:
    glyph-like bars in lines, so the detector and recogniser see text-like structure."""
    rng = np.random.default_rng(seed)
    img = np.full((batch, 3, height, width), 0.92, np.float32)
    for b in range(batch):
        for row in range(max(1, height // 24)):
            top = 4 + row * 24
            x = int(rng.integers(2, 12))
            while x < width - 8:
                w, h = int(rng.integers(2, 6)), int(rng.integers(8, 16))
                img[b, :, top:top + h, x:x + w] = 0.1
                x += w + int(rng.integers(2, 8))
    img += rng.normal(0, 0.02, img.shape).astype(np.float32)
    return ((img - 0.5) / 0.5).astype(np.float32)


def speech_chunk(samples: int, seed: int = 0) -> np.ndarray:
    """(1, samples) of a voiced-like signal: harmonics of a wobbling pitch plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 16000.0
    f0 = 140 + 20 * np.sin(2 * np.pi * 3 * t)
    sig = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / 16000.0) / k for k in range(1, 6))
    sig = 0.3 * sig + 0.01 * rng.normal(size=samples)
    return sig.astype(np.float32)[None, :]
