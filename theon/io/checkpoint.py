"""Checkpoints: tensors in a safetensors file plus a checksummed JSON that names it.

A checkpoint directory holds

    checkpoint.json                       the commit record (see below)
    weights-<16 hex digits>.safetensors   the tensors; the digits start its SHA-256

checkpoint.json = {"format": "theon-checkpoint", "version": 1,
                   "weights": {"file", "sha256", "bytes"}, "meta": {...},
                   "sha256": SHA-256 of the canonical JSON of the other four keys}

Why the weights file is not simply "weights.safetensors": the JSON and the weights must
change together, and two files cannot be renamed at once. So a save writes the new
weights under a new name (temporary file, fsync, rename), then replaces checkpoint.json
(temporary file, fsync, rename: the single commit point), and only then deletes the old
weights. A crash at any moment leaves either the old JSON with the old weights or the new
JSON with the new weights, plus at most some stray files that the next save removes.
One writer per directory at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from pathlib import Path

import numpy as np

from .safetensors import CheckpointError, _write, _prepare, load_file

__all__ = ["save_checkpoint", "load_checkpoint", "weights_path", "CHECKPOINT_JSON"]

CHECKPOINT_JSON = "checkpoint.json"
FORMAT = "theon-checkpoint"
VERSION = 1
_WEIGHTS_RE = re.compile(r"weights-[0-9a-f]{16}\.safetensors")
_TMP_PREFIX = ".tmp-"
_CHUNK = 1 << 20


# ---------------------------------------------------------------- helpers


def _json_value(value, where: str):
    """`value` as plain JSON data (tuples -> lists, NumPy scalars -> Python); raise for
    anything that would not load back equal (non-str keys, arrays, objects)."""
    if isinstance(value, np.generic) and not isinstance(value, (np.void, np.datetime64, np.timedelta64)):
        value = value.item()
    if isinstance(value, str):
        _utf8(value, where)
        return value
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise CheckpointError(f"checkpoint meta: {where} has key {k!r}; JSON keys must be str")
            _utf8(k, where)
            out[k] = _json_value(v, f"{where}[{k!r}]")
        return out
    hint = " (arrays belong in the tensors, not the meta)" if isinstance(value, np.ndarray) else ""
    raise CheckpointError(f"checkpoint meta: {where} is a {type(value).__name__}, which JSON cannot hold{hint}")


def _utf8(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CheckpointError(f"checkpoint meta: {where} holds a string that is not valid Unicode") from None


def _canonical(payload: dict) -> bytes:
    # NaN/Infinity are allowed (a diverged loss in the history must not stop a save);
    # Python's json reads them back and re-serialises them identically.
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _fsync_dir(directory: Path) -> None:
    """Make renames in `directory` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _HashingFile:
    def __init__(self, f):
        self.f, self.sha, self.size = f, hashlib.sha256(), 0

    def write(self, data) -> None:
        self.sha.update(data)
        self.size += self.f.write(data)


def _write_temp(directory: Path, fill) -> tuple[Path, "_HashingFile"]:
    """Create a temporary file in `directory`, fill it, fsync it; remove it on any failure."""
    # Not tempfile.mkstemp: its files are mode 0600, and checkpoints should honour the umask.
    tmp = directory / f"{_TMP_PREFIX}{secrets.token_hex(8)}"
    f = open(tmp, "xb")
    try:
        with f:
            hf = _HashingFile(f)
            fill(hf.write)
            f.flush()
            os.fsync(f.fileno())
        return tmp, hf
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _committed_weights(directory: Path) -> str | None:
    """The weights file name the current checkpoint.json names, if it can be read at all."""
    try:
        name = json.loads((directory / CHECKPOINT_JSON).read_text("utf-8"))["weights"]["file"]
        return name if isinstance(name, str) else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remove_stale(directory: Path, keep: str | None) -> None:
    """Delete temporary files and weights files that no checkpoint.json names."""
    for p in directory.iterdir():
        if p.name.startswith(_TMP_PREFIX) or (_WEIGHTS_RE.fullmatch(p.name) and p.name != keep):
            try:
                p.unlink()
            except OSError:
                pass


# ---------------------------------------------------------------- save


