"""The decompositions' behaviour beyond the op table (tests/ops/rows_decompositions.py):
NumPy's result types, the documented gradient where singular values or eigenvalues
repeat, the cases without a gradient, and gradients built with the dims unknown."""
import numpy as np
import pytest

import theon as th
from theon.errors import GradientError, KernelError
from theon.testing import verify_grad


def _run(fn, *arrays, shapes=None):
    xs = [th.tensor(f"x{i}", a.shape if shapes is None else shapes[i], a.dtype.name) for i, a in enumerate(arrays)]
    out = fn(*xs)
    return th.function(xs, list(out) if isinstance(out, tuple) else out)(*arrays)


def test_results_are_numpys_named_tuples_with_numpys_shapes_and_dtypes():
    a = np.random.default_rng(0).standard_normal((2, 5, 3)).astype("float32")
    x = th.tensor("x", a.shape, "float32")
    r = th.linalg.svd(x)
    assert [v.type.shape for v in (r.U, r.S, r.Vh)] == [(2, 5, 5), (2, 3), (2, 3, 3)]
    assert [v.dtype for v in r] == ["float32"] * 3
    assert th.linalg.svd(x, compute_uv=False).type.shape == (2, 3)
    q = th.linalg.qr(x)
    assert (q.Q.type.shape, q.R.type.shape) == ((2, 5, 3), (2, 3, 3))
    assert th.linalg.qr(x, mode="r").type.shape == (2, 3, 3)
    e = th.linalg.eigh(th.tensor("s", (4, 4), "int64"))
    assert (e.eigenvalues.dtype, e.eigenvectors.dtype) == ("float64", "float64")   # ints as float64
    u, s, vh = _run(th.linalg.svd, a)
    np.testing.assert_allclose(u[..., :3] * s[..., None, :] @ vh, a, atol=1e-5)


def test_singular_values_have_a_gradient_where_they_repeat():
    # the nuclear norm's gradient at diag(2, 2, 1) is U Vh = I, although U and V are not unique
    a = np.diag([2.0, 2.0, 1.0])
    g = _run(lambda x: th.grad(th.linalg.svdvals(x).sum(), [x])[0], a)
    np.testing.assert_allclose(g, np.eye(3), atol=1e-12)
    g = _run(lambda x: th.grad(th.linalg.svd(x)[1].sum(), [x])[0], a)   # svd's S alone too
    np.testing.assert_allclose(g, np.eye(3), atol=1e-12)
    g = _run(lambda x: th.grad(th.linalg.eigvalsh(x).sum(), [x])[0], a)   # d trace = I
    np.testing.assert_allclose(g, np.eye(3), atol=1e-12)


@pytest.mark.parametrize("fn, what", [
    (lambda x: (th.linalg.svd(x).U ** 2).sum(), "singular values repeat"),
    (lambda x: (th.linalg.eigh(x).eigenvectors ** 2).sum(), "eigenvalues repeat"),
])
def test_the_gradient_through_vectors_is_an_error_where_values_repeat(fn, what):
    x = th.tensor("x", (3, 3), "float64")
    f = th.function([x], th.grad(fn(x), [x])[0])
    with pytest.raises(KernelError, match=what):
        f(np.diag([2.0, 2.0, 1.0]))
    assert np.isfinite(f(np.diag([3.0, 2.0, 1.0]))).all()   # distinct values: defined


def test_a_zero_singular_value_of_a_non_square_matrix_is_an_error_for_the_vectors():
    a = np.zeros((4, 2))
    a[0, 0], a[1, 0] = 1.0, 2.0
    x = th.tensor("x", (4, 2), "float64")
    f = th.function([x], th.grad((th.linalg.svd(x, full_matrices=False).U ** 3).sum(), [x])[0])
    with pytest.raises(KernelError, match="zero for a non-square matrix"):
        f(a)


def test_cases_without_a_gradient_say_so_when_differentiated():
    x = th.tensor("x", (5, 3), "float64")
    with pytest.raises(GradientError, match="full_matrices=True for a non-square"):
        th.grad(th.linalg.svd(x).U.sum(), [x])
    with pytest.raises(GradientError, match="mode='complete' of a tall matrix"):
        th.grad(th.linalg.qr(x, mode="complete").Q.sum(), [x])
    # S of a full svd and R of a complete QR of a wide matrix are fine
    verify_grad(lambda v: th.linalg.svd(v)[1], [np.random.default_rng(0).standard_normal((5, 3))])
    verify_grad(lambda v: tuple(th.linalg.qr(v, mode="complete")),
                [np.random.default_rng(1).standard_normal((3, 5))])


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_gradients_built_with_dims_unknown_equal_those_with_dims_known(shape):
    rng = np.random.default_rng(2)
    a, w = rng.standard_normal(shape), rng.standard_normal(shape)

    def cost(x):
        u, s, vh = th.linalg.svd(x, full_matrices=False)
        q, r = th.linalg.qr(x)
        return (u * u).sum() * 0.3 + (th.matmul(u * th.expand_dims(s, -2), vh) * w).sum() + (vh ** 3).sum() \
            + (q * q * 1.5).sum() + (r ** 2).sum()

    known = _run(lambda x: th.grad(cost(x), [x])[0], a)
    unknown = _run(lambda x: th.grad(cost(x), [x])[0], a, shapes=[(None, None)])
    np.testing.assert_allclose(unknown, known, rtol=1e-10, atol=1e-12)


def test_the_namespace_has_numpy_linalgs_names():
    provided = set(th.linalg.__all__)
    wanted = {"cholesky", "cross", "det", "diagonal", "eigh", "eigvalsh", "inv", "matmul", "matrix_norm",
              "matrix_power", "matrix_rank", "matrix_transpose", "multi_dot", "norm", "outer", "pinv", "qr",
              "slogdet", "solve", "svd", "svdvals", "tensordot", "trace", "vecdot", "vector_norm"}
    assert wanted <= provided and wanted <= set(dir(np.linalg))
