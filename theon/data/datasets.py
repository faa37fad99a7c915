"""Data sets: where theon finds them, how it downloads them, and loading them as arrays.

Search order for a data set NAME (the first folder holding all its files wins):
  1. $THEON_DATA/NAME
  2. ~/.theon/datasets/NAME
  3. where an operating-system package installs it (fashion-mnist: Debian's
     `dataset-fashion-mnist`, in /usr/share/datasets/fashion-mnist)
Otherwise (download=True) the files are fetched into $THEON_DATA/NAME, or
~/.theon/datasets/NAME when THEON_DATA is unset, from the `url` argument, else from
$THEON_DATA_URL/NAME/, else from the data set's canonical mirrors, and verified by SHA-256.
Local files are trusted as they are (a damaged one fails in its reader); downloads are not.
"""
import http.client
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cifar
from .download import download, download_members
from .errors import ChecksumError, DataFormatError, DatasetNotFoundError
from .idx import read_idx

_IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@dataclass(frozen=True)
class DatasetSpec:
    """What theon knows about one data set's files and where they come from."""
    name: str
    files: tuple            # names in the data set's folder; "x.gz" may also be found as raw "x"
    sha256: dict            # file name -> SHA-256 of its decompressed bytes (IDX sets)
    urls: tuple             # base URLs (mirrors) holding the files, tried in order
    system_dirs: tuple = ()  # where an OS package installs the files
    apt_package: str = ""
    archive: str = ""        # a .tar.gz to fetch instead of single files (CIFAR-10)
    archive_sha256: str = ""  # SHA-256 of the archive as published
    archive_prefix: str = ""  # folder of the files inside the archive


