"""Linear algebra behaviour the op table cannot express: error texts, unknown dims, dtype
rules, canonical einsum nodes, the non-BLAS matmul path, cholesky's gradient."""
import numpy as np
import pytest
import torch

import theon as th
from theon.errors import DTypeError, ShapeError
from theon.ops.linalg import Einsum1, Matmul, MatrixTranspose, _matmul_by_sum


def test_matmul_error_names_both_shapes_and_the_line():
    a, b = th.tensor("a", (3, 4)), th.tensor("b", (5, 6))
    with pytest.raises(ShapeError, match=r"\(3, 4\) @ \(5, 6\): inner dimensions 4 and 5 differ") as info:
        a @ b
    assert "test_linalg.py" in str(info.value)


def test_dense_layer_with_unknown_batch():
    x, W, b = th.tensor("x", (None, 784)), th.tensor("W", (784, 10)), th.tensor("b", (10,))
    y = x @ W + b
    assert y.type == th.tensor("t", (None, 10)).type
    rng = np.random.default_rng(0)
    xs, Ws, bs = (rng.standard_normal(s).astype("float32") for s in ((5, 784), (784, 10), (10,)))
    np.testing.assert_allclose(th.function([x, W, b], y)(xs, Ws, bs), xs @ Ws + bs, rtol=1e-4, atol=1e-4)
    gW, gx = th.grad(th.sum(y), [W, x])
    assert gW.type == W.type and gx.type == x.type


def test_inner_dims_unknown_until_the_call():
    a, b = th.tensor("a", (2, None)), th.tensor("b", (None, 3))
    f = th.function([a, b], a @ b)
    assert f(np.ones((2, 4), "float32"), np.ones((4, 3), "float32")).shape == (2, 3)
    with pytest.raises(Exception, match="inner dimensions 4 and 5 differ|size|shape"):
        f(np.ones((2, 4), "float32"), np.ones((5, 3), "float32"))


@pytest.mark.parametrize("da,db", [("float32", "float64"), ("int32", "float32"), ("int64", "int64"),
                                   ("bool", "bool"), ("int8", "int16")])
def test_matmul_dtype_follows_numpy(da, db):
    rng = np.random.default_rng(1)
    x, y = (rng.integers(0, 3, (2, 3)).astype(da), rng.integers(0, 3, (3, 2)).astype(db))
    a, b = th.tensor("a", x.shape, da), th.tensor("b", y.shape, db)
    out = th.function([a, b], a @ b)(x, y)
    want = x @ y
    assert out.dtype == want.dtype
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 4)), ((3,), (2, 3, 4)), ((2, 1, 2, 3), (3,)), ((3,), (3,)),
                                   ((2, 1, 2, 3), (4, 3, 2))])
@pytest.mark.parametrize("dtype", [torch.int64, torch.int8, torch.bool])
def test_matmul_without_blas_matches(sa, sb, dtype):
    # the path integer matmul takes on CUDA, where BLAS has no integer kernels
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randint(0, 3, s, generator=g).to(dtype) for s in (sa, sb))
    want = torch.matmul(a.long(), b.long())
    got = _matmul_by_sum(a, b)
    assert got.dtype == dtype
    torch.testing.assert_close(got, want != 0 if dtype == torch.bool else want.to(dtype))


def test_integer_matmul_takes_no_gradient():
    a, b = th.tensor("a", (2, 3), "int64"), th.tensor("b", (3, 2), "int64")
    y = a @ b
    assert Matmul().grad([a, b], [y], [y]) == [None, None]


def test_equal_products_are_one_node():
    a, b = th.tensor("a", (2, 3)), th.tensor("b", (3, 4))
    assert (a @ b) is th.matmul(a, b)
    assert th.einsum("ij,jk", a, b) is th.einsum("ij,jk->ik", a, b)
    assert th.einsum("...j,jk->...k", a, b) is th.einsum("ij,jk->ik", a, b)


def test_views_are_declared():
    assert MatrixTranspose.view and Einsum1.view and not Matmul.view


