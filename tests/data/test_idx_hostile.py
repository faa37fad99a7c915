"""IDX files with damaged or hostile headers: a clear DataFormatError naming the file, before
any allocation the header asks for; and a fuzz of truncations and flipped bytes of valid files,
raw and gzipped, from which only theon's DataFormatError may come out."""
import gzip
import struct
import tracemalloc

import numpy as np
import pytest

from theon.data import DataFormatError, read_idx, write_idx
from theon.data.idx import MAX_NDIM, parse_idx


def idx_header(code, dims):
    return struct.pack(f">HBB{len(dims)}I", 0, code, len(dims), *dims)


def write(path, blob, gz):
    path.write_bytes(gzip.compress(blob, mtime=0) if gz else blob)
    return path


HOSTILE = [
    # three 32-bit dims: about 2**96 bytes, which int64 arithmetic would wrap around
    (idx_header(0x08, (2**32 - 1,) * 3) + bytes(8),
     r"shape \(4294967295, 4294967295, 4294967295\) is too large for any array"),
    (idx_header(0x08, (2**16,) * 3) + bytes(8),
     r"shape \(65536, 65536, 65536\) of uint8 needs 281474976710656 data bytes"),
    # a zero dimension makes it empty, but no array can have the other dimensions
    (idx_header(0x0E, (0, 2**32 - 1, 2**32 - 1, 2**32 - 1)), "too large for any array"),
    (idx_header(0x08, (1,) * 70) + bytes(1), f"declares 70 dimensions; at most {MAX_NDIM}"),
    (idx_header(0x08, (3, 4)) + bytes(11), r"shape \(3, 4\) of uint8 needs 12 data bytes, the file has 11"),
    (idx_header(0x0C, (3,)) + bytes(13), "corrupt: 1 bytes after the 12 data bytes"),
]


@pytest.mark.parametrize("blob, message", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("gz", [False, True])
def test_hostile_headers_name_the_file_and_the_problem(tmp_path, blob, message, gz):
    path = write(tmp_path / "bad-idx", blob, gz)
    with pytest.raises(DataFormatError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    with pytest.raises(DataFormatError, match=message):
        parse_idx(blob)


@pytest.mark.parametrize("gz", [False, True])
def test_a_huge_declared_size_is_refused_without_allocating_it(tmp_path, gz):
    # 2**40 bytes declared; the raw file has 100, the gzip file could hold about 100 KB
    path = write(tmp_path / "big", idx_header(0x08, (2**20, 2**20)) + bytes(100), gz)
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError, match="1099511627776 data bytes") as info:
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    if gz:
        assert f"more than a {path.stat().st_size}-byte gzip file can hold" in str(info.value)


def valid_files(tmp_path):
    """Small valid IDX files of several dtypes and ranks, raw and gzipped."""
    rng = np.random.default_rng(7)
    arrays = [rng.integers(0, 256, (4, 5, 3), dtype=np.uint8), np.arange(-6, 6, dtype=np.int16),
              (rng.standard_normal((3, 4)) * 10).astype(np.float32), np.array([1.5, -2.0]),
              np.zeros((2, 0, 3), np.int32)]
    paths = []
    for i, arr in enumerate(arrays):
        for gz in (False, True):
            paths.append(write_idx(tmp_path / f"v{i}.idx{'.gz' if gz else ''}", arr))
    return paths


def test_every_truncation_is_a_data_format_error(tmp_path):
    for path in valid_files(tmp_path):
        blob = path.read_bytes()
        cut = tmp_path / "cut"
        for n in range(len(blob)):
            cut.write_bytes(blob[:n])
            with pytest.raises(DataFormatError, match="cut"):
                read_idx(cut)


def test_fuzzed_files_give_an_array_or_a_data_format_error(tmp_path):
    """Flipped bits, replaced, inserted and deleted bytes, alone or with a truncation."""
    rng = np.random.default_rng(2024)
    target = tmp_path / "fuzzed"
    outcomes = {"read": 0, "refused": 0}
    for path in valid_files(tmp_path):
        blob = path.read_bytes()
        for _ in range(150):
            bad = bytearray(blob)
            for _ in range(int(rng.integers(1, 4))):
                i = int(rng.integers(0, len(bad)))
                kind = rng.integers(0, 4)
                if kind == 0:
                    bad[i] ^= 1 << int(rng.integers(0, 8))
                elif kind == 1:
                    bad[i] = int(rng.integers(0, 256))
                elif kind == 2:
                    bad[i:i] = rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8).tobytes()
                else:
                    del bad[i:i + int(rng.integers(1, 9))]
            if rng.random() < 0.3:
                bad = bad[:int(rng.integers(0, len(bad) + 1))]
            target.write_bytes(bytes(bad))
            try:
                arr = read_idx(target)
            except DataFormatError as e:
                assert str(target) in str(e)
                outcomes["refused"] += 1
            else:
                assert isinstance(arr, np.ndarray) and arr.dtype.isnative
                outcomes["read"] += 1
    assert outcomes["refused"] > 500 and outcomes["read"] > 0, outcomes
