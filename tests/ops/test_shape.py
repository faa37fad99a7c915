"""Shape ops beyond the op table: unknown dims, symbolic shapes, views, dtype promotion,
multi-output split, and the errors users see."""
import numpy as np
import pytest
import torch

import theon as th
from theon.errors import ShapeError
from theon.testing import verify_grad


def run(inputs, outputs, *arrays):
    return th.function(inputs, outputs)(*arrays)


# ---- reshape ------------------------------------------------------------------------------

def test_reshape_with_unknown_batch_infers_the_rest():
    x = th.tensor("x", (None, 784))
    y = th.reshape(x, (-1, 28, 28))
    assert y.type.shape == (None, 28, 28)
    out, = run([x], [y], np.zeros((5, 784), "float32"))
    assert out.shape == (5, 28, 28)


def test_reshape_back_with_own_symbolic_dim_solves_minus_one():
    x = th.tensor("x", (None, 28, 28))
    y = x.reshape(x.shape[0], -1)
    assert y.type.shape == (None, 784)
    out, = run([x], [y], np.ones((3, 28, 28), "float32"))
    assert out.shape == (3, 784)


def test_reshape_with_another_tensors_dim():
    x, z = th.tensor("x", (None, 6)), th.tensor("z", (None,))
    y = th.reshape(x, (z.shape[0], -1))
    assert y.type.shape == (None, None)
    a = np.arange(12.0, dtype="float32").reshape(2, 6)
    out, = run([x, z], [y], a, np.zeros(4, "float32"))
    np.testing.assert_array_equal(out, a.reshape(4, 3))


def test_reshape_spellings_share_one_node_and_identity_is_free():
    x = th.tensor("x", (3, 4))
    assert th.reshape(x, (-1,)) is th.reshape(x, 12) is x.ravel() is x.flatten()
    assert th.reshape(x, (3, -1)) is x
    assert x.reshape(4, 3) is x.reshape((4, 3))


def test_reshape_error_names_shapes_and_line():
    x = th.tensor("x", (None, 6))
    with pytest.raises(ShapeError, match=r"\(\?, 6\) into shape \(4, 5\)") as info:
        th.reshape(x, (4, 5))
    assert "test_shape.py" in str(info.value)


def test_reshape_gradient_keeps_unknown_dims():
    x = th.tensor("x", (None, 6), "float64")
    g = th.grad(th.sum(th.reshape(x, (-1, 2, 3)) ** 2), x)
    assert g.type == x.type
    a = np.random.default_rng(0).standard_normal((4, 6))
    np.testing.assert_allclose(run([x], [g], a)[0], 2 * a)


# ---- axes ---------------------------------------------------------------------------------

def test_transpose_methods_and_views():
    x = th.tensor("x", (2, 3, 4))
    assert x.T.type.shape == (4, 3, 2)
    assert x.transpose(1, 0, 2).type.shape == (3, 2, 4)
    assert x.transpose((1, 0, 2)) is x.transpose(1, 0, 2)
    assert th.transpose(x, (0, 1, 2)) is x
    assert x.T.owner.op.view and th.reshape(x, (6, 4)).owner.op.view
    a = np.arange(24.0, dtype="float32").reshape(2, 3, 4)
    np.testing.assert_array_equal(run([x], [th.moveaxis(x, 0, -1)], a)[0], np.moveaxis(a, 0, -1))


def test_squeeze_and_expand_dims_with_unknown_dims():
    x = th.tensor("x", (None, 1, 3), "float64")
    s = th.squeeze(x, 1)
    assert s.type.shape == (None, 3)
    e = th.expand_dims(s, (0, -1))
    assert e.type.shape == (1, None, 3, 1)
    g = th.grad(th.sum(e * e), x)
    assert g.type == x.type
    a = np.ones((2, 1, 3))
    np.testing.assert_allclose(run([x], [g], a)[0], 2 * a)


def test_squeeze_all_needs_known_dims():
    with pytest.raises(ShapeError, match="pass axis="):
        th.squeeze(th.tensor("x", (None, 1)))
    assert th.tensor("y", (1, 3, 1)).squeeze().type.shape == (3,)


def test_squeeze_of_unknown_dim_checks_at_run_time():
    x = th.tensor("x", (None, 3))
    f = th.function([x], th.squeeze(x, 0))
    assert f(np.ones((1, 3), "float32")).shape == (3,)
    with pytest.raises(Exception, match="not 1"):
        f(np.ones((2, 3), "float32"))


# ---- broadcast_to -------------------------------------------------------------------------

def test_broadcast_to_symbolic_dim():
    x, b = th.tensor("x", (None, 5)), th.tensor("b", (3,), "float64")
    y = th.broadcast_to(b, (x.shape[0], 3))
    assert y.type.shape == (None, 3) and y.dtype == "float64"
    out, = run([x, b], [y], np.zeros((4, 5), "float32"), np.arange(3.0))
    np.testing.assert_array_equal(out, np.broadcast_to(np.arange(3.0), (4, 3)))
    verify_grad(lambda v: th.broadcast_to(v, (2, 4, 3)), [np.arange(4.0).reshape(4, 1)], order=2)


def test_broadcast_to_fills_known_dims_and_rejects_bad_ones():
    x = th.tensor("x", (3, 1))
    d = th.tensor("n", (None,)).shape[0]
    assert th.broadcast_to(x, (d, d)).type.shape == (3, None)
    with pytest.raises(ShapeError, match=r"\(3, 1\) to shape \(2, 4\)"):
        th.broadcast_to(x, (2, 4))


