"""th.histogram against numpy.histogram on the edge cases: values on the edges (the last bin
closed on the right), outside them, NaN and infinities, repeated edges, weights, density,
edges as a list, an array or a tensor, and bad edges."""
import numpy as np
import pytest

import theon as th

NAN, INF = np.nan, np.inf
VALUES = np.array([0.0, 0.5, 1.0, 1.0, 2.0, 3.0, -1.0, 4.0, 2.5, NAN, INF, -INF])
EDGES = [
    [0.0, 1.0, 2.0, 3.0],          # values on every edge, 3.0 in the last bin
    [0, 1, 1, 2],                  # ints, an empty zero-width bin
    [0.0, 2.0, 2.0],               # zero-width last bin: 2.0 goes there
    [-INF, 0.0, INF],              # infinite edges catch the infinities
    [1.0],                         # one edge: no bins
    np.array([-0.5, 0.25, 2.75], "float32"),
]


def _check(got, want):
    for g, w in zip(got, want):
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=1e-12)   # sums of weights: summation order


@pytest.mark.parametrize("edges", EDGES, ids=[str(list(e)) for e in EDGES])
@pytest.mark.parametrize("density", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_explicit_edges_match_numpy(edges, density, weighted):
    x = th.tensor("x", (None,), "float64")
    w = th.tensor("w", (None,), "float64")
    weights = np.linspace(0.5, 2.0, VALUES.size)
    out = th.histogram(x, bins=edges, weights=w if weighted else None, density=density)
    f = th.function([x, w] if weighted else [x], list(out))
    with np.errstate(invalid="ignore", divide="ignore"):
        want = np.histogram(VALUES, bins=edges, weights=weights if weighted else None, density=density)
        got = f(VALUES, weights) if weighted else f(VALUES)
    _check(got, want)


def test_edges_given_as_a_tensor_are_checked_at_the_call():
    x, e = th.tensor("x", (None,), "float64"), th.tensor("e", (None,), "float32")
    f = th.function([x, e], list(th.histogram(x, e)))
    edges = np.array([0.0, 0.5, 3.0], "float32")
    _check(f(VALUES, edges), np.histogram(VALUES, edges))
    with pytest.raises(Exception, match="bins must increase monotonically"):
        f(VALUES, np.array([0.0, 2.0, 1.0], "float32"))
    # the int-bins path and histogram_bin_edges agree with numpy on the same data
    g = th.function([x], [th.histogram_bin_edges(x, 4, range=(0.0, 3.0)), th.histogram_bin_edges(x, [1, 2, 5])])
    _check(g(VALUES), [np.histogram_bin_edges(VALUES, 4, range=(0.0, 3.0)), np.histogram_bin_edges(VALUES, [1, 2, 5])])


def test_int_bins_nan_handling_is_numpys():
    x = th.tensor("x", (None,), "float64")
    with_range = th.function([x], list(th.histogram(x, 3, range=(0.0, 3.0), density=True)))
    _check(with_range(VALUES), np.histogram(VALUES, 3, range=(0.0, 3.0), density=True))   # NaN and infs dropped
    auto = th.function([x], list(th.histogram(x, 3)))
    _check(auto(np.array([0.0, 1.0, 4.0])), np.histogram(np.array([0.0, 1.0, 4.0]), 3))
    for bad in (np.array([1.0, NAN]), np.array([1.0, INF])):
        with pytest.raises(ValueError, match="autodetected range"):
            np.histogram(bad, 3)
        with pytest.raises(Exception, match="autodetected range of .* is not finite"):
            auto(bad)


@pytest.mark.parametrize("bins,match", [([0.0, 2.0, 1.0], "increase monotonically"),
                                        ([[0.0, 1.0, 2.0]], "1-D sequence"), ([], "at least one edge"),
                                        ("auto", "not provided"), (0, "positive int"), (["a", "b"], "numbers")])
def test_bad_bins_are_clear_errors(bins, match):
    x = th.tensor("x", (5,), "float64")
    with pytest.raises(ValueError, match=match):
        th.histogram(x, bins)
