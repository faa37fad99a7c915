"""The CIFAR-10 binary format: records of 1 label byte and 3072 pixel bytes (3 planes of
32x32, red then green then blue), 10000 records per file."""
from pathlib import Path

import numpy as np

from .errors import DataFormatError

RECORD = 1 + 3 * 32 * 32
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")


def read_cifar_batch(path):
    """One CIFAR-10 binary file -> (x uint8 (N, 3, 32, 32), y int64 (N,))."""
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0 or data.size % RECORD:
        raise DataFormatError(
            f"{path}: {data.size} bytes is not a whole number of CIFAR-10 records of {RECORD} "
            f"bytes ({data.size // RECORD} whole records and {data.size % RECORD} bytes over): "
            "the file is truncated or not in the CIFAR-10 binary format")
    records = data.reshape(-1, RECORD)
    y = records[:, 0].astype(np.int64)
    if y.max() > 9:
        bad = int(np.argmax(y > 9))
        raise DataFormatError(f"{path}: record {bad} has label {y[bad]}; CIFAR-10 labels are "
                              "0..9, so the file is corrupt or not CIFAR-10")
    x = records[:, 1:].reshape(-1, 3, 32, 32).copy()
    return x, y


def _read_many(directory, names):
    parts = [read_cifar_batch(Path(directory) / n) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def read_cifar10(directory):
    """Read data_batch_1..5.bin and test_batch.bin from `directory`.

    Returns ((x_train, y_train), (x_test, y_test)) with x uint8 (N, 3, 32, 32), y int64.
    """
    directory = Path(directory)
    missing = [n for n in TRAIN_FILES + TEST_FILES if not (directory / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{directory}: missing CIFAR-10 files {', '.join(missing)}")
    return _read_many(directory, TRAIN_FILES), _read_many(directory, TEST_FILES)
