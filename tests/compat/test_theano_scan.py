"""theano_scan takes Theano's scan signature: the documented Theano examples, ported as is,
give the values Theano's documentation shows (computed here with NumPy)."""
import numpy as np
import pytest

import theon as th
from theon.compat import theano_scan


def test_power_of_a_vector_with_n_steps_and_non_sequences():
    k = th.tensor("k", (), "int64")
    A = th.tensor("A", (None,), "float64")
    result, updates = theano_scan(fn=lambda prior, A: prior * A, outputs_info=th.ones_like(A),
                                  non_sequences=A, n_steps=k)
    assert updates == {}
    f = th.function([A, k], result[-1])
    np.testing.assert_array_equal(f(np.arange(5.0), 3), np.arange(5.0) ** 3)


def test_polynomial_loops_over_the_shortest_sequence():
    coefficients = th.tensor("coefficients", (3,), "float64")
    x = th.tensor("x", (), "float64")
    components, _ = theano_scan(fn=lambda c, power, free: c * (free ** power),
                                sequences=[coefficients, th.arange(1000)], non_sequences=x)
    f = th.function([coefficients, x], components.sum())
    assert f(np.array([1.0, 0.0, 2.0]), 3.0) == 1.0 + 0.0 * 3 + 2.0 * 9


def test_output_taps_keep_a_window_of_past_values():
    x0 = th.tensor("x0", (2,), "float64")
    out, _ = theano_scan(lambda a, b: a + b, outputs_info=dict(initial=x0, taps=[-2, -1]), n_steps=6)
    np.testing.assert_array_equal(th.function([x0], out)(np.array([1.0, 1.0])), [2, 3, 5, 8, 13, 21])


def test_sequence_taps_and_go_backwards_and_gradients():
    s = th.tensor("s", (None,), "float64")
    diff, _ = theano_scan(lambda before, now: now - before, sequences=dict(input=s, taps=[-1, 0]))
    values = np.array([1.0, 4.0, 9.0, 16.0])
    np.testing.assert_array_equal(th.function([s], diff)(values), np.diff(values))
    backwards, _ = theano_scan(lambda v: v * 2, sequences=s, go_backwards=True)
    np.testing.assert_array_equal(th.function([s], backwards)(values), values[::-1] * 2)
    w = th.tensor("w", (), "float64")
    h, _ = theano_scan(lambda x, prev, w: th.tanh(w * prev + x), sequences=s,
                       outputs_info=th.constant(0.0, dtype="float64"), non_sequences=w)
    th.testing.verify_grad(lambda s_, w_: theano_scan(lambda x, prev, ww: th.tanh(ww * prev + x),
                                                      sequences=s_, outputs_info=th.constant(0.0, dtype="float64"),
                                                      non_sequences=w_)[0].sum(),
                           [values / 10, np.array(0.5)])


def test_what_is_not_supported_says_so():
    s = th.tensor("s", (3,), "float64")
    with pytest.raises(NotImplementedError, match="truncate_gradient"):
        theano_scan(lambda v: v, sequences=s, truncate_gradient=2)
    shared = th.shared(np.zeros(()), name="count")
    with pytest.raises(NotImplementedError, match="updates returned by the body"):
        theano_scan(lambda v: (v, {shared: shared + 1}), sequences=s)