def save_checkpoint(directory, tensors: dict, meta: dict | None = None) -> Path:
    """Atomically write `tensors` (name -> np.ndarray) and JSON-able `meta` to `directory`
    (created if needed), replacing any checkpoint there. Returns the directory as a Path.

    `meta` may hold dicts with str keys, lists/tuples, str, int, float, bool, None and
    NumPy scalars; tuples load back as lists. Raises CheckpointError for anything else."""
    directory = Path(directory)
    if meta is not None and not isinstance(meta, dict):
        raise CheckpointError(f"checkpoint meta must be a dict, got {type(meta).__name__}")
    meta = _json_value({} if meta is None else meta, "meta")
    prepared = _prepare(tensors, None)  # reject bad tensors before touching the directory
    directory.mkdir(parents=True, exist_ok=True)
    old = _committed_weights(directory)

    tmp, hf = _write_temp(directory, lambda write: _write(write, prepared))
    digest = hf.sha.hexdigest()
    weights_name = f"weights-{digest[:16]}.safetensors"
    try:
        os.replace(tmp, directory / weights_name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(directory)

    try:
        payload = {
            "format": FORMAT,
            "version": VERSION,
            "weights": {"file": weights_name, "sha256": digest, "bytes": hf.size},
            "meta": meta,
        }
        record = dict(payload, sha256=hashlib.sha256(_canonical(payload)).hexdigest())
        text = (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        tmp_json, _ = _write_temp(directory, lambda write: write(text))
        try:
            os.replace(tmp_json, directory / CHECKPOINT_JSON)  # the commit point
        except BaseException:
            tmp_json.unlink(missing_ok=True)
            raise
    except BaseException:
        if weights_name != old:  # not committed: the new weights are an orphan
            (directory / weights_name).unlink(missing_ok=True)
        raise
    _fsync_dir(directory)
    _remove_stale(directory, keep=weights_name)
    return directory


# ---------------------------------------------------------------- load


def _read_record(directory: Path) -> dict:
    """Parse and verify checkpoint.json; return the record."""
    if not directory.is_dir():
        what = "does not exist" if not directory.exists() else "is not a directory"
        raise CheckpointError(f"no checkpoint at {directory}: the path {what}")
    path = directory / CHECKPOINT_JSON
    if not path.is_file():
        strays = sorted(p.name for p in directory.iterdir() if _WEIGHTS_RE.fullmatch(p.name))
        hint = f" (found {', '.join(strays)} without it: an interrupted first save?)" if strays else ""
        raise CheckpointError(f"no checkpoint in {directory}: {CHECKPOINT_JSON} is missing{hint}")
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{path} is corrupt: not valid UTF-8 JSON ({e})") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror or e})") from e
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a theon checkpoint record (no \"format\": \"{FORMAT}\")")
    if not isinstance(record.get("version"), int) or record["version"] > VERSION:
        raise CheckpointError(
            f"{path} has format version {record.get('version')!r}; this theon reads version {VERSION} "
            "(written by a newer theon?)"
        )
    recorded = record.pop("sha256", None)
    actual = hashlib.sha256(_canonical(record)).hexdigest()
    if recorded != actual:
        raise CheckpointError(
            f"{path} is corrupt: its contents hash to {actual[:16]}... but it records sha256 {str(recorded)[:16]}..."
        )
    weights = record.get("weights")
    if not (
        isinstance(weights, dict)
        and isinstance(weights.get("file"), str)
        and _WEIGHTS_RE.fullmatch(weights["file"])  # never a path outside the directory
        and isinstance(weights.get("sha256"), str)
        and isinstance(weights.get("bytes"), int)
        and isinstance(record.get("meta"), dict)
    ):
        raise CheckpointError(f"{path} is malformed: bad 'weights' or 'meta' entry")
    return record


def weights_path(directory) -> Path:
    """The safetensors file the checkpoint in `directory` names (after verifying the JSON),
    for tools that want to open the weights directly."""
    directory = Path(directory)
    return directory / _read_record(directory)["weights"]["file"]


def load_checkpoint(directory) -> tuple[dict, dict]:
    """Load (tensors, meta) saved by save_checkpoint, verifying both checksums.

    Raises CheckpointError naming the file and the fault for a missing, truncated,
    corrupt or mismatched checkpoint."""
    directory = Path(directory)
    record = _read_record(directory)
    w = record["weights"]
    path = directory / w["file"]
    json_path = directory / CHECKPOINT_JSON
    try:
        size = path.stat().st_size
        sha = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                sha.update(chunk)
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing, but {json_path} names it") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read ({e.strerror or e})") from e
    if size != w["bytes"]:
        raise CheckpointError(f"{path} is {size} bytes but {json_path} records {w['bytes']} (truncated or replaced)")
    if sha.hexdigest() != w["sha256"]:
        raise CheckpointError(
            f"{path} is corrupt or does not belong to {json_path}: SHA-256 {sha.hexdigest()[:16]}... "
            f"!= recorded {w['sha256'][:16]}..."
        )
    return load_file(path), record["meta"]
