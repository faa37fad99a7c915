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
    assert not hasattr(xp, "unstack")                           # theon has no unstack: absent
    z = xp.fft.rfft(xp.asarray([1.0, 0.0, -1.0, 0.0]))
    assert z.dtype == xp.complex64                              # theon's float32 default, as NumPy 2
    np.testing.assert_allclose(z._value, np.fft.rfft(np.array([1.0, 0.0, -1.0, 0.0], np.float32)))
    assert xp.result_type(xp.int8, xp.uint8) == xp.int16
