"""A reader and writer of the safetensors format, with no dependency and no pickle.

Layout (https://github.com/huggingface/safetensors): an 8-byte little-endian unsigned
header length N, N bytes of UTF-8 JSON, then the data section. The JSON maps each tensor
name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data
section) and may hold "__metadata__", a str->str map. Data is raw little-endian, C order.

The reader trusts nothing in the file: it bounds the header size, rejects duplicate keys,
unknown dtypes, shapes NumPy cannot hold (too many dimensions, or dimensions whose product
overflows even when another dimension is 0), shapes whose byte count disagrees with the
offsets, offsets outside the data, overlaps, holes and trailing bytes (the spec requires the
tensors to tile the data section exactly, which also catches truncation). All of it is
checked before any tensor is allocated. Every failure is a CheckpointError naming the file
and the tensor or field.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct

import numpy as np

from ..errors import TheonError

__all__ = ["CheckpointError", "save_file", "load_file", "save", "load", "read_metadata"]

# Same cap as the reference implementation: a larger header is an attack, not a model.
MAX_HEADER_SIZE = 100_000_000
# The most dimensions a NumPy array may have (64 since NumPy 2, 32 before).
MAX_NDIM = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32
# The largest array in bytes, counting only nonzero dimensions (as NumPy does).
_MAX_BYTES = np.iinfo(np.intp).max
METADATA_KEY = "__metadata__"

# safetensors dtype code -> little-endian NumPy dtype (all of them round-trip).
_CODE_TO_DTYPE = {
    "BOOL": np.dtype("bool"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F64": np.dtype("<f8"),
}
_KIND_SIZE_TO_CODE = {(d.kind, d.itemsize): c for c, d in _CODE_TO_DTYPE.items()}
# Read-only codes: NumPy has no bfloat16, so BF16 is widened to float32 on load.
_READ_ONLY_ITEMSIZE = {"BF16": 2}


class CheckpointError(TheonError, ValueError):
    """A safetensors file or checkpoint that is corrupt, truncated, missing or mismatched,
    or tensors/metadata that cannot be written."""


def _err(where: str, message: str) -> CheckpointError:
    return CheckpointError(f"{where}: {message}")


def dtype_code(dtype) -> str:
    """The safetensors code of a NumPy dtype ("F32" for float32); CheckpointError if none."""
    dtype = np.dtype(dtype)
    code = _KIND_SIZE_TO_CODE.get((dtype.kind, dtype.itemsize))
    if code is None:
        supported = ", ".join(str(d) for d in _CODE_TO_DTYPE.values())
        raise CheckpointError(f"dtype {dtype} has no safetensors code; supported: {supported}")
    return code


# ---------------------------------------------------------------- writing


def _prepare(tensors, metadata):
    """Check the inputs; return (header bytes, [(name, little-endian C-contiguous array)])."""
    if not isinstance(tensors, dict):
        kind = type(tensors).__name__
        raise CheckpointError(f"tensors must be a dict of name -> array, got {kind}")
    arrays = {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise CheckpointError(f"tensor names must be str, got {name!r}")
        if name == METADATA_KEY:
            raise CheckpointError(f"{METADATA_KEY!r} is reserved and cannot name a tensor")
        arr = np.asarray(value)
        try:
            code = dtype_code(arr.dtype)
        except CheckpointError as e:
            raise CheckpointError(f"cannot save tensor {name!r}: {e}") from None
        # order="C" (not ascontiguousarray, which turns 0-d into 1-d).
        arrays[name] = (code, np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C"))
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise CheckpointError("metadata must be a dict of str -> str")
    # Largest items first, then by name (as the reference does): with the header padded
    # to 8 bytes every tensor starts aligned to its item size.
    order = sorted(arrays, key=lambda n: (-arrays[n][1].dtype.itemsize, n))
    header = {METADATA_KEY: dict(metadata)} if metadata else {}
    offset = 0
    for name in order:
        code, arr = arrays[name]
        end = offset + arr.nbytes
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, end]}
        offset = end
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return text, [(name, arrays[name][1]) for name in order]


def _write(write, prepared) -> None:
    """Write the output of _prepare through `write` (a file's write method or similar)."""
    header, arrays = prepared
    write(struct.pack("<Q", len(header)))
    write(header)
    for _, arr in arrays:
        if arr.nbytes:
            write(arr.reshape(-1).view(np.uint8).data)


def save(tensors: dict, metadata: dict | None = None) -> bytes:
    """The safetensors encoding of `tensors` (name -> array) as bytes."""
    buf = io.BytesIO()
    _write(buf.write, _prepare(tensors, metadata))
    return buf.getvalue()


def save_file(tensors: dict, path, metadata: dict | None = None) -> None:
    """Write `tensors` (name -> array) to `path` in safetensors format.

    Not atomic on its own: theon.io.save_checkpoint adds temporary files and renames."""
    prepared = _prepare(tensors, metadata)  # fail before creating or truncating the file
    with open(path, "wb") as f:
        _write(f.write, prepared)


# ---------------------------------------------------------------- reading


def _brief(value, limit: int = 80) -> str:
    """repr(value), cut short: a hostile header's values can be megabytes long."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _no_duplicates(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise CheckpointError(f"duplicate key {_brief(key)} in the header")
        out[key] = value
    return out


def _is_count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _read_header(f, size: int, where: str):
    """Parse and validate the header.

    Returns (data start, metadata, [(name, code, shape, begin, end), ...])."""
    if size < 8:
        raise _err(where, f"file is {size} bytes, too short for the 8-byte header length")
    (n,) = struct.unpack("<Q", f.read(8))
    if n > MAX_HEADER_SIZE:
        limit = MAX_HEADER_SIZE
        raise _err(where, f"header length {n} exceeds the {limit}-byte limit (not safetensors?)")
    if 8 + n > size:
        raise _err(where, f"header length {n} runs past the end of the {size}-byte file (truncated?)")
    raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except CheckpointError as e:
        raise _err(where, str(e)) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _err(where, f"header is not valid UTF-8 JSON ({e})") from None
    if not isinstance(header, dict):
        raise _err(where, f"header must be a JSON object, got {type(header).__name__}")
    metadata = header.pop(METADATA_KEY, None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _err(where, f"{METADATA_KEY} must map str to str")
    entries = [_check_entry(name, info, where) for name, info in header.items()]
    _check_tiling(entries, size - 8 - n, where)
    return 8 + n, metadata, entries


def _check_entry(name, info, where):
    tensor = f"tensor {_brief(name)}"
    if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
        raise _err(where, f"{tensor} needs 'dtype', 'shape' and 'data_offsets', got {_brief(info)}")
    code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if isinstance(code, str) and code in _CODE_TO_DTYPE:
        itemsize = _CODE_TO_DTYPE[code].itemsize
    elif isinstance(code, str) and code in _READ_ONLY_ITEMSIZE:
        itemsize = _READ_ONLY_ITEMSIZE[code]
    else:
        known = ", ".join([*_CODE_TO_DTYPE, *_READ_ONLY_ITEMSIZE])
        raise _err(where, f"{tensor} has unsupported dtype {_brief(code)}; theon reads {known}")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise _err(where, f"{tensor} has invalid shape {_brief(shape)} (need a list of ints >= 0)")
    if len(shape) > MAX_NDIM:
        raise _err(where, f"{tensor} has {len(shape)} dimensions in its shape; at most {MAX_NDIM} "
                          "are supported")
    if math.prod(d for d in shape if d) * itemsize > _MAX_BYTES:  # NumPy's own limit, zeros aside
        raise _err(where, f"{tensor} has shape {_brief(shape)}, whose dimensions are too large "
                          f"for any array (over {_MAX_BYTES} bytes without its zero dimensions)")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)):
        raise _err(where, f"{tensor} has invalid data_offsets {_brief(offsets)} (need [begin, end])")
    begin, end = offsets
    if end < begin:
        raise _err(where, f"{tensor} has data_offsets {_brief(offsets)} that end before they begin")
    expected = math.prod(shape) * itemsize
    if end - begin != expected:
        raise CheckpointError(
            f"{where}: {tensor} ({code}, shape {tuple(shape)}) needs {expected} bytes "
            f"but data_offsets {_brief(offsets)} hold {_brief(end - begin)}"
        )
    return name, code, tuple(shape), begin, end


def _check_tiling(entries, data_size: int, where: str) -> None:
    """The tensors must cover the data section exactly: no overlap, no hole, no tail."""
    pos, prev = 0, None
    for name, _, _, begin, end in sorted(entries, key=lambda e: (e[3], e[4])):
        if end > data_size:
            raise CheckpointError(
                f"{where}: tensor {_brief(name)} data_offsets {_brief([begin, end])} run past the "
                f"{data_size}-byte data section (truncated file?)"
            )
        if begin < pos:
            raise _err(where, f"tensor {_brief(name)} at [{begin}, {end}] overlaps {_brief(prev)} ending at {pos}")
        if begin > pos:
            raise _err(where, f"hole in the data section at bytes [{pos}, {begin}) before {_brief(name)}")
        pos, prev = end, name
    if pos != data_size:
        raise _err(
            where, f"data section is {data_size} bytes but the tensors cover only {pos} (trailing bytes)"
        )


def _read_tensor(f, start, entry, where):
    name, code, shape, begin, end = entry
    raw_dtype = np.dtype("<u2") if code == "BF16" else _CODE_TO_DTYPE[code]
    # Read straight into an owned, aligned, writable array: no second copy of the data.
    arr = np.empty(math.prod(shape), dtype=raw_dtype)
    f.seek(start + begin)
    buf = arr.view(np.uint8)
    if len(buf) and f.readinto(buf) != end - begin:
        raise _err(where, f"tensor {_brief(name)} is truncated (file changed while reading?)")
    if code == "BOOL" and buf.size and buf.max() > 1:
        raise _err(where, f"tensor {_brief(name)} is BOOL but holds bytes other than 0 and 1")
    if code == "BF16":
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    elif not arr.dtype.isnative:  # big-endian hosts only
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr.reshape(shape)


def _load(f, size: int, where: str) -> dict:
    start, _, entries = _read_header(f, size, where)
    return {e[0]: _read_tensor(f, start, e, where) for e in entries}


def load(data: bytes) -> dict:
    """Decode safetensors bytes into name -> np.ndarray (BF16 becomes float32)."""
    data = bytes(data)
    return _load(io.BytesIO(data), len(data), "safetensors data")


def load_file(path) -> dict:
    """Read a safetensors file into name -> np.ndarray (BF16 becomes float32).

    Raises CheckpointError naming the file for anything malformed, FileNotFoundError-like
    problems included."""
    where = os.fspath(path)
    try:
        with open(path, "rb") as f:
            return _load(f, os.fstat(f.fileno()).st_size, where)
    except OSError as e:
        raise CheckpointError(f"{where}: cannot read ({e.strerror or e})") from e


def read_metadata(path) -> dict:
    """The "__metadata__" str -> str map of a safetensors file ({} if it has none).

    Validates the whole header (not the data) the same way load_file does."""
    where = os.fspath(path)
    try:
        with open(path, "rb") as f:
            _, metadata, _ = _read_header(f, os.fstat(f.fileno()).st_size, where)
    except OSError as e:
        raise CheckpointError(f"{where}: cannot read ({e.strerror or e})") from e
    return metadata