# SHA-256 of the decompressed IDX files. Fashion-MNIST's were computed from the Debian
# package's files (identical to upstream's data); MNIST's are the published values of the
# decompressed files of the canonical distribution.
DATASETS = {
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist", files=_IDX_FILES,
        sha256={
            "train-images-idx3-ubyte.gz":
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte.gz":
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte.gz":
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte.gz":
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        urls=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        apt_package="dataset-fashion-mnist"),
    "mnist": DatasetSpec(
        name="mnist", files=_IDX_FILES,
        sha256={
            "train-images-idx3-ubyte.gz":
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte.gz":
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte.gz":
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte.gz":
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        urls=("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/")),
    # CIFAR-10 is published as one archive; its SHA-256 (of the .tar.gz as published) is the
    # check, and the extracted files are a function of it.
    "cifar-10": DatasetSpec(
        name="cifar-10", files=cifar.TRAIN_FILES + cifar.TEST_FILES, sha256={},
        urls=("https://www.cs.toronto.edu/~kriz/",),
        archive="cifar-10-binary.tar.gz",
        archive_sha256="c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
        archive_prefix="cifar-10-batches-bin/"),
}
_ALIASES = {"fashion": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar10": "cifar-10",
            "cifar": "cifar-10"}


def _spec(name: str) -> DatasetSpec:
    key = name.lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise KeyError(f"unknown data set {name!r}; theon knows {', '.join(DATASETS)}")
    return DATASETS[key]


def data_root() -> Path:
    """Where downloads go: $THEON_DATA, or ~/.theon/datasets when it is unset."""
    env = os.environ.get("THEON_DATA")
    return Path(env).expanduser() if env else Path.home() / ".theon" / "datasets"


def search_paths(name: str) -> list:
    """The folders searched for data set `name`, in order."""
    spec = _spec(name)
    paths = []
    if os.environ.get("THEON_DATA"):
        paths.append(Path(os.environ["THEON_DATA"]).expanduser() / spec.name)
    paths.append(Path.home() / ".theon" / "datasets" / spec.name)
    paths.extend(Path(d) for d in spec.system_dirs)
    return paths


def _file_in(directory: Path, fname: str):
    """The path of `fname` in `directory`, also accepting the raw form of a ".gz" name."""
    for cand in (fname, fname[:-3] if fname.endswith(".gz") else None):
        if cand and (directory / cand).is_file():
            return directory / cand
    return None


def _missing_files(spec: DatasetSpec, directory: Path) -> list:
    return [f for f in spec.files if _file_in(directory, f) is None]


def find_dataset(name: str, missing_ok=False):
    """The first folder in `search_paths(name)` holding all of the data set's files.

    Raises DatasetNotFoundError saying where it looked and how to get the data, or returns
    None when `missing_ok`.
    """
    spec = _spec(name)
    for d in search_paths(spec.name):
        if d.is_dir() and not _missing_files(spec, d):
            return d
    if missing_ok:
        return None
    raise DatasetNotFoundError(_not_found_message(spec))


def dataset_locations() -> dict:
    """Data set name -> the folder theon would load it from, or None (for `theon info`)."""
    return {name: find_dataset(name, missing_ok=True) for name in DATASETS}


def _not_found_message(spec: DatasetSpec, download_error: str = "") -> str:
    lines = [f"data set {spec.name!r} not found; theon looked in:"]
    if not os.environ.get("THEON_DATA"):
        lines.append("  $THEON_DATA/" + spec.name + "  (THEON_DATA is not set)")
    for d in search_paths(spec.name):
        state = "no such folder" if not d.is_dir() else (
            "incomplete, missing " + ", ".join(_missing_files(spec, d)))
        lines.append(f"  {d}  ({state})")
    if download_error:
        lines.append(f"and downloading it failed: {download_error}")
    lines.append("To get it, any one of:")
    if spec.apt_package:
        lines.append(f"  apt-get install {spec.apt_package}   (Debian/Ubuntu; installs into "
                     f"{spec.system_dirs[0]})")
    lines.append(f"  put {', '.join(spec.files)} in DIR/{spec.name} and set THEON_DATA=DIR")
    lines.append("  load it with download=True on a machine with network access "
                 f"(from {spec.urls[0]}; set THEON_DATA_URL to use a mirror)")
    return "\n".join(lines)


def _base_urls(spec: DatasetSpec, url):
    if url:
        return [url]
    env = os.environ.get("THEON_DATA_URL")
    if env:
        return [env.rstrip("/") + "/" + spec.name + "/"]
    return list(spec.urls)


def _join(base: str, fname: str) -> str:
    return base if base.endswith(fname) else base.rstrip("/") + "/" + fname


def fetch(name: str, url=None, root=None) -> Path:
    """Download the files of data set `name` that are missing from ROOT/NAME (ROOT:
    `data_root()`), verifying each by SHA-256. `url` is a base URL holding the files;
    without it $THEON_DATA_URL/NAME/, else the canonical mirrors, are tried in order."""
    spec = _spec(name)
    dest = Path(root).expanduser() / spec.name if root else data_root() / spec.name
    created = not dest.exists()
    try:
        missing = _missing_files(spec, dest) if dest.is_dir() else list(spec.files)
        if missing:
            _fetch_into(spec, dest, missing, _base_urls(spec, url))
    finally:
        if created and dest.is_dir() and not any(dest.iterdir()):
            dest.rmdir()  # leave no empty folder behind a failed download
    return dest


def _fetch_into(spec, dest, missing, bases):
    jobs = [spec.archive] if spec.archive else missing
    for job in jobs:
        errors = []
        for base in bases:
            try:
                if spec.archive:
                    members = {spec.archive_prefix + f: f for f in spec.files}
                    download_members(_join(base, job), dest, spec.archive_sha256, members)
                else:
                    download(_join(base, job), dest / job, spec.sha256[job], decompress=True)
                break
            except (ChecksumError, OSError, http.client.HTTPException) as e:
                errors.append(e)  # URLError and timeouts are OSErrors: try the next mirror
        else:
            bad = [e for e in errors if isinstance(e, ChecksumError)]
            raise bad[0] if bad else errors[-1]


def _locate(name: str, download: bool, url) -> Path:
    spec = _spec(name)
    found = find_dataset(spec.name, missing_ok=True)
    if found is not None:
        return found
    if not download:
        raise DatasetNotFoundError(_not_found_message(spec))
    try:
        return fetch(spec.name, url=url)
    except ChecksumError:
        raise
    except (OSError, http.client.HTTPException) as e:
        where = ", ".join(_base_urls(spec, url))
        raise DatasetNotFoundError(_not_found_message(spec, f"{where}: {e}")) from e


def _idx_split(directory: Path, prefix: str):
    images = read_idx(_file_in(directory, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(_file_in(directory, f"{prefix}-labels-idx1-ubyte.gz"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DataFormatError(f"{directory}: {prefix} images of shape {images.shape} and "
                              f"labels of shape {labels.shape} do not make a data set")
    return images[:, None], labels.astype(np.int64)


def _scale(x, normalize, top):
    return (x.astype(np.float32) / np.float32(top)) if normalize else x


def load_idx_dataset(name: str, normalize=True, download=True, url=None):
    """((x_train, y_train), (x_test, y_test)) of an IDX data set; see fashion_mnist."""
    directory = _locate(name, download, url)
    out = []
    for prefix in ("train", "t10k"):
        x, y = _idx_split(directory, prefix)
        out.append((_scale(x, normalize, 255), y))
    return tuple(out)


def fashion_mnist(normalize=True, download=True, url=None):
    """Fashion-MNIST as ((x_train, y_train), (x_test, y_test)): x float32 (N, 1, 28, 28) in
    [0, 1] (uint8 0..255 when not `normalize`), y int64 in 0..9; 60000 and 10000 examples.
    Found as the module docstring says; `download=False` forbids fetching."""
    return load_idx_dataset("fashion-mnist", normalize, download, url)


def mnist(normalize=True, download=True, url=None):
    """MNIST, in the same form as fashion_mnist."""
    return load_idx_dataset("mnist", normalize, download, url)


def cifar10(normalize=True, download=True, url=None):
    """CIFAR-10 as ((x_train, y_train), (x_test, y_test)): x float32 (N, 3, 32, 32) in [0, 1]
    (uint8 when not `normalize`), y int64 in 0..9; 50000 and 10000 examples."""
    (xtr, ytr), (xte, yte) = cifar.read_cifar10(_locate("cifar-10", download, url))
    return (_scale(xtr, normalize, 255), ytr), (_scale(xte, normalize, 255), yte)


def digits(normalize=True, test_fraction=0.2, seed=0):
    """scikit-learn's 8x8 digits (1797 images, shipped inside scikit-learn, no download) as
    ((x_train, y_train), (x_test, y_test)): x float32 (N, 1, 8, 8) in [0, 1] (0..16 when
    not `normalize`), y int64; a seeded random split with `test_fraction` held out."""
    try:
        from sklearn.datasets import load_digits  # optional: scikit-learn
    except ImportError:
        raise DatasetNotFoundError("digits() needs scikit-learn: pip install scikit-learn") \
            from None
    bunch = load_digits()
    x = bunch.images.astype(np.float32)[:, None]
    x = x / np.float32(16) if normalize else x
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])


LOADERS = {"fashion-mnist": fashion_mnist, "mnist": mnist, "cifar-10": cifar10,
           "digits": digits}


def load(name: str, **kwargs):
    """Load a data set by name ("fashion-mnist", "mnist", "cifar-10", "digits"; "_" and "-"
    are alike), passing keyword arguments to its loader."""
    key = name.lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in LOADERS:
        raise KeyError(f"unknown data set {name!r}; theon knows {', '.join(LOADERS)}")
    return LOADERS[key](**kwargs)
