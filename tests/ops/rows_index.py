"""Op-table rows for indexing (NumPy and torch references)."""
import numpy as np
import torch

import theon as th
from theon.errors import DTypeError, ShapeError, TensorIndexError
from theon.testing import ErrorCase, OpInfo, Sample, integers, rand

_ALL = slice(None)

# keys without index arrays: a view, gradient written into zeros
_BASIC_KEYS = [
    (1,), (-1, _ALL), (slice(1, 3),), (_ALL, slice(None, None, -1)), (slice(3, 0, -2), 2),
    (None, Ellipsis, 1), (Ellipsis, slice(1, None, 2)), (0, None, slice(-3, None)),
    (slice(5, 1),),                                     # empty
]

# keys with constant arrays (NumPy placement rules; repeated indices accumulate)
_CONST_KEYS = [
    ([0, 2, 2],), (_ALL, [[1, 0], [3, 3]]), (np.array([1, 0]), slice(None, None, -1)),
    (0, _ALL, [1, 2]),                                    # int + array apart: dims first
    (_ALL, [0, 1], 1), (np.array([True, False, True]),),  # constant mask -> nonzero
    ([0, 1], None, [1, 2]),
]


def _basic_samples(rng):
    x = rand(rng, 3, 4, 5)
    return [Sample((x,), {"key": k}) for k in _BASIC_KEYS + _CONST_KEYS]


def _getitem(x, key):
    return x[key]


def _getitem_array(x, i, before=(), after=()):
    """x[before + (i,) + after] with i a symbolic index array."""
    return x[before + (i,) + after]


def _array_samples(rng):
    x = rand(rng, 3, 4)
    return [
        Sample((x, integers(rng, -3, 3, 5))),                                 # negatives, repeats
        Sample((x, integers(rng, 0, 4, 2, 2)), {"before": (_ALL,)}),
        Sample((x, integers(rng, 0, 3, 2)), {"after": (slice(None, None, -2),)}),
        Sample((x, np.array(2)), {"after": (1,)}),                           # 0-d array index
        Sample((rand(rng, 2, 3, 4), integers(rng, 0, 4, 3)), {"before": (1, _ALL)}),
        Sample((integers(rng, 0, 9, 3, 4), integers(rng, 0, 3, 2)), grad=False),
    ]


def _take_samples(rng):
    x = rand(rng, 3, 4)
    return [
        Sample((x, integers(rng, -12, 12, 2, 3))),
        Sample((x, integers(rng, 0, 3, 4)), {"axis": 0}),
        Sample((x, integers(rng, -4, 4, 2, 2)), {"axis": -1}),
    ]


def _take_along_samples(rng):
    x = rand(rng, 3, 4)
    return [
        Sample((x, np.argsort(x, axis=1)), {"axis": 1}),
        Sample((x, integers(rng, 0, 3, 2, 4)), {"axis": 0}),
        Sample((x, integers(rng, -4, 4, 3, 1)), {"axis": 1}),              # broadcasts
        Sample((x, integers(rng, 0, 12, 5)), {"axis": None}),
    ]


def _index_add(x, index, source, axis=0, alpha=1):
    return th.index_add(x, axis, index, source, alpha=alpha)


def _index_add_ref(x, index, source, axis=0, alpha=1):
    t = torch.from_numpy(x).index_add(axis, torch.from_numpy(index), torch.from_numpy(source), alpha=alpha)
    return t.numpy()


def _index_add_samples(rng):
    return [
        Sample((rand(rng, 4, 3), np.array([0, 2, 0]), rand(rng, 3, 3))),       # repeated index
        Sample((rand(rng, 2, 5), np.array([4, 1]), rand(rng, 2, 2)), {"axis": 1, "alpha": 0.5}),
    ]


def _one_hot_ref(i, num_classes, dtype="float32"):
    return np.eye(num_classes, dtype=dtype)[i]


ROWS = [
    OpInfo("getitem", _getitem, _getitem, _basic_samples, second_order=True, errors=[
        ErrorCase((np.zeros((3, 4)),), {"key": (5,)}, TensorIndexError, "index 5 is out of bounds for axis 0 with size 3"),
        ErrorCase((np.zeros((3, 4)),), {"key": (0, 0, 0)}, TensorIndexError, "too many indices"),
        ErrorCase((np.zeros((3, 4)),), {"key": ([0, 4],)}, TensorIndexError, "index 4 is out of bounds"),
        ErrorCase((np.zeros((3, 4)),), {"key": (np.ones(4, bool),)}, ShapeError, "boolean index of shape"),
        ErrorCase((np.zeros((3, 4)),), {"key": ([0.5],)}, DTypeError, "integers or booleans"),
        ErrorCase((np.zeros((3, 4)),), {"key": (slice(0, 2.5),)}, TypeError, "Python ints"),
    ]),
    OpInfo("getitem_array", _getitem_array, _getitem_array, _array_samples, second_order=True, errors=[
        ErrorCase((np.zeros((3, 4)), np.zeros(3, bool)), {}, DTypeError, "th.where"),
        ErrorCase((np.zeros((3, 4)), np.zeros(2)), {}, DTypeError, "integers or booleans"),
        ErrorCase((np.zeros((3, 4)), np.zeros(2, "int64")), {"after": (np.zeros(3, "int64"),)}, ShapeError,
                  r"shapes \(2,\) and \(3,\) cannot be broadcast"),
    ]),
    OpInfo("getitem_slice_bound", lambda x, i: x[i:], None, lambda rng: [], errors=[
        ErrorCase((np.zeros(3), np.array(1)), {}, TypeError, "slice bounds must be Python ints")]),
    OpInfo("take", th.take, np.take, _take_samples, second_order=True),
    OpInfo("take_along_axis", th.take_along_axis, np.take_along_axis, _take_along_samples, second_order=True,
           errors=[ErrorCase((np.zeros((3, 4)), np.zeros((3,), "int64")), {"axis": 0}, ShapeError, "same rank"),
                   ErrorCase((np.zeros((3, 4)), np.zeros((2, 4), "int64")), {"axis": 1}, ShapeError,
                             "do not broadcast")]),
    OpInfo("index_add", _index_add, _index_add_ref, _index_add_samples, second_order=True, errors=[
        ErrorCase((np.zeros((4, 3)), np.zeros(2, "int64"), np.zeros((3, 3))), {}, ShapeError,
                  r"source of shape \(3, 3\) must be \(2, 3\)")]),
    OpInfo("one_hot", th.one_hot, _one_hot_ref, lambda rng: [
        Sample((integers(rng, 0, 4, 5),), {"num_classes": 4}),
        Sample((integers(rng, 0, 3, 2, 2),), {"num_classes": 3, "dtype": "int64"})], grad=False,
        errors=[ErrorCase((np.zeros(3),), {"num_classes": 4}, DTypeError, "must be integers")]),
]
