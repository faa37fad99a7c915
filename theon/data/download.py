"""Fetching files over HTTP(S) with SHA-256 verification.

Each file is streamed into a temporary file beside its destination, hashed, and renamed into
place only when the hash matches: an interrupted or tampered download never leaves a file
that a later search would take for the real one.
"""
import contextlib
import gzip
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
import zlib
from pathlib import Path

from .errors import ChecksumError

TIMEOUT_S = 60.0  # per socket operation: a stalled server fails instead of hanging forever
_CHUNK = 1 << 20


def sha256_file(path, decompress=False) -> str:
    """SHA-256 hex digest of a file's bytes, or of its gunzipped bytes when `decompress`."""
    h = hashlib.sha256()
    opener = gzip.open if decompress else open
    with opener(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def _temp_beside(dest: Path):
    """A temporary path in dest's folder, removed unless the body renamed it away."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    try:
        yield Path(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _fetch_to(url: str, path: Path, timeout: float):
    with urllib.request.urlopen(url, timeout=timeout) as resp, open(path, "wb") as out:
        shutil.copyfileobj(resp, out, _CHUNK)
        out.flush()
        os.fsync(out.fileno())


def _verify(path: Path, url: str, expected: str, decompress: bool):
    try:
        got = sha256_file(path, decompress)
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise ChecksumError(f"download from {url} is not a valid gzip file ({e}); "
                            "it was discarded") from None
    if got != expected:
        what = "decompressed data" if decompress else "file"
        raise ChecksumError(f"download from {url} failed verification: SHA-256 of the {what} "
                            f"is {got}, expected {expected}; it was discarded")


def download(url: str, dest, sha256: str, decompress=False, timeout=TIMEOUT_S) -> Path:
    """Download `url` to `dest`, verify it, then rename it into place.

    `sha256` is the digest of the file's bytes, or of its gunzipped bytes when `decompress`.
    Raises ChecksumError (and leaves nothing behind) on a mismatch; urllib's errors
    (URLError, HTTPError, timeouts) pass through.
    """
    dest = Path(dest)
    print(f"theon.data: downloading {url}", file=sys.stderr)
    with _temp_beside(dest) as tmp:
        _fetch_to(url, tmp, timeout)
        _verify(tmp, url, sha256, decompress)
        os.replace(tmp, dest)
    return dest


def download_members(url: str, dest_dir, sha256: str, members: dict, timeout=TIMEOUT_S):
    """Download a .tar.gz archive, verify the archive's SHA-256, and extract `members`
    (archive member name -> file name in dest_dir). Only the named members are written, under
    names theon chooses, so a hostile archive cannot write elsewhere."""
    dest_dir = Path(dest_dir)
    print(f"theon.data: downloading {url}", file=sys.stderr)
    with _temp_beside(dest_dir / Path(url).name) as tmp:
        _fetch_to(url, tmp, timeout)
        _verify(tmp, url, sha256, decompress=False)
        with tarfile.open(tmp, "r:gz") as tar:
            for member, name in members.items():
                info = tar.getmember(member)
                if not info.isfile():
                    raise ChecksumError(f"{url}: archive member {member} is not a file")
                with _temp_beside(dest_dir / name) as part:
                    with tar.extractfile(info) as src, open(part, "wb") as out:
                        shutil.copyfileobj(src, out, _CHUNK)
                    os.replace(part, dest_dir / name)
    return dest_dir
