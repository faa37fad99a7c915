"""One default-dtype rule: a Python float becomes float32 (a Python complex complex64, an
int int64) wherever nothing else fixes the dtype — every constructor, constants, shared
variables and expressions of Python scalars alone. NumPy data keeps its own dtype, and a
Python scalar next to a tensor takes the tensor's dtype (NEP 50)."""
import numpy as np
import pytest

import theon as th
from theon.graph.types import DEFAULT_FLOAT


def run(v):
    return th.function([], v)()


CONSTRUCTORS = {
    "zeros": lambda: th.zeros(3), "ones": lambda: th.ones((2, 2)), "full": lambda: th.full(3, 1.5),
    "eye": lambda: th.eye(2), "arange": lambda: th.arange(0.5, 2), "arange_step": lambda: th.arange(0, 1, 0.25),
    "linspace": lambda: th.linspace(0, 1, 5), "constant": lambda: th.constant(0.5),
    "constant_list": lambda: th.constant([1.5, 2.0]), "tensor": lambda: th.tensor("x", (2,)),
    "python_scalars": lambda: th.add(1.5, 2.5), "python_exp": lambda: th.exp(0.5),
    "python_where": lambda: th.where(True, 1.5, 2), "python_mean": lambda: th.mean(th.constant([1.0, 2.0])),
}


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
def test_every_constructor_gives_the_default_float_dtype(name):
    v = CONSTRUCTORS[name]()
    assert DEFAULT_FLOAT == "float32"
    assert v.dtype == DEFAULT_FLOAT
    if v.owner is not None or isinstance(v, th.Constant):
        assert run(v).dtype == np.float32   # the kernel gives what was declared


def test_shared_from_a_python_float():
    assert th.shared(0.5).dtype == "float32" and th.shared(0.5).get_value().dtype == np.float32
    assert th.shared(np.float64(0.5)).dtype == "float64"
    assert th.shared(3).dtype == "int64"


def test_other_kinds_and_numpy_data():
    assert th.full(2, 1j).dtype == "complex64" and th.constant(1j).dtype == "complex64"
    assert th.full(2, 3).dtype == "int64" and th.arange(4).dtype == "int64"
    assert th.full(2, True).dtype == "bool"
    assert th.full(2, np.float64(0.5)).dtype == "float64"
    assert th.arange(np.float64(0.5), 2).dtype == "float64"
    assert th.constant(np.array([0.5])).dtype == "float64"
    assert th.zeros(3, "int8").dtype == "int8" and th.eye(2, dtype="float64").dtype == "float64"
    x = th.tensor("x", (2,), "float64")
    assert (x * 0.1).dtype == "float64"               # weak: the tensor decides
    np.testing.assert_array_equal(th.function([x], x * 0.1)(np.ones(2)), np.full(2, 0.1))


def test_arange_follows_numpy_lengths_and_is_empty_for_empty_ranges():
    for args in [(1, 0), (0, 0), (5, 1, 1), (0, -3, -1), (0.5, 2), (0, 1, 0.1), (10, 0, -3), (-2.5, 2.5, 0.5)]:
        got = run(th.arange(*args))
        want = np.arange(*args)
        assert got.shape == want.shape, args
        np.testing.assert_allclose(got, want.astype(got.dtype), rtol=1e-6)
    assert run(th.arange(1, 0)).shape == (0,)
    with pytest.raises(ValueError, match="step"):
        th.arange(0, 3, 0)


def test_linspace_matches_numpy():
    for args, kw in [((0, 1, 5), {}), ((2, -3, 7), {}), ((0, 1, 4), {"endpoint": False}), ((1, 1, 1), {}),
                     ((0, 1, 0), {})]:
        np.testing.assert_allclose(run(th.linspace(*args, **kw, dtype="float64")), np.linspace(*args, **kw))


def test_full_refuses_a_fill_value_out_of_range():
    with pytest.raises(OverflowError):
        th.full(3, 1000, "int8")


def test_empty_has_the_asked_shape_and_dtype():
    n = th.tensor("n", (None, 3), "float64")
    out = th.function([n], [th.empty((2, 3)), th.empty_like(n), th.empty((4,), dtype="int32")])(np.ones((5, 3)))
    assert [(o.shape, o.dtype) for o in out] == [((2, 3), np.float32), ((5, 3), np.float64), ((4,), np.int32)]
