"""Op-table rows for indexing (NumPy and torch references)."""
import numpy as np
import torch

import theon as th
from theon.errors import DTypeError, InputError, ShapeError, TensorIndexError
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


# slices whose bounds are symbolic int scalars (i is an input); the same code runs on NumPy
_SYMBOLIC_SLICES = {
    "batch": lambda x, i: x[i * 2:(i + 1) * 2],                 # length 2, static
    "batch_cols": lambda x, i: x[i * 2:(i + 1) * 2, [3, 0]],    # then an index array
    "tail": lambda x, i: x[i:],                                  # length known at run time
    "reverse": lambda x, i: x[:i:-1, 1],
    "strided": lambda x, i: x[:, i - 1:i + 2:2],
    "step": lambda x, i: x[::i],
}


def _symbolic_slice(x, i, form="batch"):
    return _SYMBOLIC_SLICES[form](x, i)


def _symbolic_slice_samples(rng):
    """stop - start is a constant: the length is static."""
    x = rand(rng, 5, 4)
    return [Sample((x, np.array(k)), {"form": f}) for f, k in
            [("batch", 0), ("batch", 1), ("batch_cols", 1), ("strided", 2)]]


def _symbolic_length_samples(rng):
    """The length depends on i's value."""
    x = rand(rng, 5, 4)
    return [Sample((x, np.array(k)), {"form": f}) for f, k in [("tail", 3), ("tail", -2), ("reverse", 1)]]


def _update_key(x, key):
    return x if key is None else x[key]


def _set_subtensor(x, v, key):
    return th.set_subtensor(_update_key(x, key), v)


def _inc_subtensor(x, v, key):
    return th.inc_subtensor(_update_key(x, key), v)


def _at_set(x, v, key):
    return x.at[key].set(v)


def _at_add(x, v, key):
    return x.at[key].add(v)


def _set_ref(x, v, key):
    out = x.copy()
    out[key] = v
    return out


def _inc_ref(x, v, key):
    out = x.copy()
    np.add.at(out, key, v)
    return out


def _update_samples(repeats):
    """x[key] = v for basic and advanced keys; v broadcasts. Repeated indices only where
    they accumulate (a set with repeats keeps one write, so its gradient is not smooth)."""
    def samples(rng):
        x = rand(rng, 3, 4, 5)
        keys = [((1,), (4, 5)), ((slice(None), slice(3, 0, -2)), (3, 2, 5)), ((Ellipsis, 2), (4,)),
                ((0, None, slice(1, 4)), (1, 3, 5)), (([2, 0], slice(None), [1, 4]), (2, 4)),
                ((slice(None), [[3, 1]]), (3, 1, 2, 5)), ((np.array([True, False, True]),), (2, 4, 5)),
                ((1, slice(None), [0, 2]), (2, 4))]
        if repeats:
            keys.append(((slice(None), [1, 1, 3]), (3, 3, 5)))
        out = [Sample((x, rand(rng, *shape)), {"key": key}) for key, shape in keys]
        out.append(Sample((x, rand(rng, 5)), {"key": (slice(None), 0)}))   # v broadcast
        out.append(Sample((integers(rng, 0, 9, 3, 4), integers(rng, 0, 9, 4)), {"key": (1,)}, grad=False))
        return out
    return samples


# set/inc through slices with symbolic bounds (StridedSlice, then the rest of the key)
_SYMBOLIC_UPDATES = {
    "set_batch": lambda x, v, i: th.set_subtensor(x[i * 2:(i + 1) * 2], v),
    "inc_batch_cols": lambda x, v, i: th.inc_subtensor(x[i * 2:(i + 1) * 2, [0, 3]], v),
    "set_tail": lambda x, v, i: x.at[i:, 1].set(v),
    "add_reverse": lambda x, v, i: x.at[:i:-1].add(v),
}
_SYMBOLIC_UPDATE_REFS = {
    "set_batch": lambda x, v, i: _set_ref(x, v, slice(i * 2, (i + 1) * 2)),
    "inc_batch_cols": lambda x, v, i: _inc_ref(x, v, (slice(i * 2, (i + 1) * 2), [0, 3])),
    "set_tail": lambda x, v, i: _set_ref(x, v, (slice(i, None), 1)),
    "add_reverse": lambda x, v, i: _inc_ref(x, v, slice(None, i, -1)),
}


def _update_symbolic(x, v, i, form):
    return _SYMBOLIC_UPDATES[form](x, v, i)


def _update_symbolic_ref(x, v, i, form):
    return _SYMBOLIC_UPDATE_REFS[form](x, v, int(i))


def _update_symbolic_samples(rng):
    x = rand(rng, 5, 4)
    return [Sample((x, rand(rng, 2, 4), np.array(1)), {"form": "set_batch"}),
            Sample((x, rand(rng, 2, 2), np.array(0)), {"form": "inc_batch_cols"}),
            Sample((x, rand(rng, 3), np.array(2)), {"form": "set_tail"}),
            Sample((x, rand(rng, 4), np.array(2)), {"form": "add_reverse"})]


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
    OpInfo("getitem_symbolic_slice", _symbolic_slice, _symbolic_slice, _symbolic_slice_samples,
           second_order=True, errors=[
               ErrorCase((np.zeros(3), np.array(1)), {"form": "step"}, InputError, "step must be a Python int"),
               ErrorCase((np.zeros(3), np.array(1.0)), {"form": "tail"}, InputError, "integer scalar"),
               ErrorCase((np.zeros(3), np.array([1])), {"form": "tail"}, InputError, "integer scalar")]),
    OpInfo("getitem_symbolic_slice_length", _symbolic_slice, _symbolic_slice, _symbolic_length_samples,
           second_order=True,
           known_failures={"infer": "the slice's length depends on the value of i: that dim stays None"}),
    OpInfo("set_subtensor", _set_subtensor, _set_ref, _update_samples(repeats=False), second_order=True, errors=[
        ErrorCase((np.zeros((3, 4)), np.zeros((3, 4))), {"key": (slice(0, 2),)}, ShapeError,
                  r"cannot write a value of shape \(3, 4\) into x\[key\] of shape \(2, 4\)"),
        ErrorCase((np.zeros((3, 4)), np.zeros(4)), {"key": None}, InputError, "indexing expression")]),
    OpInfo("inc_subtensor", _inc_subtensor, _inc_ref, _update_samples(repeats=True), second_order=True),
    OpInfo("at_set", _at_set, _set_ref, _update_samples(repeats=False)),
    OpInfo("at_add", _at_add, _inc_ref, _update_samples(repeats=True), errors=[
        ErrorCase((np.zeros((3, 4)), np.zeros(3)), {"key": (0,)}, ShapeError, "cannot add a value of shape")]),
    OpInfo("update_symbolic_slice", _update_symbolic, _update_symbolic_ref, _update_symbolic_samples,
           second_order=True),
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
