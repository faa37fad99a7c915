"""A corrupted or hostile HDF5 file can crash the HDF5 C library (a segmentation fault
h5py cannot turn into an exception). So before theon reads one, a child process reads all
of it first: every group, attribute and dataset, as theon will. If that child is killed,
the load fails with a KerasFormatError and theon's own process never touches the file.
The child runs Python in isolated mode and imports only h5py."""
from __future__ import annotations

import subprocess
import sys

from .errors import KerasFormatError

__all__ = ["probe_hdf5"]

# seconds the child may take: reading every weight once
PROBE_TIMEOUT = 600

_CHILD = r"""
import io, sys, zipfile
import h5py
path, member = sys.argv[1], sys.argv[2]
source = io.BytesIO(zipfile.ZipFile(path).read(member)) if member else path
def visit(name, obj):
    for key in obj.attrs:
        obj.attrs[key]
    if isinstance(obj, h5py.Dataset):
        obj[()]
with h5py.File(source, "r") as f:
    for key in f.attrs:
        f.attrs[key]
    f.visititems(visit)
"""


def probe_hdf5(path: str, member: str | None = None) -> None:
    """Raise KerasFormatError when reading the HDF5 file `path` (or the zip member
    `member` of it) crashes or hangs a child process; return quietly otherwise (an
    ordinary error in the child is left for theon's own reader to report)."""
    try:
        done = subprocess.run([sys.executable, "-I", "-c", _CHILD, str(path), member or ""],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise KerasFormatError(f"{path}: reading its HDF5 data took over {PROBE_TIMEOUT} s (a hostile or "
                               f"corrupted file?)") from None
    if done.returncode < 0:
        raise KerasFormatError(f"{path}: the HDF5 library crashed reading it (signal {-done.returncode}): a "
                               f"corrupted or hostile file; theon did not read it")
