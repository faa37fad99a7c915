"""Training curves as a PNG: with matplotlib when it is installed (`pip install
theon[plot]`), otherwise with a small built-in rasteriser (lines, dots, a 3x5 pixel font)
and a PNG writer on zlib, so `theon train` always leaves a picture of its run.

    save_history_plot(history.history, "runs/lenet/curves.png")

Panels: the loss, and the first metric (accuracy when logged), each with the training
curve (blue) and, where logged, the validation curve (orange), per epoch.
"""
from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

__all__ = ["save_history_plot", "write_png", "panels_of"]

BLUE, ORANGE = (31, 119, 180), (255, 127, 14)
GREY, LIGHT, BLACK, WHITE = (120, 120, 120), (225, 225, 225), (30, 30, 30), (255, 255, 255)


def panels_of(history: dict) -> list:
    """[(title, train values, validation values or None)]: the loss and the first metric."""
    metrics = [k for k in history if k not in ("loss", "lr") and not k.startswith("val_")]
    metrics.sort(key=lambda k: k != "accuracy")
    out = []
    for key in (["loss"] if "loss" in history else []) + metrics[:1]:
        out.append((key, [float(v) for v in history[key]],
                    [float(v) for v in history[f"val_{key}"]] if f"val_{key}" in history else None))
    return out


def save_history_plot(history: dict, path, title: str | None = None) -> Path:
    """Write the curves of `history` (History.history: name -> per-epoch values) to `path`.
    `title` heads the matplotlib figure (the built-in rasteriser has no room for it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    panels = panels_of(history)
    if not panels:
        raise ValueError("save_history_plot: the history holds no loss or metric values")
    try:
        import matplotlib
    except ImportError:
        _raster_plot(panels, path)
        return path
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (name, train, val) in zip(axes[0], panels):
        epochs = range(1, len(train) + 1)
        ax.plot(epochs, train, "o-", color=[c / 255 for c in BLUE], label="train")
        if val:
            ax.plot(range(1, len(val) + 1), val, "o-", color=[c / 255 for c in ORANGE], label="validation")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ---- the built-in rasteriser -----------------------------------------------------------

# 3x5 glyphs, rows top to bottom, "1" = ink
_FONT = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", ".": "000000000000010", "-": "000000111000000",
    "a": "000011101101011", "c": "000111100100111", "e": "010101111100011", "h": "100100111101101",
    "i": "010000010010010", "k": "100101110101101", "l": "110010010010111", "m": "000111111101101",
    "n": "000110101101101", "o": "000111101101111", "p": "000111101111100", "r": "000111100100100",
    "s": "000011110001110", "t": "010111010010011", "u": "000101101101111", "v": "000101101101010",
    "y": "101101111001110", "x": "000101010101101", "d": "001001111101111", "_": "000000000000111",
    "g": "011101111001110", "/": "001001010100100", "f": "011100110100100",
}


class _Canvas:
    def __init__(self, width, height):
        self.w, self.h = width, height
        self.px = bytearray(WHITE * (width * height))

    def dot(self, x, y, color):
        x, y = int(x), int(y)
        if 0 <= x < self.w and 0 <= y < self.h:
            i = 3 * (y * self.w + x)
            self.px[i:i + 3] = bytes(color)

    def rect(self, x0, y0, x1, y1, color):
        for y in range(int(y0), int(y1) + 1):
            for x in range(int(x0), int(x1) + 1):
                self.dot(x, y, color)

    def line(self, x0, y0, x1, y1, color, width=2):
        steps = max(abs(x1 - x0), abs(y1 - y0), 1)
        for i in range(int(steps) + 1):
            t = i / steps
            x, y = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
            self.rect(x - width // 2, y - width // 2, x - width // 2 + width - 1, y - width // 2 + width - 1, color)

    def text(self, x, y, s, color=BLACK, scale=2):
        for ch in s.lower():
            glyph = _FONT.get(ch)
            if glyph:
                for r in range(5):
                    for c in range(3):
                        if glyph[3 * r + c] == "1":
                            self.rect(x + c * scale, y + r * scale, x + c * scale + scale - 1,
                                      y + r * scale + scale - 1, color)
            x += 4 * scale

    def png(self) -> bytes:
        stride = 3 * self.w
        rows = b"".join(b"\x00" + bytes(self.px[y * stride:(y + 1) * stride]) for y in range(self.h))
        return write_png(self.w, self.h, rows)


def write_png(width: int, height: int, filtered_rows: bytes) -> bytes:
    """A PNG file (8-bit RGB) from its rows, each already prefixed with its filter byte."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(filtered_rows, 9))
            + chunk(b"IEND", b""))


def _label(v: float) -> str:
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def _panel(cv, left, top, width, height, name, train, val):
    cv.text(left + width // 2 - 4 * 2 * len(name) // 2, top - 22, name)
    x0, y0, x1, y1 = left + 60, top, left + width - 10, top + height - 30
    series = [v for v in train + (val or []) if math.isfinite(v)]
    lo, hi = (min(series), max(series)) if series else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad
    n = max(len(train), len(val or []))
    for k in range(5):  # grid and y labels
        y = y1 - (y1 - y0) * k / 4
        cv.line(x0, y, x1, y, LIGHT, 1)
        cv.text(left, int(y) - 5, _label(lo + (hi - lo) * k / 4), GREY)
    cv.line(x0, y0, x0, y1, GREY, 1)
    cv.line(x0, y1, x1, y1, GREY, 1)

    def xy(i, v):
        x = (x0 + x1) / 2 if n == 1 else x0 + 8 + (x1 - x0 - 16) * i / (n - 1)
        return x, y1 - (y1 - y0) * (v - lo) / (hi - lo)

    cv.text(x0, y1 + 8, "1", GREY)
    cv.text(x1 - 8 * len(str(n)), y1 + 8, str(n), GREY)
    cv.text((x0 + x1) // 2 - 20, y1 + 8, "epoch", GREY)
    for values, color in ((train, BLUE), (val, ORANGE)):
        if not values:
            continue
        pts = [xy(i, v) for i, v in enumerate(values) if math.isfinite(v)]
        for a, b in zip(pts, pts[1:]):
            cv.line(a[0], a[1], b[0], b[1], color, 2)
        for x, y in pts:
            cv.rect(x - 3, y - 3, x + 3, y + 3, color)


def _raster_plot(panels, path: Path) -> None:
    pw, ph = 420, 320
    cv = _Canvas(pw * len(panels), ph + 70)
    for i, (name, train, val) in enumerate(panels):
        _panel(cv, i * pw + 10, 40, pw - 20, ph, name, train, val)
    # legend: train (blue), val (orange)
    y = ph + 50
    cv.rect(20, y, 40, y + 8, BLUE)
    cv.text(48, y - 1, "train")
    if any(val for _, _, val in panels):
        cv.rect(110, y, 130, y + 8, ORANGE)
        cv.text(138, y - 1, "val")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(cv.png())
    tmp.replace(path)
