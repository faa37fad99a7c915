"""Focused tests of the neural-network ops: what the op table cannot express (errors with
unknown dims, the backward ops' own gradients, torch.autograd as an oracle for first and
second derivatives, dropout's randomness, running statistics as updates)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import theon as th
from theon.errors import ShapeError
from theon.ops import nn
from theon.ops.nn_conv import ConvBackwardInput, ConvBackwardWeight
from theon.ops.nn_loss import CrossEntropyBackward
from theon.ops.nn_misc import EmbeddingBackward
from theon.ops.random import RandomState
from theon.ops.nn_pool import AdaptiveAvgPool2dBackward, AvgPool2dBackward, MaxPool2dBackward, MaxPool2dSelect
from theon.testing import verify_grad

RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape)


def T(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


# ---- shapes and errors ------------------------------------------------------------------

def test_conv_infers_shapes_with_unknown_dims():
    x = th.tensor("x", (None, 3, None, 32), "float32")
    w = th.tensor("w", (8, 3, 5, 5), "float32")
    assert nn.conv2d(x, w, stride=2, padding=2).type.shape == (None, 8, None, 16)
    assert nn.conv2d(x, w, padding="same").type.shape == (None, 8, None, 32)
    w_unknown = th.tensor("w", (8, 3, None, None), "float32")
    assert nn.conv2d(x, w_unknown, padding="same").type.shape == (None, 8, None, 32)
    assert nn.conv2d(x, w_unknown).type.shape == (None, 8, None, None)
    wt = th.tensor("wt", (3, 4, 3, 3), "float32")
    assert nn.conv_transpose2d(x, wt, stride=2, padding=1, output_padding=1).type.shape == (None, 4, None, 64)


def test_conv_channel_mismatch_names_both_shapes_and_line():
    x = th.tensor("x", (None, 3, 28, 28), "float32")
    w = th.tensor("w", (16, 4, 5, 5), "float32")
    with pytest.raises(ShapeError) as info:
        nn.conv2d(x, w)
    msg = str(info.value)
    assert "input (?, 3, 28, 28) has 3 channels but weight (16, 4, 5, 5) expects 4" in msg
    assert "test_nn.py" in msg


def test_kernel_larger_than_padded_input():
    x = th.tensor("x", (1, 1, 4, 4), "float32")
    with pytest.raises(ShapeError, match=r"window of size 5 is larger than the padded input \(size 4 \+ 2\*0"):
        nn.conv2d(x, th.tensor("w", (1, 1, 5, 5), "float32"))
    nn.conv2d(x, th.tensor("w", (1, 1, 5, 5), "float32"), padding=1)  # fits once padded
    with pytest.raises(ShapeError, match=r"dilated|window of size 5"):
        nn.conv2d(x, th.tensor("w", (1, 1, 3, 3), "float32"), dilation=2)
    with pytest.raises(ShapeError, match="larger than the padded input"):
        nn.max_pool2d(x, 5)


def test_argument_errors():
    x = th.tensor("x", (1, 2, 6, 6), "float32")
    w = th.tensor("w", (2, 2, 3, 3), "float32")
    with pytest.raises(ValueError, match="stride 1"):
        nn.conv2d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match="'same', 'valid'"):
        nn.conv2d(x, w, padding="full")
    with pytest.raises(ValueError, match="output_padding"):
        nn.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="at most half"):
        nn.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="reduction"):
        nn.mse(x, x, reduction="avg")
    with pytest.raises(ValueError, match="not both"):
        nn.scaled_dot_product_attention(x, x, x, mask=np.ones((6, 6), bool), is_causal=True)
    with pytest.raises(ValueError, match="rate"):
        nn.dropout(x, 1.5)


def test_int_inputs_become_float():
    x = th.tensor("x", (2, 3), "int64")
    assert nn.softmax(x).dtype == "float64"
    assert nn.linear(th.tensor("x", (2, 3), "float32"), np.ones((4, 3), "float32")).dtype == "float32"


# ---- each backward op's own gradient (what second derivatives are made of) -----------------

CONV_CASES = [
    (nn.conv2d, (1, 2, 5, 5), (3, 2, 3, 3), {"stride": 2, "padding": 1}),
    (nn.conv2d, (1, 2, 4, 4), (2, 2, 2, 3), {"padding": "same"}),  # run-time asymmetric padding
    (nn.conv_transpose2d, (1, 2, 3, 3), (2, 2, 3, 3), {"stride": 2, "output_padding": 1}),
    (nn.conv1d, (2, 4, 6), (2, 2, 3), {"groups": 2, "dilation": 2}),
]


@pytest.mark.parametrize("fn, xs, ws, kw", CONV_CASES)
def test_conv_backward_ops_differentiate(fn, xs, ws, kw):
    x, w = randn(*xs), randn(*ws)
    y = fn(th.tensor("x", xs, "float64"), th.tensor("w", ws, "float64"), **kw)
    conv = y.owner.op
    g = randn(*y.type.shape)
    attrs = conv.attrs()
    verify_grad(lambda g_, w_, x_: ConvBackwardInput(**attrs)(g_, w_, x_), [g, w, x], wrt=[0, 1])
    verify_grad(lambda g_, x_, w_: ConvBackwardWeight(**attrs)(g_, x_, w_), [g, x, w], wrt=[0, 1])


def test_pool_backward_ops_differentiate():
    x = RNG.permutation(50).reshape(1, 2, 5, 5) / 10.0
    attrs = {"kernel_size": (3, 3), "stride": (2, 2), "padding": (1, 1), "ceil_mode": True,
             "dilation": (1, 1)}
    g = randn(1, 2, 3, 3)
    idx = torch.ops.aten.max_pool2d_with_indices(torch.from_numpy(x), (3, 3), (2, 2), (1, 1), (1, 1),
                                                 True)[1].numpy()
    verify_grad(lambda g_, x_, i_: MaxPool2dBackward(**attrs)(g_, x_, i_), [g, x, idx], wrt=[0])
    verify_grad(lambda v_, i_: MaxPool2dSelect(**attrs)(v_, i_), [randn(1, 2, 5, 5), idx], wrt=[0])
    avg = {"kernel_size": (3, 3), "stride": (2, 2), "padding": (1, 1), "ceil_mode": True,
           "count_include_pad": False, "divisor_override": None}
    verify_grad(lambda g_, x_: AvgPool2dBackward(**avg)(g_, x_), [g, x], wrt=[0])
    verify_grad(lambda g_, x_: AdaptiveAvgPool2dBackward((2, 3))(g_, x_), [randn(1, 2, 2, 3), x], wrt=[0])


def test_embedding_and_cross_entropy_backward_ops_differentiate():
    idx = np.array([[0, 2, 2], [3, 1, 0]])
    verify_grad(lambda g_, i_, w_: EmbeddingBackward(2)(g_, i_, w_), [randn(2, 3, 4), idx, randn(4, 4)],
                wrt=[0])
    labels = np.array([1, 0, 3])
    verify_grad(lambda g_, z_, y_: CrossEntropyBackward(1, 0.1)(g_, z_, y_),
                [randn(3), randn(3, 4), labels], wrt=[0, 1])


# ---- torch.autograd as the oracle ---------------------------------------------------------

def _theon_grads(build, arrays, wrt):
    vs = [th.tensor(f"a{i}", a.shape, a.dtype.name) for i, a in enumerate(arrays)]
    cost = build(*vs)
    return th.function(vs, th.grad(cost, [vs[i] for i in wrt]))(*arrays)


def test_conv_pool_net_gradients_match_torch():
    x, w1, b1, w2 = randn(2, 3, 8, 8), randn(4, 3, 3, 3), randn(4), randn(5, 4, 2, 2)

    def net(f, pool, x, w1, b1, w2):
        h = f.relu(f.conv2d(x, w1, b1, padding=1)) if f is F else th.relu(nn.conv2d(x, w1, b1, padding=1))
        h = pool(h)
        return (((F if f is F else nn).conv2d(h, w2, stride=2)) ** 2).sum()

    got = _theon_grads(lambda *v: net(nn, lambda h: nn.max_pool2d(h, 2), *v), [x, w1, b1, w2], [0, 1, 2, 3])
    ts = [T(a, True) for a in (x, w1, b1, w2)]
    want = torch.autograd.grad(net(F, lambda h: F.max_pool2d(h, 2), *ts), ts)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-10, atol=1e-10)


def test_max_pool_ties_route_like_torch():
    x = np.zeros((1, 1, 4, 4))
    got = _theon_grads(lambda v: (nn.max_pool2d(v, 2) * np.arange(4.0).reshape(1, 1, 2, 2)).sum(), [x], [0])
    t = T(x, True)
    (want,) = torch.autograd.grad((F.max_pool2d(t, 2) * torch.arange(4.0).double().reshape(1, 1, 2, 2)).sum(), t)
    np.testing.assert_array_equal(got[0], want.numpy())


@pytest.mark.parametrize("build, ref", [
    (lambda x, w: th.tanh(nn.conv2d(x, w, padding=1)).sum(),
     lambda x, w: torch.tanh(F.conv2d(x, w, padding=1)).sum()),
    (lambda x, w: th.tanh(nn.conv_transpose2d(x, w, stride=2)).sum(),
     lambda x, w: torch.tanh(F.conv_transpose2d(x, w, stride=2)).sum()),
])
def test_conv_second_derivatives_match_torch(build, ref):
    x, w, v = randn(1, 2, 4, 4), randn(2, 2, 3, 3), randn(2, 2, 3, 3)
    xs, ws = th.tensor("x", x.shape, "float64"), th.tensor("w", w.shape, "float64")
    gw = th.grad(build(xs, ws), ws)
    hv = th.grad((gw * v).sum(), [xs, ws])  # d/d(x, w) of <dcost/dw, v>
    got = th.function([xs, ws], hv)(x, w)
    tx, tw = T(x, True), T(w, True)
    (tgw,) = torch.autograd.grad(ref(tx, tw), tw, create_graph=True)
    want = torch.autograd.grad((tgw * T(v)).sum(), [tx, tw])
    for g, wv in zip(got, want):
        np.testing.assert_allclose(g, wv.numpy(), rtol=1e-9, atol=1e-10)


def test_batch_norm_training_gradients_match_torch():
    x, w, b, r = randn(4, 3, 2, 2), randn(3), randn(3), randn(4, 3, 2, 2)
    got = _theon_grads(lambda x_, w_, b_: (nn.batch_norm(x_, None, None, w_, b_, training=True)[0] * r).sum(),
                       [x, w, b], [0, 1, 2])
    ts = [T(a, True) for a in (x, w, b)]
    want = torch.autograd.grad((F.batch_norm(ts[0], None, None, ts[1], ts[2], training=True) * T(r)).sum(), ts)
    for g, wv in zip(got, want):
        np.testing.assert_allclose(g, wv.numpy(), rtol=1e-9, atol=1e-10)


def test_cross_entropy_gradient_is_softmax_minus_smoothed_one_hot():
    z, y = randn(5, 4), np.array([0, 3, 1, 1, 2])
    got = _theon_grads(lambda z_, y_: nn.cross_entropy(z_, y_, label_smoothing=0.2).sum(), [z, y], [0])[0]
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    target = np.eye(4)[y] * 0.8 + 0.2 / 4
    np.testing.assert_allclose(got, p - target, rtol=1e-12, atol=1e-12)


def test_embedding_padding_row_gets_no_gradient():
    idx, w, g = np.array([[1, 2, 1], [0, 1, 3]]), randn(4, 3), randn(2, 3, 3)
    got = _theon_grads(lambda i_, w_: (nn.embedding(i_, w_, padding_idx=1) * g).sum(), [idx, w], [1])[0]
    tw = T(w, True)
    (want,) = torch.autograd.grad((F.embedding(torch.tensor(idx), tw, padding_idx=1) * T(g)).sum(), tw)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-12)
    assert not got[1].any()


def test_issue_example_mean_cross_entropy():
    logits, labels = th.tensor("z", (None, 10)), th.tensor("y", (None,), "int64")
    loss = nn.cross_entropy(logits, labels).mean()
    z, y = randn(6, 10).astype("float32"), RNG.integers(0, 10, 6)
    got = th.function([logits, labels], loss)(z, y)
    np.testing.assert_allclose(got, F.cross_entropy(torch.tensor(z), torch.tensor(y)).item(), rtol=1e-6)


# ---- training-time state and randomness ---------------------------------------------------

def test_batch_norm_running_stats_as_updates():
    rm, rv = th.shared(np.zeros(3), "rm"), th.shared(np.ones(3), "rv")
    x = th.tensor("x", (None, 3, None, None), "float64")
    y, new_mean, new_var = nn.batch_norm(x, rm, rv, training=True, momentum=0.1)
    f = th.function([x], y, updates={rm: new_mean, rv: new_var})
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for shape in [(4, 3, 2, 2), (2, 3, 3, 1)]:
        data = randn(*shape)
        got = f(data)
        want = F.batch_norm(T(data), trm, trv, training=True, momentum=0.1)
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(rm.get_value(), trm.numpy(), rtol=1e-10)
        np.testing.assert_allclose(rv.get_value(), trv.numpy(), rtol=1e-10)
    y_eval = th.function([x], nn.batch_norm(x, rm, rv))(data)
    np.testing.assert_allclose(y_eval, F.batch_norm(T(data), trm, trv).numpy(), rtol=1e-10, atol=1e-12)


def test_dropout_masks_scales_and_changes_per_call():
    x = th.tensor("x", (None, 50), "float32")
    y = nn.dropout(x, 0.3, rng=RandomState(1))
    f = th.function([x], y)
    ones = np.ones((200, 50), "float32")
    a, b = f(ones), f(ones)
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((a == 0).mean() - 0.3) < 0.02
    assert (a != b).any()
    (gx,) = th.function([x], th.grad((y * 1.0).sum(), [x]))(ones)
    assert set(np.unique(gx)) <= {0.0, np.float32(1 / 0.7)}
    assert nn.dropout(x, 0.3, training=False) is x
    assert nn.dropout(x, 0.0) is x
    assert not th.function([x], nn.dropout(x, 1.0))(ones).any()


def test_attention_causal_matches_torch_with_unequal_lengths():
    q, k, v = randn(2, 3, 4), randn(2, 5, 4), randn(2, 5, 2)
    qs, ks, vs = (th.tensor(n, (None, None, 4 if n != "v" else 2), "float64") for n in "qkv")
    got = th.function([qs, ks, vs], nn.scaled_dot_product_attention(qs, ks, vs, is_causal=True))(q, k, v)
    want = F.scaled_dot_product_attention(T(q), T(k), T(v), is_causal=True)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-10)


def test_linear_of_a_strided_sequence_matches_torch():
    # an RNN's time-major output seen batch-first is a strided view: the kernel multiplies
    # a contiguous copy of its rows, which must give torch's values (float32 rounding)
    rng = np.random.default_rng(3)
    seq = rng.standard_normal((7, 5, 16)).astype("float32")
    w = rng.standard_normal((9, 16)).astype("float32")
    b = rng.standard_normal(9).astype("float32")
    x = th.tensor("x", (7, 5, 16))
    f = th.function([x], nn.linear(th.transpose(x, (1, 0, 2)), w, b))
    expected = F.linear(torch.from_numpy(seq).transpose(0, 1), torch.from_numpy(w), torch.from_numpy(b))
    np.testing.assert_allclose(f(seq), expected.numpy(), rtol=1e-5, atol=1e-5)