def test_einsum_implicit_output_is_sorted_like_numpy():
    a = th.tensor("a", (2, 3))
    assert th.einsum("bA", a).type.shape == np.einsum("bA", np.ones((2, 3))).shape == (3, 2)


@pytest.mark.parametrize("sub,shapes,match", [
    ("ij,jk->ik", [(2, 3)], "1 operand subscripts for|2 operand subscripts for 1"),
    ("i$", [(2, 3)], "invalid subscript"),
    ("...i->i", [(2, 3)], "needs '...'"),
    ("ii->ii", [(2, 2)], "repeated"),
])
def test_einsum_bad_subscripts(sub, shapes, match):
    with pytest.raises(ShapeError, match=match):
        th.einsum(sub, *[th.tensor(f"x{k}", s) for k, s in enumerate(shapes)])


@pytest.mark.parametrize("sub,shapes", [("ij,jk->ik", [(None, 3), (3, None)]), ("ij,ij->j", [(None, 3), (None, 3)]),
                                        ("bij,bjk->bik", [(None, 2, 3), (None, 3, 2)])])
def test_einsum_gradient_with_unknown_dims(sub, shapes):
    rng = np.random.default_rng(2)
    concrete = {"ij,jk->ik": [(2, 3), (3, 4)], "ij,ij->j": [(1, 3), (2, 3)],
                "bij,bjk->bik": [(2, 2, 3), (2, 3, 2)]}[sub]
    arrays = [rng.standard_normal(s) for s in concrete]
    xs = [th.tensor(f"x{k}", s, "float64") for k, s in enumerate(shapes)]
    grads = th.grad(th.sum(th.einsum(sub, *xs)), xs)
    got = th.function(xs, grads)(*arrays)
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    torch.einsum(sub, *ts).sum().backward()
    for g, t in zip(got, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10)


def test_solve_follows_numpy_2_for_b():
    a = th.tensor("a", (2, 3, 3), "float64")
    assert th.solve(a, th.tensor("b", (3,), "float64")).type.shape == (2, 3)
    assert th.solve(a, th.tensor("b", (3, 2), "float64")).type.shape == (2, 3, 2)
    with pytest.raises(ShapeError, match="rows 2 != 3"):
        th.solve(a, th.tensor("b", (2, 3), "float64"))   # a batch of matrices, as in NumPy 2


def test_linalg_dtypes():
    assert th.inv(th.tensor("a", (3, 3), "int32")).dtype == "float64"
    assert th.det(th.tensor("a", (3, 3), "float32")).dtype == "float32"
    with pytest.raises(DTypeError, match="float16"):
        th.inv(th.tensor("a", (3, 3), "float16"))


def test_slogdet_of_negative_determinant():
    a = th.tensor("a", (2, 3, 3), "float64")
    x = -np.eye(3)[None].repeat(2, 0) * np.array([1.0, 2.0])[:, None, None]
    sign, logabs = th.function([a], list(th.slogdet(a)))(x)
    np.testing.assert_allclose(sign, [-1, -1])
    np.testing.assert_allclose(logabs, [0, 3 * np.log(2)])


def test_cholesky_gradient_matches_torch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 3))
    w = rng.standard_normal((2, 3, 3))
    a = th.tensor("a", x.shape, "float64")
    spd = a @ th.matrix_transpose(a) + th.constant(3 * np.eye(3))
    cost = th.sum(th.cholesky(spd) * th.constant(w))
    got = th.function([a], th.grad(cost, a))(x)
    t = torch.tensor(x, requires_grad=True)
    (torch.linalg.cholesky(t @ t.mT + 3 * torch.eye(3, dtype=torch.float64)) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_inverse_hessian_vector_product_runs():
    # second derivatives through inv: d/dA of <grad_A sum(inv(A)), V>
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    v = rng.standard_normal((3, 3))
    a = th.tensor("a", (3, 3), "float64")
    g = th.grad(th.sum(th.inv(a)), a)
    hv = th.grad(th.sum(g * th.constant(v)), a)
    got = th.function([a], hv)(x)
    t = torch.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.linalg.inv(t).sum(), t, create_graph=True)
    (want,) = torch.autograd.grad((gt * torch.tensor(v)).sum(), t)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-8, atol=1e-10)
