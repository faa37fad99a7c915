"""theon.data: IDX and CIFAR-10 readers, the data set finder, verified downloads from a local
HTTP server, the real Fashion-MNIST when installed, and digits. The loader: test_loader.py."""
import dataclasses
import functools
import gzip
import hashlib
import http.server
import io
import socket
import tarfile
import threading

import numpy as np
import pytest

import theon.data as td
from theon.data import datasets as ds
from theon.data import (ChecksumError, DataFormatError, DatasetNotFoundError, read_cifar10,
                        read_idx, write_idx)
from theon.errors import DTypeError

IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A temporary HOME, THEON_DATA unset, no proxies: nothing outside tmp_path is found."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("THEON_DATA", "THEON_DATA_URL", "http_proxy", "HTTP_PROXY", "https_proxy",
                "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return tmp_path


def make_idx_set(directory, n_train=12, n_test=5, label_offset=0, gz=True, seed=0):
    """Write a small MNIST-format data set; returns {file name: decompressed SHA-256} and the
    arrays. Labels are (i + label_offset) % 10 so tests can tell sets apart."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        arrays[f"{prefix}-images-idx3-ubyte.gz"] = rng.integers(0, 256, (n, 28, 28), np.uint8)
        arrays[f"{prefix}-labels-idx1-ubyte.gz"] = ((np.arange(n) + label_offset) % 10
                                                    ).astype(np.uint8)
    digests = {}
    for name, arr in arrays.items():
        write_idx(directory / (name if gz else name[:-3]), arr, compress=gz)
        digests[name] = idx_digest(arr)
    return digests, arrays


def idx_digest(arr):
    """SHA-256 of the IDX bytes of a uint8 array (what the decompressed file holds)."""
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return hashlib.sha256(header + arr.tobytes()).hexdigest()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_folder(tmp_path):
    """(folder, base_url): files written into folder are served at base_url. The server
    stops at teardown, and on its own after 60 s in any case."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    watchdog = threading.Timer(60.0, server.shutdown)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        watchdog.cancel()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- IDX -------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, dtype, gz):
    rng = np.random.default_rng(1)
    for shape in [(7,), (3, 4, 5), (2, 1, 3, 2)]:
        arr = (rng.standard_normal(shape) * 100).astype(dtype)
        path = write_idx(tmp_path / ("a.idx.gz" if gz else "a.idx"), arr)
        assert td.idx.is_gzip(path) == gz
        back = read_idx(path)
        assert back.dtype == np.dtype(dtype) and back.dtype.isnative
        assert back.shape == shape
        np.testing.assert_array_equal(back, arr)
        back[...] = 0  # a writable copy


def test_idx_gzip_detected_from_content_not_name(tmp_path):
    arr = np.arange(12, dtype=np.int32).reshape(3, 4)
    write_idx(tmp_path / "plain-name", arr, compress=True)
    np.testing.assert_array_equal(read_idx(tmp_path / "plain-name"), arr)


def test_idx_is_big_endian_on_disk(tmp_path):
    write_idx(tmp_path / "x", np.array([1, 256], dtype=np.int32))
    raw = (tmp_path / "x").read_bytes()
    assert raw == bytes([0, 0, 0x0C, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 1, 0])


def test_write_idx_rejects_dtype_it_cannot_hold(tmp_path):
    with pytest.raises(DTypeError, match="complex128"):
        write_idx(tmp_path / "x", np.zeros(3, np.complex128))
    assert not list(tmp_path.iterdir())


def _raw_idx(tmp_path):
    write_idx(tmp_path / "ok", np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    return (tmp_path / "ok").read_bytes()


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b[:-5], r"truncated: shape \(2, 3, 4\) of float32 needs 96 data bytes, the "
                       r"file has 91"),
    (lambda b: b[:10], r"truncated header: 3 dimensions need 16 bytes, the file has 10"),
    (lambda b: b[:3], r"too short for an IDX header"),
    (lambda b: b + b"xyz", r"corrupt: 3 bytes after the 96 data bytes"),
    (lambda b: b"\x01" + b[1:], r"not an IDX file"),
    (lambda b: b[:2] + b"\x42" + b[3:], r"unknown IDX dtype code 0x42"),
])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_corrupt_files_name_the_file_and_the_problem(tmp_path, mutate, message, gz):
    bad = tmp_path / "bad"
    data = mutate(_raw_idx(tmp_path))
    bad.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DataFormatError, match=message) as info:
        read_idx(bad)
    assert str(bad) in str(info.value)


