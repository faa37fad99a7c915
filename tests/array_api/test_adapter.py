"""The Array API adapter (not the conformance suite, which needs fetched code) imports and
gives theon's own answers: it must add nothing to theon's semantics."""
import numpy as np

import theon as th

from . import theon_array_api as xp


def test_adapter_runs_theon_and_adds_no_semantics():
    x = xp.asarray([[1.5, -2.0], [0.0, 3.0]])
    assert x.dtype == xp.float32 and x.shape == (2, 2)        # theon's default float dtype
    assert (x + 1).dtype == xp.float32                          # weak Python scalar
    np.testing.assert_array_equal(xp.sum(x, axis=0)._value, [1.5, 1.0])
    u = xp.asarray([0, 200], dtype=xp.uint8)
    assert bool(xp.all(u > -1))                                 # theon's out-of-range comparison
    np.testing.assert_array_equal(xp.floor_divide(u, xp.zeros_like(u))._value, [0, 0])
    assert float(x[1, 1]) == 3.0 and x.mT.shape == (2, 2)
    v = th.tensor("v", (2, 2))
    want = th.function([v], th.clip(th.exp(v), None, 2.0))(x._value)
    np.testing.assert_array_equal(xp.clip(xp.exp(x), max=2.0)._value, want)
    np.testing.assert_array_equal(xp.unstack(x)[1]._value, [0.0, 3.0])
    for name in ("svd", "qr", "eigh", "vector_norm"):            # in the adapter iff in theon
        assert hasattr(xp.linalg, name) == (hasattr(th, name) or hasattr(th, "linalg") and hasattr(th.linalg, name))
    z = xp.fft.rfft(xp.asarray([1.0, 0.0, -1.0, 0.0]))
    assert z.dtype == xp.complex64                              # theon's float32 default, as NumPy 2
    np.testing.assert_allclose(z._value, np.fft.rfft(np.array([1.0, 0.0, -1.0, 0.0], np.float32)))
    assert xp.result_type(xp.int8, xp.uint8) == xp.int16


def test_adapter_setitem_is_theons_functional_update_and_asarray_copy_shares_or_not():
    x = xp.asarray([[1, 2], [3, 4]], dtype=xp.int8)
    same, copied = xp.asarray(x, copy=False), xp.asarray(x, copy=True)
    x[0, 1] = 9
    x[True, 1] = xp.asarray([7, 7], dtype=xp.int8)   # a 0-d boolean index: x[None, 1]
    np.testing.assert_array_equal(x._value, [[1, 9], [7, 7]])
    assert same is x and copied._value[0, 1] == 2 and copied._value[1, 0] == 3
    s = xp.asarray(1.5)
    s[()] = 2.5                                          # the key selects all of s
    assert float(s) == 2.5 and s.dtype == xp.float32
    assert xp.unique_counts(xp.asarray([2, 1, 2])).counts._value.tolist() == [1, 2]
