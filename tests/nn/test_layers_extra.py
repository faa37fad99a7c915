"""The layers an importer needs (PReLU, SeparableConv2D, global max pooling, GroupNorm,
UpSampling2D, ZeroPadding2D, Cropping2D, MultiHeadAttention, LocalResponseNormalization,
ReLU/ELU/Softmax with arguments), as rows of the layer table of test_layers.py (shape, values
against torch with the same weights, parameter count, float64 gradients), plus the
behaviour a row cannot show."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import theon as th
from theon import nn
from theon.errors import ShapeError

from . import test_layers as table
from .test_layers import Case, W, pad2d, same_pads

RNG = np.random.default_rng(1)


def _separable_ref(x, layer, padding=0):
    y = F.conv2d(x, W(layer, "depthwise_kernel"), None, stride=layer.strides, padding=padding,
                 dilation=layer.dilation, groups=x.shape[1])
    return F.conv2d(y, W(layer, "pointwise_kernel"), W(layer, "bias"))


def _separable_same_ref(x, layer):
    k, s = layer.kernel_size, layer.strides
    ph, pw = same_pads(x.shape[2], k[0], s[0]), same_pads(x.shape[3], k[1], s[1])
    return _separable_ref(pad2d(x, ph, pw), layer)


def _separable_module(c, middle, filters, k):
    return lambda: torch.nn.Sequential(torch.nn.Conv2d(c, middle, k, groups=c, bias=False),
                                       torch.nn.Conv2d(middle, filters, 1))


def _mha_module(layer, dtype):
    m = torch.nn.MultiheadAttention(layer.embed_dim, layer.num_heads, batch_first=True, dtype=dtype,
                                    bias=layer.use_bias)
    m.load_state_dict({key: W(layer, key) for key in layer._param_keys})
    return m


def _mha_ref(x, layer):
    m = _mha_module(layer, x.dtype)
    mask = None
    if layer.causal:
        mask = torch.nn.Transformer.generate_square_subsequent_mask(x.shape[1], dtype=x.dtype)
    with torch.no_grad():
        return m(x, x, x, attn_mask=mask, need_weights=False, is_causal=layer.causal)[0]


def _lrn_within_ref(x, layer):
    mean_sq = F.avg_pool2d(x * x, layer.size, 1, (layer.size - 1) // 2, count_include_pad=True)
    return x / (layer.k + layer.alpha * mean_sq) ** layer.beta


EXTRA = [
    Case("relu_leaky_capped", lambda **k: nn.ReLU(negative_slope=0.1, max_value=1.5, **k), (2, 3, 4),
         lambda x, l: torch.clamp(F.leaky_relu(x, 0.1), max=1.5)),
    Case("elu_alpha", lambda **k: nn.ELU(0.5, **k), (2, 5), lambda x, l: F.elu(x, 0.5)),
    Case("softmax_channels", lambda **k: nn.Softmax(axis=1, **k), (2, 3, 4, 2),
         lambda x, l: torch.softmax(x, 1)),
    Case("prelu_channelwise", lambda **k: nn.PReLU(**k), (2, 3, 4, 4),
         lambda x, l: F.prelu(x, W(l, "alpha")), lambda: torch.nn.PReLU(3)),
    Case("prelu_shared_dense", lambda **k: nn.PReLU(channelwise=False, **k), (4, 5),
         lambda x, l: F.prelu(x, W(l, "alpha")), lambda: torch.nn.PReLU()),
    Case("separable_conv", lambda **k: nn.SeparableConv2D(3, 3, depth_multiplier=2, dilation=(1, 2), **k),
         (1, 2, 4, 6), _separable_ref, _separable_module(2, 4, 3, 3)),
    Case("separable_conv_same_strided", lambda **k: nn.SeparableConv2D(3, (3, 2), strides=2, padding="same",
                                                                      activation="relu", **k),
         (1, 2, 5, 4), lambda x, l: F.relu(_separable_same_ref(x, l)), _separable_module(2, 2, 3, (3, 2))),
    Case("global_max_pool1d", lambda **k: nn.GlobalMaxPool1D(**k), (2, 3, 7), lambda x, l: x.amax(2)),
    Case("global_max_pool2d_keepdims", lambda **k: nn.GlobalMaxPool2D(keepdims=True, **k), (2, 3, 4, 5),
         lambda x, l: x.amax((2, 3), keepdim=True)),
    Case("global_avg_pool1d", lambda **k: nn.GlobalAvgPool1D(**k), (2, 3, 7), lambda x, l: x.mean(2)),
    Case("group_norm", lambda **k: nn.GroupNorm(2, **k), (3, 6, 4, 3),
         lambda x, l: F.group_norm(x, 2, W(l, "gamma"), W(l, "beta")), lambda: torch.nn.GroupNorm(2, 6)),
    Case("group_norm_1d_one_group", lambda **k: nn.GroupNorm(1, eps=1e-3, **k), (2, 4, 5),
         lambda x, l: F.group_norm(x, 1, W(l, "gamma"), W(l, "beta"), eps=1e-3),
         lambda: torch.nn.GroupNorm(1, 4)),
    Case("upsampling_nearest", lambda **k: nn.UpSampling2D((2, 3), **k), (2, 3, 4, 5),
         lambda x, l: F.interpolate(x, scale_factor=(2, 3), mode="nearest")),
    Case("upsampling_bilinear", lambda **k: nn.UpSampling2D(2, interpolation="bilinear", **k), (2, 2, 5, 3),
         lambda x, l: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)),
    Case("upsampling_bilinear_uneven", lambda **k: nn.UpSampling2D((3, 1), interpolation="bilinear", **k),
         (1, 2, 4, 3), lambda x, l: F.interpolate(x, scale_factor=(3, 1), mode="bilinear", align_corners=False)),
    Case("zero_padding", lambda **k: nn.ZeroPadding2D(((1, 2), (0, 3)), **k), (2, 3, 4, 5),
         lambda x, l: F.pad(x, (0, 3, 1, 2))),
    Case("zero_padding_int", lambda **k: nn.ZeroPadding2D(1, **k), (2, 1, 3, 3), lambda x, l: F.pad(x, (1,) * 4)),
    Case("cropping", lambda **k: nn.Cropping2D(((1, 0), (2, 1)), **k), (2, 3, 5, 6),
         lambda x, l: x[:, :, 1:, 2:-1]),
    Case("lrn_across", lambda **k: nn.LocalResponseNormalization(5, alpha=0.5, beta=0.75, k=2.0, **k),
         (1, 6, 3, 2), lambda x, l: F.local_response_norm(x, 5, 0.5, 0.75, 2.0)),
    Case("lrn_across_even_rank3", lambda **k: nn.LocalResponseNormalization(4, alpha=0.3, beta=0.6, **k),
         (2, 6, 5), lambda x, l: F.local_response_norm(x, 4, 0.3, 0.6, 1.0)),
    Case("lrn_within", lambda **k: nn.LocalResponseNormalization(3, alpha=0.4, beta=0.75, region="within", **k),
         (1, 2, 4, 3), _lrn_within_ref),
    Case("multi_head_attention", lambda **k: nn.MultiHeadAttention(4, 2, **k), (2, 3, 4), _mha_ref,
         lambda: torch.nn.MultiheadAttention(4, 2)),
    Case("multi_head_attention_causal_no_bias", lambda **k: nn.MultiHeadAttention(6, 3, causal=True,
                                                                                 use_bias=False, **k),
         (1, 4, 6), _mha_ref, lambda: torch.nn.MultiheadAttention(6, 3, bias=False)),
    # the convolutions an importer meets beyond the basic rows of test_layers.py
    Case("conv1d_same_dilated_grouped", lambda **k: nn.Conv1D(4, 3, padding="same", dilation=2, groups=2, **k),
         (2, 2, 9), lambda x, l: F.conv1d(x, W(l, "kernel"), W(l, "bias"), padding="same", dilation=2, groups=2),
         lambda: torch.nn.Conv1d(2, 4, 3, groups=2)),
    Case("conv3d_strided_padded_grouped", lambda **k: nn.Conv3D(2, (2, 2, 3), strides=(1, 2, 2), padding=1,
                                                               groups=2, **k), (1, 2, 2, 3, 4),
         lambda x, l: F.conv3d(x, W(l, "kernel"), W(l, "bias"), stride=(1, 2, 2), padding=1, groups=2),
         lambda: torch.nn.Conv3d(2, 2, (2, 2, 3), groups=2)),
    Case("depthwise_strided_padded", lambda **k: nn.DepthwiseConv2D(3, strides=2, padding=1, **k), (1, 2, 5, 4),
         lambda x, l: F.conv2d(x, W(l, "kernel"), W(l, "bias"), stride=2, padding=1, groups=2),
         lambda: torch.nn.Conv2d(2, 2, 3, groups=2)),
]


@pytest.mark.parametrize("case", EXTRA, ids=lambda c: c.id)
def test_shape_and_values_against_torch(case):
    table.test_shape_and_values_against_torch(case)


@pytest.mark.parametrize("case", [c for c in EXTRA if c.torch_module], ids=lambda c: c.id)
def test_param_count_matches_torch(case):
    table.test_param_count_matches_torch(case)


@pytest.mark.parametrize("case", [c for c in EXTRA if c.grad], ids=lambda c: c.id)
def test_gradient_float64(case):
    table.test_gradient_float64(case)


@pytest.mark.parametrize("case", EXTRA, ids=lambda c: c.id)
def test_config_round_trip(case):
    layer = case.make(name="probe")
    config = layer.get_config()
    again = nn.layer_from_config({"class_name": type(layer).__name__, "config": config})
    assert type(again) is type(layer) and again.get_config() == config


# ---- float64 values: 1e-10 against torch ---------------------------------------------------

@pytest.mark.parametrize("case", [c for c in EXTRA if "attention" in c.id or "lrn" in c.id
                                  or "group_norm" in c.id or "bilinear" in c.id], ids=lambda c: c.id)
def test_float64_values_against_torch(case):
    layer = case.make(dtype="float64")
    xs = RNG.standard_normal(case.shape)
    x = th.tensor("x", (None, *case.shape[1:]), "float64")
    y = layer(x)
    table._randomise_state(layer, "float64")
    got = th.function([x], y)(xs)
    np.testing.assert_allclose(got, case.ref(torch.from_numpy(xs), layer).numpy(), rtol=1e-10, atol=1e-12)


# ---- multi-head attention beyond self-attention ---------------------------------------------

def test_cross_attention_with_other_key_and_value_sizes():
    layer = nn.MultiHeadAttention(8, 4, name="cross")
    q, k, v = th.tensor("q", (None, 3, 8)), th.tensor("k", (None, 5, 6)), th.tensor("v", (None, 5, 4))
    y = layer([q, k, v])
    assert y.type.shape == (None, 3, 8)
    assert [p.name for p in layer.params] == ["cross/q_proj_weight", "cross/k_proj_weight", "cross/v_proj_weight",
                                              "cross/in_proj_bias", "cross/out_proj.weight", "cross/out_proj.bias"]
    table._randomise_state(layer, "float32")
    qs, ks, vs = (RNG.standard_normal(s).astype("float32") for s in [(2, 3, 8), (2, 5, 6), (2, 5, 4)])
    got = th.function([q, k, v], y)(qs, ks, vs)
    m = torch.nn.MultiheadAttention(8, 4, batch_first=True, kdim=6, vdim=4)
    m.load_state_dict({key: W(layer, key) for key in layer._param_keys})
    with torch.no_grad():
        want = m(*map(torch.from_numpy, (qs, ks, vs)), need_weights=False)[0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_attention_with_one_key_value_tensor_and_dropout_in_training():
    layer = nn.MultiHeadAttention(4, 2, dropout=0.5, seed=3)
    q, kv = th.tensor("q", (None, 2, 4)), th.tensor("kv", (None, 6, 4))
    inference, training = layer([q, kv]), layer([q, kv], training=True)
    f = th.function([q, kv], [inference, training])
    qs, kvs = RNG.standard_normal((3, 2, 4)).astype("float32"), RNG.standard_normal((3, 6, 4)).astype("float32")
    a, b = f(qs, kvs)
    m = _mha_module(layer, torch.float32)
    with torch.no_grad():
        want = m(torch.from_numpy(qs), torch.from_numpy(kvs), torch.from_numpy(kvs), need_weights=False)[0]
    np.testing.assert_allclose(a, want.numpy(), rtol=1e-4, atol=1e-5)
    assert not np.allclose(a, b)  # dropout on the attention weights changes the training output


def test_attention_rejects_mismatched_inputs():
    layer = nn.MultiHeadAttention(8, 2, name="att")
    with pytest.raises(ShapeError, match="'att'.*query needs 8 features"):
        layer(th.tensor("x", (None, 3, 6)))
    with pytest.raises(ValueError, match="multiple of num_heads"):
        nn.MultiHeadAttention(6, 4)
    with pytest.raises(TypeError, match=r"\[query, key, value\]"):
        nn.MultiHeadAttention(4, 2)([th.tensor("a", (None, 2, 4))] * 4)


# ---- local response normalisation: how alpha is scaled ----------------------------------------

def _caffe_lrn_across(x, size, alpha, beta, k):
    """Caffe's LRNLayer (ACROSS_CHANNELS) as its source computes it: scale = k + alpha / size
    times the sum of squares over channels c - (size - 1) / 2 .. c + (size - 1) / 2."""
    c = x.shape[1]
    pre = (size - 1) // 2
    sq = np.pad(x * x, ((0, 0), (pre, size - 1 - pre), (0, 0), (0, 0)))
    total = sum(sq[:, i:i + c] for i in range(size))
    return x * (k + alpha / size * total) ** -beta


def _tensorflow_lrn(x, depth_radius, bias, alpha, beta):
    """tf.nn.local_response_normalization's documented formula (channels first here):
    sqr_sum = sum of squares over c - r .. c + r; out = x / (bias + alpha * sqr_sum) ** beta."""
    c = x.shape[1]
    sq = np.pad(x * x, ((0, 0), (depth_radius, depth_radius), (0, 0), (0, 0)))
    total = sum(sq[:, i:i + c] for i in range(2 * depth_radius + 1))
    return x / (bias + alpha * total) ** beta


def test_lrn_alpha_is_divided_by_the_size_as_in_caffe_and_torch_not_tensorflow():
    xs = RNG.standard_normal((2, 7, 3, 3)) * 3
    layer = nn.LocalResponseNormalization(5, alpha=1e-2, beta=0.75, k=2.0, dtype="float64")
    x = th.tensor("x", (None, 7, 3, 3), "float64")
    got = th.function([x], layer(x))(xs)
    caffe = _caffe_lrn_across(xs, 5, 1e-2, 0.75, 2.0)
    torch_lrn = F.local_response_norm(torch.from_numpy(xs), 5, 1e-2, 0.75, 2.0).numpy()
    np.testing.assert_allclose(got, caffe, rtol=1e-12)
    np.testing.assert_allclose(torch_lrn, caffe, rtol=1e-12)  # torch and Caffe agree for odd sizes
    # TensorFlow's alpha is per element of the sum: its alpha = ours / size
    np.testing.assert_allclose(_tensorflow_lrn(xs, 2, 2.0, 1e-2 / 5, 0.75), caffe, rtol=1e-12)
    assert not np.allclose(_tensorflow_lrn(xs, 2, 2.0, 1e-2, 0.75), caffe, rtol=1e-3)


def test_lrn_and_group_norm_bad_inputs():
    with pytest.raises(ValueError, match="odd size"):
        nn.LocalResponseNormalization(4, region="within")
    with pytest.raises(ShapeError, match="rank >= 3"):
        nn.LocalResponseNormalization()(th.tensor("x", (None, 4)))
    with pytest.raises(ShapeError, match="not divisible by groups=4"):
        nn.GroupNorm(4)(th.tensor("x", (None, 6, 2, 2)))


# ---- shapes: unknown dims, errors ------------------------------------------------------------

def test_spatial_layers_with_unknown_dims():
    x = th.tensor("x", (None, 3, None, None))
    assert nn.UpSampling2D(2)(x).type.shape == (None, 3, None, None)
    assert nn.ZeroPadding2D(1)(x).type.shape == (None, 3, None, None)
    assert nn.Cropping2D(1)(x).type.shape == (None, 3, None, None)
    assert nn.GlobalMaxPool2D()(x).type.shape == (None, 3)
    with pytest.raises(ShapeError, match="bilinear interpolation needs H and W known"):
        nn.UpSampling2D(2, interpolation="bilinear")(x)
    with pytest.raises(ShapeError, match="leaves nothing of H = 2"):
        nn.Cropping2D(1)(th.tensor("y", (None, 3, 2, 5)))
    with pytest.raises(ShapeError, match=r"expects inputs \(N, C, H, W\)"):
        nn.ZeroPadding2D(1)(th.tensor("z", (None, 3, 4)))


def test_upsampling_and_cropping_at_run_time_sizes():
    x = th.tensor("x", (None, 2, None, None))
    f = th.function([x], [nn.UpSampling2D((2, 1))(x), nn.Cropping2D(((1, 1), (0, 2)))(x)])
    xs = RNG.standard_normal((1, 2, 4, 5)).astype("float32")
    up, crop = f(xs)
    np.testing.assert_array_equal(up, np.repeat(xs, 2, axis=2))
    np.testing.assert_array_equal(crop, xs[:, :, 1:3, :3])


def test_prelu_learns_per_channel_slopes_in_a_model():
    layer = nn.PReLU(init=0.1)
    x = th.tensor("x", (None, 2, 3))
    y = layer(x)
    layer.alpha.set_value(np.array([0.5, -1.0], "float32"))
    xs = -np.ones((1, 2, 3), "float32")
    np.testing.assert_array_equal(th.function([x], y)(xs)[0], [[-0.5] * 3, [1.0] * 3])
    assert math.isclose(nn.PReLU(init=0.1).get_config()["init"], 0.1)