def test_idx_truncated_or_corrupt_gzip_stream(tmp_path):
    packed = gzip.compress(_raw_idx(tmp_path) * 50)
    (tmp_path / "cut.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataFormatError, match="gzip stream is truncated"):
        read_idx(tmp_path / "cut.gz")
    flipped = bytearray(packed)
    flipped[-6] ^= 0xFF  # inside the CRC/length trailer
    (tmp_path / "crc.gz").write_bytes(bytes(flipped))
    with pytest.raises(DataFormatError, match="gzip stream is corrupt"):
        read_idx(tmp_path / "crc.gz")


def test_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


# -- CIFAR-10 --------------------------------------------------------------------------------
def make_cifar_dir(directory, per_file=3, seed=0):
    """Write the six CIFAR-10 binary files; returns the records written per file."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, name in enumerate(td.cifar.TRAIN_FILES + td.cifar.TEST_FILES):
        labels = (np.arange(per_file) + i) % 10
        pixels = rng.integers(0, 256, (per_file, 3072), dtype=np.uint8)
        records = np.concatenate([labels[:, None].astype(np.uint8), pixels], axis=1)
        (directory / name).write_bytes(records.tobytes())
        written[name] = (labels, pixels)
    return written


def test_cifar_reader_on_generated_files(tmp_path):
    written = make_cifar_dir(tmp_path / "c")
    (xtr, ytr), (xte, yte) = read_cifar10(tmp_path / "c")
    assert xtr.shape == (15, 3, 32, 32) and xtr.dtype == np.uint8
    assert ytr.shape == (15,) and ytr.dtype == np.int64
    assert xte.shape == (3, 3, 32, 32) and yte.tolist() == [5, 6, 7]
    labels, pixels = written["data_batch_2.bin"]
    np.testing.assert_array_equal(ytr[3:6], labels)
    # planes in order red, green, blue, each 32 rows of 32 pixels
    np.testing.assert_array_equal(xtr[3, 0, 0], pixels[0, :32])
    np.testing.assert_array_equal(xtr[3, 1, 0], pixels[0, 1024:1056])
    np.testing.assert_array_equal(xtr[4, 2, 31], pixels[1, 3072 - 32:])


def test_cifar_reader_errors(tmp_path):
    make_cifar_dir(tmp_path / "c")
    p = tmp_path / "c" / "test_batch.bin"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(DataFormatError, match="not a whole number of CIFAR-10 records"):
        read_cifar10(tmp_path / "c")
    p.write_bytes(bytes([12]) + bytes(3072))
    with pytest.raises(DataFormatError, match="record 0 has label 12"):
        read_cifar10(tmp_path / "c")
    (tmp_path / "c" / "data_batch_4.bin").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_4.bin"):
        read_cifar10(tmp_path / "c")


def test_cifar10_from_theon_data(isolated, monkeypatch):
    make_cifar_dir(isolated / "data" / "cifar-10")
    monkeypatch.setenv("THEON_DATA", str(isolated / "data"))
    (xtr, ytr), (xte, yte) = td.cifar10(download=False)
    assert xtr.shape == (15, 3, 32, 32) and xtr.dtype == np.float32
    assert 0.0 <= xtr.min() and xtr.max() <= 1.0 and ytr.dtype == np.int64


# -- the finder ------------------------------------------------------------------------------
def test_finder_order_theon_data_then_home_then_system(isolated, monkeypatch):
    system = isolated / "usr-share" / "fashion-mnist"
    spec = dataclasses.replace(ds.DATASETS["fashion-mnist"], system_dirs=(str(system),))
    monkeypatch.setitem(ds.DATASETS, "fashion-mnist", spec)
    env_dir = isolated / "data" / "fashion-mnist"
    home_dir = isolated / "home" / ".theon" / "datasets" / "fashion-mnist"
    make_idx_set(system, label_offset=3)
    make_idx_set(home_dir, label_offset=2, gz=False)  # raw (gunzipped) files count too
    make_idx_set(env_dir, label_offset=1)
    monkeypatch.setenv("THEON_DATA", str(isolated / "data"))
    assert td.search_paths("fashion_mnist") == [env_dir, home_dir, system]
    assert td.find_dataset("fashion-mnist") == env_dir
    (_, ytr), _ = td.fashion_mnist(download=False)
    assert ytr[0] == 1 and ytr.dtype == np.int64
    (env_dir / "t10k-labels-idx1-ubyte.gz").unlink()  # an incomplete folder is skipped
    assert td.find_dataset("fashion-mnist") == home_dir
    assert td.fashion_mnist(download=False)[0][1][0] == 2
    monkeypatch.delenv("THEON_DATA")
    assert td.find_dataset("fashion-mnist") == home_dir
    for f in home_dir.iterdir():
        f.unlink()
    assert td.find_dataset("fashion-mnist") == system
    assert td.fashion_mnist(download=False)[0][1][0] == 3
    assert td.dataset_locations()["fashion-mnist"] == system


def test_missing_dataset_error_says_where_and_how(isolated, monkeypatch):
    spec = dataclasses.replace(ds.DATASETS["fashion-mnist"],
                               system_dirs=(str(isolated / "no-such-dir"),))
    monkeypatch.setitem(ds.DATASETS, "fashion-mnist", spec)
    monkeypatch.setenv("THEON_DATA", str(isolated / "data"))
    make_idx_set(isolated / "data" / "fashion-mnist")
    (isolated / "data" / "fashion-mnist" / "train-images-idx3-ubyte.gz").unlink()
    assert td.find_dataset("fashion-mnist", missing_ok=True) is None
    with pytest.raises(DatasetNotFoundError) as info:
        td.fashion_mnist(download=False)
    msg = str(info.value)
    assert str(isolated / "data" / "fashion-mnist") in msg
    assert "incomplete, missing train-images-idx3-ubyte.gz" in msg
    assert str(isolated / "home" / ".theon" / "datasets" / "fashion-mnist") in msg
    assert str(isolated / "no-such-dir") in msg
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "THEON_DATA" in msg and "THEON_DATA_URL" in msg
    with pytest.raises(KeyError, match="unknown data set 'imagenet'"):
        td.find_dataset("imagenet")


def _closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_no_network_gives_not_found_with_the_download_failure(isolated, monkeypatch):
    monkeypatch.setenv("THEON_DATA", str(isolated / "data"))
    url = _closed_port_url()
    with pytest.raises(DatasetNotFoundError) as info:
        td.mnist(url=url)
    msg = str(info.value)
    assert "downloading it failed" in msg and url in msg
    assert str(isolated / "data" / "mnist") in msg and "THEON_DATA" in msg
    assert not (isolated / "data" / "mnist").exists()  # no empty folder left behind


# -- downloads from a local server -----------------------------------------------------------
def _serve_mnist(monkeypatch, served, tamper=None):
    """Write a small MNIST set into the served folder and make theon expect its digests."""
    digests, arrays = make_idx_set(served / "mnist", n_train=30, n_test=7)
    spec = dataclasses.replace(ds.DATASETS["mnist"], sha256=digests)
    monkeypatch.setitem(ds.DATASETS, "mnist", spec)
    if tamper:
        arr = arrays[tamper].copy()
        arr.flat[5] ^= 1
        write_idx(served / "mnist" / tamper, arr)
    return arrays


def test_download_verifies_and_installs(isolated, http_folder, monkeypatch):
    served, base = http_folder
    arrays = _serve_mnist(monkeypatch, served)
    monkeypatch.setenv("THEON_DATA", str(isolated / "data"))
    assert td.find_dataset("mnist", missing_ok=True) is None
    (xtr, ytr), (xte, yte) = td.mnist(url=base + "mnist/")
    assert xtr.shape == (30, 1, 28, 28) and xtr.dtype == np.float32 and xte.shape[0] == 7
    np.testing.assert_array_equal(ytr, arrays["train-labels-idx1-ubyte.gz"])
    np.testing.assert_array_equal(xtr[:, 0] * 255, arrays["train-images-idx3-ubyte.gz"])
    dest = isolated / "data" / "mnist"
    assert sorted(p.name for p in dest.iterdir()) == sorted(IDX_FILES)  # no temp files
    assert td.find_dataset("mnist") == dest
    for f in IDX_FILES:  # stored gzipped, as served
        assert td.idx.is_gzip(dest / f)


def test_download_from_theon_data_url_into_home(isolated, http_folder, monkeypatch):
    served, base = http_folder
    _serve_mnist(monkeypatch, served)
    monkeypatch.setenv("THEON_DATA_URL", base)
    path = td.fetch("mnist")
    assert path == isolated / "home" / ".theon" / "datasets" / "mnist"
    assert td.find_dataset("mnist") == path
    assert td.sha256_file(path / "t10k-labels-idx1-ubyte.gz", decompress=True) == \
        ds.DATASETS["mnist"].sha256["t10k-labels-idx1-ubyte.gz"]


def test_download_fetches_only_missing_files(isolated, http_folder, monkeypatch):
    served, base = http_folder
    _serve_mnist(monkeypatch, served)
    monkeypatch.setenv("THEON_DATA", str(isolated / "data"))
    dest = td.fetch("mnist", url=base + "mnist/")
    (dest / "t10k-images-idx3-ubyte.gz").unlink()
    (served / "mnist" / "train-images-idx3-ubyte.gz").unlink()  # would fail if asked for
    td.fetch("mnist", url=base + "mnist/")
    assert td.find_dataset("mnist") == dest


def test_tampered_download_is_rejected_and_leaves_nothing(isolated, http_folder, monkeypatch):
    served, base = http_folder
    _serve_mnist(monkeypatch, served, tamper="train-images-idx3-ubyte.gz")
    monkeypatch.setenv("THEON_DATA", str(isolated / "data"))
    with pytest.raises(ChecksumError, match="failed verification: SHA-256 of the "
                                            "decompressed data is [0-9a-f]{64}, expected"):
        td.mnist(url=base + "mnist/")
    assert not (isolated / "data" / "mnist").exists()
    assert td.find_dataset("mnist", missing_ok=True) is None
    # a file that is not gzip at all is rejected the same way
    (served / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"<html>not found</html>")
    with pytest.raises(ChecksumError, match="not a valid gzip file"):
        td.fetch("mnist", url=base + "mnist/")
    assert not (isolated / "data" / "mnist").exists()


def test_tampered_file_after_good_ones_leaves_only_verified_files(isolated, http_folder,
                                                                  monkeypatch):
    served, base = http_folder
    _serve_mnist(monkeypatch, served, tamper="t10k-labels-idx1-ubyte.gz")
    monkeypatch.setenv("THEON_DATA", str(isolated / "data"))
    with pytest.raises(ChecksumError):
        td.fetch("mnist", url=base + "mnist/")
    left = sorted(p.name for p in (isolated / "data" / "mnist").iterdir())
    assert left == sorted(IDX_FILES[:3])  # the verified ones, no temp file, no bad file


def _serve_cifar(monkeypatch, served, tamper=False):
    src = served / "src"
    make_cifar_dir(src, per_file=2)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for f in sorted(src.iterdir()):
            tar.add(f, arcname="cifar-10-batches-bin/" + f.name)
        tar.add(src / "test_batch.bin", arcname="../evil.bin")  # never extracted
    data = buf.getvalue()
    spec = dataclasses.replace(ds.DATASETS["cifar-10"],
                               archive_sha256=hashlib.sha256(data).hexdigest())
    monkeypatch.setitem(ds.DATASETS, "cifar-10", spec)
    if tamper:
        data = data[:-1] + bytes([data[-1] ^ 1])
    (served / "cifar-10-binary.tar.gz").write_bytes(data)


def test_cifar_archive_download(isolated, http_folder, monkeypatch):
    served, base = http_folder
    _serve_cifar(monkeypatch, served)
    monkeypatch.setenv("THEON_DATA", str(isolated / "data"))
    (xtr, ytr), (xte, yte) = td.cifar10(url=base)
    assert xtr.shape == (10, 3, 32, 32) and xte.shape == (2, 3, 32, 32)
    dest = isolated / "data" / "cifar-10"
    assert sorted(p.name for p in dest.iterdir()) == sorted(ds.DATASETS["cifar-10"].files)
    assert not (isolated / "data" / "evil.bin").exists()


def test_cifar_tampered_archive_rejected(isolated, http_folder, monkeypatch):
    served, base = http_folder
    _serve_cifar(monkeypatch, served, tamper=True)
    monkeypatch.setenv("THEON_DATA", str(isolated / "data"))
    with pytest.raises(ChecksumError, match="SHA-256 of the file"):
        td.cifar10(url=base)
    assert not (isolated / "data" / "cifar-10").exists()


# -- real data -------------------------------------------------------------------------------
def test_real_fashion_mnist_when_installed():
    if td.find_dataset("fashion-mnist", missing_ok=True) is None:
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    (xtr, ytr), (xte, yte) = td.fashion_mnist(download=False)
    assert xtr.shape == (60000, 1, 28, 28) and xte.shape == (10000, 1, 28, 28)
    assert xtr.dtype == np.float32 and ytr.dtype == np.int64 and yte.dtype == np.int64
    assert xtr.min() == 0.0 and xtr.max() == 1.0
    assert np.bincount(ytr).tolist() == [6000] * 10
    assert np.bincount(yte).tolist() == [1000] * 10
    (raw, _), _ = td.fashion_mnist(normalize=False, download=False)
    assert raw.dtype == np.uint8 and raw.shape == (60000, 1, 28, 28)


def test_real_fashion_mnist_debian_files_match_the_constants():
    spec = ds.DATASETS["fashion-mnist"]
    d = next((p for p in map(ds.Path, spec.system_dirs) if p.is_dir()), None)
    if d is None:
        pytest.skip("dataset-fashion-mnist is not installed")
    for name, digest in spec.sha256.items():
        assert td.sha256_file(d / name, decompress=True) == digest


def test_digits_shapes():
    pytest.importorskip("sklearn")
    (xtr, ytr), (xte, yte) = td.digits()
    assert xtr.shape[1:] == (1, 8, 8) and xtr.dtype == np.float32 and ytr.dtype == np.int64
    assert len(xtr) + len(xte) == 1797 and len(xte) == 359
    assert 0.0 <= xtr.min() and xtr.max() == 1.0 and set(np.unique(ytr)) == set(range(10))
    again = td.load("digits")
    np.testing.assert_array_equal(again[1][1], yte)  # the split is seeded
