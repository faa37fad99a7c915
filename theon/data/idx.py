"""The IDX format of MNIST and Fashion-MNIST, raw or gzipped.

An IDX file is: two zero bytes, a dtype code, the number of dimensions, then one big-endian
uint32 per dimension, then the elements in C order, big-endian.
"""
import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DTypeError
from .errors import DataFormatError

# dtype code -> big-endian NumPy dtype (the codes of the IDX specification)
_CODES = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_CODE_OF = {dt.newbyteorder("="): code for code, dt in _CODES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path) -> bool:
    """True when the file starts with the gzip magic bytes (the name does not matter)."""
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def open_maybe_gzip(path):
    """A binary file object giving the file's decompressed bytes, gzipped or not."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def read_bytes(path) -> bytes:
    """The whole decompressed content of a raw or gzipped file."""
    try:
        with open_maybe_gzip(path) as f:
            return f.read()
    except EOFError as e:  # gzip stream cut short
        raise DataFormatError(f"{path}: the gzip stream is truncated ({e})") from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise DataFormatError(f"{path}: the gzip stream is corrupt ({e})") from None


def parse_idx(data: bytes, where="<bytes>") -> np.ndarray:
    """Decode IDX bytes into a native-endian array (a copy, writable)."""
    if len(data) < 4:
        raise DataFormatError(f"{where}: {len(data)} bytes is too short for an IDX header "
                              "(4 bytes at least)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0:
        raise DataFormatError(f"{where}: not an IDX file (magic number 0x{data[:4].hex()} "
                              "does not start with two zero bytes)")
    if code not in _CODES:
        known = ", ".join(f"0x{c:02X}" for c in _CODES)
        raise DataFormatError(f"{where}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    head = 4 + 4 * ndim
    if len(data) < head:
        raise DataFormatError(f"{where}: truncated header: {ndim} dimensions need {head} bytes, "
                              f"the file has {len(data)}")
    dims = struct.unpack(f">{ndim}I", data[4:head])
    dtype = _CODES[code]
    want = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    have = len(data) - head
    if have < want:
        raise DataFormatError(f"{where}: truncated: shape {dims} of {dtype.newbyteorder('=')} "
                              f"needs {want} data bytes, the file has {have}")
    if have > want:
        raise DataFormatError(f"{where}: corrupt: {have - want} bytes after the {want} data "
                              f"bytes that shape {dims} of {dtype.newbyteorder('=')} needs")
    arr = np.frombuffer(data, dtype=dtype, count=want // dtype.itemsize, offset=head)
    return arr.reshape(dims).astype(dtype.newbyteorder("="))


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzipped or raw (detected from its first bytes), of any dtype code.

    Raises DataFormatError naming the file for a truncated or corrupt file, FileNotFoundError
    when it does not exist.
    """
    return parse_idx(read_bytes(path), where=str(path))


def write_idx(path, array, compress=None) -> Path:
    """Write `array` as an IDX file; gzipped when `compress` is true, or when it is None and
    the name ends in ".gz". Written to a temporary file and renamed, so never half-written."""
    path = Path(path)
    arr = np.asarray(array)
    native = arr.dtype.newbyteorder("=")
    if native not in _CODE_OF:
        names = ", ".join(str(dt) for dt in _CODE_OF)
        raise DTypeError(f"write_idx: IDX cannot hold {arr.dtype} (it holds {names})")
    if arr.ndim > 255 or any(d >= 2**32 for d in arr.shape):
        raise DataFormatError(f"write_idx: shape {arr.shape} does not fit an IDX header")
    header = struct.pack(f">HBB{arr.ndim}I", 0, _CODE_OF[native], arr.ndim, *arr.shape)
    body = np.ascontiguousarray(arr, dtype=native.newbyteorder(">")).tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        if compress:
            with gzip.GzipFile(fileobj=f, mode="wb", mtime=0) as g:  # mtime=0: reproducible
                g.write(header + body)
        else:
            f.write(header + body)
    os.replace(tmp, path)
    return path
