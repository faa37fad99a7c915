"""theon.data: readers for IDX and CIFAR-10 files, data sets found locally or downloaded with
SHA-256 verification, and a DataLoader with seeded shuffling and background prefetching."""
from .cifar import read_cifar10, read_cifar_batch
from .datasets import (DATASETS, cifar10, data_root, dataset_locations, digits, fashion_mnist,
                       fetch, find_dataset, load, mnist, search_paths)
from .download import sha256_file
from .errors import ChecksumError, DataFormatError, DatasetNotFoundError
from .idx import read_idx, write_idx
from .loader import DataLoader

__all__ = ["DATASETS", "ChecksumError", "DataFormatError", "DataLoader", "DatasetNotFoundError",
           "cifar10", "data_root", "dataset_locations", "digits", "fashion_mnist", "fetch",
           "find_dataset", "load", "mnist", "read_cifar10", "read_cifar_batch", "read_idx",
           "search_paths", "sha256_file", "write_idx"]