# ---- concatenate / stack / split ------------------------------------------------------------

@pytest.mark.parametrize("dtypes", [("int32", "float32"), ("bool", "int8"), ("int64", "float16")])
def test_join_promotes_like_numpy(dtypes):
    arrays = [np.ones((2, 2), d) for d in dtypes]
    xs = [th.tensor(f"x{i}", (2, 2), d) for i, d in enumerate(dtypes)]
    for fn, ref in [(th.concatenate, np.concatenate), (th.stack, np.stack)]:
        y = fn(xs)
        out, = run(xs, [y], *arrays)
        assert y.dtype == ref(arrays).dtype == out.dtype


def test_concatenate_with_unknown_dims_and_exact_gradient_types():
    a, b = th.tensor("a", (None, 3), "float64"), th.tensor("b", (2, None), "float64")
    y = th.concatenate([a, b], axis=1)
    assert y.type.shape == (2, None)
    ga, gb = th.grad(th.sum(y * y), [a, b])
    assert ga.type == a.type and gb.type == b.type
    va, vb = np.arange(6.0).reshape(2, 3), np.arange(4.0).reshape(2, 2)
    got = run([a, b], [ga, gb], va, vb)
    np.testing.assert_allclose(got[0], 2 * va)
    np.testing.assert_allclose(got[1], 2 * vb)


def test_split_returns_views_and_unused_pieces_get_zero_gradient():
    x = th.tensor("x", (6, 2), "float64")
    parts = th.split(x, 3)
    assert isinstance(parts, list) and len(parts) == 3
    assert parts[0].owner is parts[2].owner and parts[0].owner.op.view
    g = th.grad(th.sum(parts[1] * 3.0), x)
    out, = run([x], [g], np.ones((6, 2)))
    np.testing.assert_array_equal(out, np.array([[0, 0], [0, 0], [3, 3], [3, 3], [0, 0], [0, 0]]))


def test_split_of_unknown_dim_checks_division_at_run_time():
    x = th.tensor("x", (None,))
    parts = th.split(x, 2)
    assert [p.type.shape for p in parts] == [(None,), (None,)]
    f = th.function([x], parts)
    np.testing.assert_array_equal(f(np.arange(4.0, dtype="float32"))[1], [2.0, 3.0])
    with pytest.raises(Exception, match="does not divide"):
        f(np.arange(5.0, dtype="float32"))


def test_split_known_bad_division_names_shape():
    with pytest.raises(ShapeError, match=r"size 5 does not divide into 2.*\(5,\)"):
        th.split(th.tensor("x", (5,)), 2)


# ---- flip / roll / tile / repeat / pad ------------------------------------------------------

def test_rearranging_keeps_integer_dtypes_and_unknown_dims():
    x = th.tensor("x", (None, 3), "int32")
    a = np.arange(6, dtype="int32").reshape(2, 3)
    cases = [(th.flip(x, 1), np.flip(a, 1)), (th.roll(x, 2), np.roll(a, 2)),
             (th.tile(x, (2, 1)), np.tile(a, (2, 1))), (th.repeat(x, 2, axis=0), np.repeat(a, 2, axis=0)),
             (th.pad(x, 2, mode="reflect"), np.pad(a, 2, mode="reflect")),
             (th.pad(x, ((1, 0), (0, 2)), constant_values=-1), np.pad(a, ((1, 0), (0, 2)), constant_values=-1))]
    outs = run([x], [c for c, _ in cases], a)
    for (y, want), got in zip(cases, outs):
        assert y.dtype == "int32" and y.type.shape[0] is None
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode", ["edge", "reflect", "symmetric", "wrap"])
def test_pad_gradients_match_torch_autograd(mode):
    a = np.random.default_rng(1).standard_normal((2, 3))
    widths = ((4, 1), (2, 5))
    x = th.tensor("x", (None, None), "float64")
    w = np.random.default_rng(2).standard_normal(np.pad(a, widths, mode=mode).shape)
    g = th.grad(th.sum(th.pad(x, widths, mode=mode) * th.constant(w)), x)
    ours, = run([x], [g], a)
    # the reference: autograd through NumPy's index pattern of the same pad
    idx = np.pad(np.arange(a.size).reshape(a.shape), widths, mode=mode)
    t = torch.tensor(a, requires_grad=True)
    (t.reshape(-1)[torch.from_numpy(idx)] * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(ours, t.grad.numpy())


def test_pad_rejects_bad_arguments():
    x = th.tensor("x", (2, 3))
    with pytest.raises(ValueError, match="not supported"):
        th.pad(x, 1, mode="median")
    with pytest.raises(ValueError, match="negative"):
        th.pad(x, -1)
    with pytest.raises(ShapeError, match="empty axis"):
        th.pad(th.tensor("e", (0, 3)), 1, mode="wrap")


def test_tile_and_repeat_promote_rank_and_flatten_like_numpy():
    x = th.tensor("x", (2, 3), "float64")
    assert th.tile(x, (2, 1, 1)).type.shape == (2, 2, 3)
    assert th.repeat(x, 2).type.shape == (12,)
    with pytest.raises(ShapeError, match="2 repeat counts for axis 0 of size 6"):
        th.repeat(x, [1, 2])
