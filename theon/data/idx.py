"""The IDX format of MNIST and Fashion-MNIST, raw or gzipped.

An IDX file is: two zero bytes, a dtype code, the number of dimensions, then one big-endian
uint32 per dimension, then the elements in C order, big-endian.

The header is checked against the file before the data is read: dimensions NumPy cannot
hold, and a declared size that disagrees with a raw file's size or that no gzip file of that
size could decompress to, are refused without allocating it.
"""
import contextlib
import gzip
import io
import math
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
# The most dimensions a NumPy array may have (64 since NumPy 2, 32 before).
MAX_NDIM = 64 if np.lib.NumpyVersion(np.__version__) >= "2.0.0" else 32
# The largest array in bytes, counting only nonzero dimensions (as NumPy does).
_MAX_BYTES = np.iinfo(np.intp).max
# Deflate expands at most about 1032:1, so a gzip file of n bytes holds at most 1032 n bytes.
_MAX_GZIP_RATIO = 1032
_CHUNK = 1 << 20


def is_gzip(path) -> bool:
    """True when the file starts with the gzip magic bytes (the name does not matter)."""
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def open_maybe_gzip(path):
    """A binary file object giving the file's decompressed bytes, gzipped or not."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


@contextlib.contextmanager
def _gzip_errors(where):
    """Turn the gzip module's errors about a damaged stream into DataFormatError."""
    try:
        yield
    except EOFError as e:  # gzip stream cut short
        raise DataFormatError(f"{where}: the gzip stream is truncated ({e})") from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise DataFormatError(f"{where}: the gzip stream is corrupt ({e})") from None


def read_bytes(path) -> bytes:
    """The whole decompressed content of a raw or gzipped file."""
    with _gzip_errors(path), open_maybe_gzip(path) as f:
        return f.read()


def _read_header(read, where):
    """Read and check the header through `read(n)`.

    Returns (big-endian dtype, dims, header bytes, data bytes the dims need)."""
    prefix = read(4)
    if len(prefix) < 4:
        raise DataFormatError(f"{where}: {len(prefix)} bytes is too short for an IDX header "
                              "(4 bytes at least)")
    zero, code, ndim = struct.unpack(">HBB", prefix)
    if zero != 0:
        raise DataFormatError(f"{where}: not an IDX file (magic number 0x{prefix.hex()} "
                              "does not start with two zero bytes)")
    if code not in _CODES:
        known = ", ".join(f"0x{c:02X}" for c in _CODES)
        raise DataFormatError(f"{where}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    head = 4 + 4 * ndim
    raw_dims = read(4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataFormatError(f"{where}: truncated header: {ndim} dimensions need {head} bytes, "
                              f"the file has {4 + len(raw_dims)}")
    if ndim > MAX_NDIM:
        raise DataFormatError(f"{where}: the header declares {ndim} dimensions; at most "
                              f"{MAX_NDIM} are supported")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    dtype = _CODES[code]
    if math.prod(d for d in dims if d) * dtype.itemsize > _MAX_BYTES:  # Python ints: no overflow
        raise DataFormatError(f"{where}: the header's shape {dims} is too large for any array "
                              f"(over {_MAX_BYTES} bytes without its zero dimensions)")
    return dtype, dims, head, math.prod(dims) * dtype.itemsize


def _check_data_size(where, dtype, dims, want, have):
    native = dtype.newbyteorder("=")
    if have < want:
        raise DataFormatError(f"{where}: truncated: shape {dims} of {native} needs {want} data "
                              f"bytes, the file has {have}")
    if have > want:
        raise DataFormatError(f"{where}: corrupt: {have - want} bytes after the {want} data "
                              f"bytes that shape {dims} of {native} needs")


def _array(data, dtype, dims, offset=0) -> np.ndarray:
    count = math.prod(dims)
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return arr.reshape(dims).astype(dtype.newbyteorder("="))


def parse_idx(data: bytes, where="<bytes>") -> np.ndarray:
    """Decode IDX bytes into a native-endian array (a copy, writable)."""
    dtype, dims, head, want = _read_header(io.BytesIO(data).read, where)
    _check_data_size(where, dtype, dims, want, len(data) - head)
    return _array(data, dtype, dims, offset=head)


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzipped or raw (detected from its first bytes), of any dtype code.

    Raises DataFormatError naming the file for a truncated or corrupt file, FileNotFoundError
    when it does not exist. The header is checked against the file's size before the data
    is read, so a damaged header cannot make it allocate more than the file could hold.
    """
    where = str(path)
    size = os.path.getsize(path)
    gz = is_gzip(path)
    with _gzip_errors(where), open_maybe_gzip(path) as f:
        dtype, dims, head, want = _read_header(f.read, where)
        if not gz:
            _check_data_size(where, dtype, dims, want, size - head)
        elif head + want > _MAX_GZIP_RATIO * size:
            raise DataFormatError(
                f"{where}: corrupt header: shape {dims} of {dtype.newbyteorder('=')} needs "
                f"{want} data bytes, more than a {size}-byte gzip file can hold")
        data = f.read(want)
        extra = sum(len(chunk) for chunk in iter(lambda: f.read(_CHUNK), b""))
    _check_data_size(where, dtype, dims, want, len(data) + extra)
    return _array(data, dtype, dims)


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
