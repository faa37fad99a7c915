"""Each layer: output shape (inferred by the layer, by the graph, and real), parameter count
against the torch module's, values against torch.nn.functional with the same weights, and a
finite-difference gradient check in float64 (inputs and parameters)."""
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import theon as th
from theon import nn
from theon.errors import ShapeError
from theon.graph import replace
from theon.testing import verify_grad

RNG = np.random.default_rng(0)


def W(layer, key):
    return torch.from_numpy(layer.param(key).get_value())


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def same_pads(n, k, s, d=1):
    """TensorFlow's 'same' padding, written independently of theon's."""
    out = math.ceil(n / s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def pad2d(x, ph, pw, value=0.0):
    return F.pad(x, (pw[0], pw[1], ph[0], ph[1]), value=value)


@dataclass
class Case:
    id: str
    make: Callable            # (**kwargs) -> layer
    shape: tuple              # input shape with the batch dim
    ref: Callable             # (torch input, layer) -> torch output
    torch_module: Callable = None  # () -> the torch module with the same parameters
    training: bool = False
    indices: int = 0          # > 0: integer inputs below this
    grad: bool = True


def _conv_same_ref(x, layer):
    k, s = layer.kernel_size, layer.strides
    ph, pw = same_pads(x.shape[2], k[0], s[0]), same_pads(x.shape[3], k[1], s[1])
    return F.conv2d(pad2d(x, ph, pw), W(layer, "kernel"), W(layer, "bias"), stride=s)


def _transpose_same_ref(x, layer):
    full = F.conv_transpose2d(x, W(layer, "kernel"), W(layer, "bias"), stride=layer.strides)
    k, s = layer.kernel_size[0], layer.strides[0]
    n = x.shape[2] * s
    t = k - s
    if t < 0:  # the full output is short: torch's output_padding adds the missing rows
        return F.conv_transpose2d(x, W(layer, "kernel"), W(layer, "bias"), stride=s, output_padding=-t)
    return full[:, :, t // 2:t // 2 + n, t // 2:t // 2 + n]


def _pool_same_ref(x, layer, kind):
    k, s = layer.pool_size, layer.strides
    ph, pw = same_pads(x.shape[2], k[0], s[0]), same_pads(x.shape[3], k[1], s[1])
    if kind == "max":
        return F.max_pool2d(pad2d(x, ph, pw, -math.inf), k, s)
    summed = F.avg_pool2d(pad2d(x, ph, pw), k, s)
    counts = F.avg_pool2d(pad2d(torch.ones_like(x), ph, pw), k, s)
    return summed / counts


def _bn_train_ref(x, layer):
    rm, rv = torch.zeros(x.shape[1], dtype=x.dtype), torch.ones(x.shape[1], dtype=x.dtype)
    return F.batch_norm(x, rm, rv, W(layer, "gamma"), W(layer, "beta"), training=True, momentum=0.1)


CASES = [
    Case("dense", lambda **k: nn.Dense(5, activation="tanh", **k), (3, 4),
         lambda x, l: torch.tanh(F.linear(x, W(l, "kernel").T, W(l, "bias"))), lambda: torch.nn.Linear(4, 5)),
    Case("dense_3d_no_bias", lambda **k: nn.Dense(2, use_bias=False, **k), (2, 3, 4),
         lambda x, l: x @ W(l, "kernel"), lambda: torch.nn.Linear(4, 2, bias=False)),
    Case("conv1d", lambda **k: nn.Conv1D(4, 3, strides=2, **k), (2, 3, 9),
         lambda x, l: F.conv1d(x, W(l, "kernel"), W(l, "bias"), stride=2), lambda: torch.nn.Conv1d(3, 4, 3)),
    Case("conv2d_same_dilated_grouped", lambda **k: nn.Conv2D(4, 3, padding="same", dilation=2, groups=2,
                                                             activation="relu", **k), (2, 2, 6, 6),
         lambda x, l: F.relu(F.conv2d(x, W(l, "kernel"), W(l, "bias"), padding="same", dilation=2, groups=2)),
         lambda: torch.nn.Conv2d(2, 4, 3, dilation=2, groups=2)),
    Case("conv2d_same_even_kernel", lambda **k: nn.Conv2D(2, 2, padding="same", **k), (1, 2, 5, 5),
         lambda x, l: F.conv2d(x, W(l, "kernel"), W(l, "bias"), padding="same"),
         lambda: torch.nn.Conv2d(2, 2, 2)),
    Case("conv2d_same_strided", lambda **k: nn.Conv2D(3, (3, 2), strides=2, padding="same", **k), (2, 2, 7, 8),
         _conv_same_ref, lambda: torch.nn.Conv2d(2, 3, (3, 2))),
    Case("conv2d_int_padding", lambda **k: nn.Conv2D(2, 3, padding=1, strides=(1, 2), **k), (2, 1, 5, 6),
         lambda x, l: F.conv2d(x, W(l, "kernel"), W(l, "bias"), stride=(1, 2), padding=1),
         lambda: torch.nn.Conv2d(1, 2, 3)),
    Case("conv3d", lambda **k: nn.Conv3D(2, 2, **k), (1, 2, 3, 4, 3),
         lambda x, l: F.conv3d(x, W(l, "kernel"), W(l, "bias")), lambda: torch.nn.Conv3d(2, 2, 2)),
    Case("conv2d_transpose", lambda **k: nn.Conv2DTranspose(3, 3, strides=2, **k), (2, 2, 3, 3),
         lambda x, l: F.conv_transpose2d(x, W(l, "kernel"), W(l, "bias"), stride=2),
         lambda: torch.nn.ConvTranspose2d(2, 3, 3)),
    Case("conv2d_transpose_padded", lambda **k: nn.Conv2DTranspose(2, 3, strides=2, padding=1,
                                                                  output_padding=1, **k), (1, 2, 3, 3),
         lambda x, l: F.conv_transpose2d(x, W(l, "kernel"), W(l, "bias"), stride=2, padding=1,
                                         output_padding=1),
         lambda: torch.nn.ConvTranspose2d(2, 2, 3)),
    Case("conv2d_transpose_same", lambda **k: nn.Conv2DTranspose(2, 4, strides=2, padding="same", **k),
         (1, 2, 3, 3), _transpose_same_ref, lambda: torch.nn.ConvTranspose2d(2, 2, 4)),
    Case("conv2d_transpose_same_odd", lambda **k: nn.Conv2DTranspose(2, 3, strides=2, padding="same", **k),
         (1, 2, 3, 3), _transpose_same_ref, lambda: torch.nn.ConvTranspose2d(2, 2, 3)),
    Case("conv2d_transpose_same_short", lambda **k: nn.Conv2DTranspose(2, 1, strides=3, padding="same", **k),
         (1, 2, 2, 2), _transpose_same_ref, lambda: torch.nn.ConvTranspose2d(2, 2, 1)),
    Case("depthwise", lambda **k: nn.DepthwiseConv2D(3, depth_multiplier=2, **k), (2, 3, 5, 5),
         lambda x, l: F.conv2d(x, W(l, "kernel"), W(l, "bias"), groups=3),
         lambda: torch.nn.Conv2d(3, 6, 3, groups=3)),
    Case("max_pool", lambda **k: nn.MaxPool2D(2, **k), (2, 3, 6, 6), lambda x, l: F.max_pool2d(x, 2)),
    Case("max_pool_same_symmetric", lambda **k: nn.MaxPool2D(3, strides=2, padding="same", **k),
         (2, 2, 7, 7), lambda x, l: _pool_same_ref(x, l, "max")),
    Case("max_pool_same_asymmetric", lambda **k: nn.MaxPool2D(3, strides=2, padding="same", **k),
         (2, 2, 8, 6), lambda x, l: _pool_same_ref(x, l, "max")),
    Case("avg_pool", lambda **k: nn.AvgPool2D((2, 3), strides=1, **k), (2, 2, 4, 5),
         lambda x, l: F.avg_pool2d(x, (2, 3), 1)),
    Case("avg_pool_same_symmetric", lambda **k: nn.AvgPool2D(3, strides=2, padding="same", **k),
         (2, 2, 7, 7), lambda x, l: _pool_same_ref(x, l, "avg")),
    Case("avg_pool_same_asymmetric", lambda **k: nn.AvgPool2D(3, strides=2, padding="same", **k),
         (2, 2, 8, 6), lambda x, l: _pool_same_ref(x, l, "avg")),
    Case("global_avg_pool", lambda **k: nn.GlobalAvgPool2D(**k), (2, 3, 4, 5), lambda x, l: x.mean((2, 3))),
    Case("batch_norm_inference", lambda **k: nn.BatchNorm(**k), (4, 3, 2, 2),
         lambda x, l: F.batch_norm(x, W(l, "running_mean"), W(l, "running_var"), W(l, "gamma"), W(l, "beta")),
         lambda: torch.nn.BatchNorm2d(3)),
    Case("batch_norm_training", lambda **k: nn.BatchNorm(**k), (4, 3, 2, 2), _bn_train_ref,
         lambda: torch.nn.BatchNorm2d(3), training=True),
    # in one process SyncBatchNorm's global batch is the local one: torch's batch norm
    Case("sync_batch_norm_training", lambda **k: nn.SyncBatchNorm(**k), (4, 3, 2, 2), _bn_train_ref,
         lambda: torch.nn.BatchNorm2d(3), training=True),
    Case("sync_batch_norm_inference", lambda **k: nn.SyncBatchNorm(**k), (4, 3, 2, 2),
         lambda x, l: F.batch_norm(x, W(l, "running_mean"), W(l, "running_var"), W(l, "gamma"), W(l, "beta")),
         lambda: torch.nn.BatchNorm2d(3)),
    Case("batch_norm_dense", lambda **k: nn.BatchNorm(eps=1e-3, **k), (5, 3),
         lambda x, l: F.batch_norm(x, torch.zeros(3, dtype=x.dtype), torch.ones(3, dtype=x.dtype),
                                   W(l, "gamma"), W(l, "beta"), training=True, eps=1e-3),
         lambda: torch.nn.BatchNorm1d(3), training=True),
    Case("layer_norm", lambda **k: nn.LayerNorm(**k), (2, 3, 4),
         lambda x, l: F.layer_norm(x, (4,), W(l, "gamma"), W(l, "beta")), lambda: torch.nn.LayerNorm(4)),
    Case("layer_norm_chw", lambda **k: nn.LayerNorm(axis=(1, 2, 3), **k), (2, 2, 3, 3),
         lambda x, l: F.layer_norm(x, (2, 3, 3), W(l, "gamma"), W(l, "beta")),
         lambda: torch.nn.LayerNorm((2, 3, 3))),
    Case("embedding", lambda **k: nn.Embedding(7, 3, **k), (2, 4),
         lambda x, l: F.embedding(x, W(l, "embeddings")), lambda: torch.nn.Embedding(7, 3), indices=7),
    Case("flatten", lambda **k: nn.Flatten(**k), (2, 3, 2, 2), lambda x, l: x.reshape(2, -1)),
    Case("reshape", lambda **k: nn.Reshape((-1, 2), **k), (2, 3, 4), lambda x, l: x.reshape(2, 6, 2)),
    Case("activation_softmax", lambda **k: nn.Activation("softmax", **k), (2, 5),
         lambda x, l: torch.softmax(x, -1)),
    Case("dropout_inference", lambda **k: nn.Dropout(0.5, **k), (2, 5), lambda x, l: x),
]


def _input(case, dtype):
    if case.indices:
        return RNG.integers(0, case.indices, case.shape)
    return RNG.standard_normal(case.shape).astype(dtype)


def _randomise_state(layer, dtype):
    """Non-trivial values for parameters initialised to constants (norm scales, running stats)."""
    for p, key in zip(layer.params, layer._param_keys):
        if key in ("gamma", "beta", "running_mean", "alpha") or key.endswith("bias"):
            p.set_value(RNG.standard_normal(p.type.shape).astype(dtype))
        elif key == "running_var":
            p.set_value(RNG.uniform(0.5, 2.0, p.type.shape).astype(dtype))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_shape_and_values_against_torch(case):
    layer = case.make()
    xs = _input(case, "float32")
    x = th.tensor("x", (None, *case.shape[1:]), xs.dtype.name)
    y = layer(x, training=case.training)
    inferred = tuple(layer.output_shape(case.shape[1:]))
    assert y.type.shape == (None, *inferred)
    _randomise_state(layer, "float32")
    got = th.function([x], y)(xs)
    assert got.shape == (case.shape[0], *inferred)
    assert got.dtype == np.float32
    want = case.ref(torch.from_numpy(xs), layer).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if c.torch_module], ids=lambda c: c.id)
def test_param_count_matches_torch(case):
    layer = case.make()
    layer(th.tensor("x", (None, *case.shape[1:]), "int64" if case.indices else "float32"))
    module = case.torch_module()
    assert sum(int(np.prod(p.type.shape)) for p in layer.trainable_params) == count(module)
    buffers = sum(b.numel() for n, b in module.named_buffers() if n != "num_batches_tracked")
    assert layer.count_params() == count(module) + buffers
    # same names, same shapes as torch's parameters (up to Dense's transposed kernel)
    shapes = sorted(tuple(p.shape) for p in module.parameters())
    ours = sorted(tuple(p.type.shape)[::-1] if isinstance(layer, nn.Dense) and p.ndim == 2
                  else tuple(p.type.shape) for p in layer.trainable_params)
    assert ours == shapes


@pytest.mark.parametrize("case", [c for c in CASES if c.grad], ids=lambda c: c.id)
def test_gradient_float64(case):
    layer = case.make(dtype="float64")
    xs = _input(case, "float64")
    x = th.tensor("x", (None, *case.shape[1:]), xs.dtype.name)
    layer(x)
    assert all(p.dtype == "float64" for p in layer.params)
    _randomise_state(layer, "float64")
    params = [p for p in layer.params if p in layer.trainable_params]
    values = [p.get_value() for p in params]

    def fn(x, *ps):
        y = layer(x, training=case.training)
        return replace([y], dict(zip(params, ps)))[0]

    verify_grad(fn, [xs, *values], rtol=1e-4, atol=1e-6)


# ---- behaviour the table does not cover ------------------------------------------------

def test_dtype_is_inferred_from_the_input():
    d = nn.Dense(3)
    y = d(th.tensor("x", (None, 4), "float64"))
    assert d.kernel.dtype == "float64" and y.dtype == "float64"
    e = nn.Embedding(5, 2)
    assert e(th.tensor("i", (None, 3), "int64")).dtype == "float32"


def test_inputs_are_cast_to_the_layer_dtype():
    d = nn.Dense(3, dtype="float32")
    assert d(th.tensor("x", (None, 4), "float64")).dtype == "float32"


def test_shapes_with_unknown_spatial_dims():
    x = th.tensor("x", (None, 3, None, None))
    conv = nn.Conv2D(4, 3, padding="same")
    assert conv(x).type.shape == (None, 4, None, None)
    assert conv.output_shape((3, None, None)) == (4, None, None)
    assert nn.MaxPool2D(2)(x).type.shape == (None, 3, None, None)
    assert nn.GlobalAvgPool2D()(x).type.shape == (None, 3)
    assert nn.Flatten().output_shape((3, None, None)) == (None,)
    with pytest.raises(ShapeError, match="spatial dims known"):
        nn.Conv2D(4, 3, strides=2, padding="same")(x)


@pytest.mark.parametrize("name,ref", [
    ("relu", F.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("softmax", lambda x: F.softmax(x, -1)),
    ("gelu", F.gelu), ("silu", F.silu), ("elu", F.elu), ("leaky_relu", F.leaky_relu),
    ("linear", lambda x: x), (None, lambda x: x)])
def test_activations_by_name(name, ref):
    xs = RNG.standard_normal((3, 4)).astype("float32")
    x = th.tensor("x", (None, 4))
    got = th.function([x], nn.Activation(name)(x))(xs)
    np.testing.assert_allclose(got, ref(torch.from_numpy(xs)).numpy(), rtol=1e-5, atol=1e-6)


def test_unknown_activation_and_initializer_names():
    with pytest.raises(ValueError, match="unknown activation 'relux'"):
        nn.Dense(3, activation="relux")
    with pytest.raises(ValueError, match="unknown initializer 'glorot'"):
        nn.Dense(3, kernel_initializer="glorot")


def test_dropout_only_in_training_calls():
    layer = nn.Dropout(0.5, seed=1)
    x = th.tensor("x", (None, 1000))
    f = th.function([x], [layer(x), layer(x, training=True)])
    ones = np.ones((4, 1000), "float32")
    inference, training = f(ones)
    np.testing.assert_array_equal(inference, ones)
    assert set(np.unique(training)) <= {0.0, 2.0}
    assert 0.4 < (training == 0).mean() < 0.6


def test_add_and_concatenate():
    a, b = th.tensor("a", (None, 2, 3)), th.tensor("b", (None, 4, 3))
    cat = nn.Concatenate()
    y = cat([a, b])
    assert y.type.shape == (None, 6, 3) and cat.output_shape([(2, 3), (4, 3)]) == (6, 3)
    add = nn.Add()
    z = add([a, a, a])
    av, bv = RNG.standard_normal((2, 2, 3)).astype("float32"), RNG.standard_normal((2, 4, 3)).astype("float32")
    got_cat, got_add = th.function([a, b], [y, z])(av, bv)
    np.testing.assert_allclose(got_cat, np.concatenate([av, bv], 1))
    np.testing.assert_allclose(got_add, 3 * av, rtol=1e-6)
    with pytest.raises(ShapeError, match="share one shape"):
        add.output_shape([(2, 3), (4, 3)])
    with pytest.raises(TypeError, match="takes a list"):
        nn.Add()(a)
    with pytest.raises(TypeError, match="takes one tensor"):
        nn.Dense(2)([a, b])


def test_concatenate_and_add_gradients():
    verify_grad(lambda a, b: nn.Concatenate(axis=-1)([a, b]), [RNG.standard_normal((2, 3)),
                                                              RNG.standard_normal((2, 2))])
    verify_grad(lambda a, b: nn.Add()([a, b]), [RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))])


def test_bad_inputs_name_the_layer():
    with pytest.raises(ShapeError, match=r"'c'.*expects inputs \(N, C, H, W\)"):
        nn.Conv2D(2, 3, name="c")(th.tensor("x", (None, 5)))
    with pytest.raises(ShapeError, match="needs the last input dim known"):
        nn.Dense(2)(th.tensor("x", (None, None)))
    with pytest.raises(ValueError, match="not divisible by groups"):
        nn.Conv2D(3, 3, groups=2)


def test_param_names_and_flags():
    bn = nn.BatchNorm(name="bn")
    bn(th.tensor("x", (None, 3, 4, 4)))
    assert [p.name for p in bn.params] == ["bn/gamma", "bn/beta", "bn/running_mean", "bn/running_var"]
    assert [p.name for p in bn.trainable_params] == ["bn/gamma", "bn/beta"]
    bn.trainable = False
    assert bn.trainable_params == [] and len(bn.non_trainable_params) == 4
    with pytest.raises(KeyError, match="no parameter 'kernel'"):
        bn.param("kernel")


def test_auto_names_count_per_class():
    a, b, c = nn.Dense(1), nn.Dense(1), nn.Conv2DTranspose(1, 1)
    ia, ib = int(a.name.split("_")[-1]), int(b.name.split("_")[-1])
    assert a.name.startswith("dense_") and ib == ia + 1
    assert c.name.startswith("conv2d_transpose_")


# ---- initializers ------------------------------------------------------------------------

def test_initializer_statistics():
    rng = np.random.default_rng(0)
    g = nn.initializers.get("glorot_uniform")((200, 300), "float32", rng)
    assert g.dtype == np.float32 and np.abs(g).max() <= math.sqrt(6 / 500)
    assert abs(g.std() - math.sqrt(2 / 500)) < 0.01 * math.sqrt(2 / 500) * 10
    h = nn.initializers.get("he_normal")((64, 32, 3, 3), "float64", rng)  # conv layout: fan_in 32 * 9
    assert abs(h.std() - math.sqrt(2 / 288)) < 0.02
    hu = nn.initializers.get("he_uniform")((400, 100), "float64", rng)  # dense (in, out): fan_in 400
    assert np.abs(hu).max() <= math.sqrt(6 / 400)
    gn = nn.initializers.get("glorot_normal")((300, 300), "float64", rng)
    assert abs(gn.std() - math.sqrt(2 / 600)) < 0.005
    assert (nn.initializers.get("zeros")((3,), "float32") == 0).all()
    assert (nn.initializers.get("ones")((3,), "float32") == 1).all()


@pytest.mark.parametrize("name", ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
                                  "random_uniform", "random_normal"])
def test_large_weights_get_the_values_of_one_draw(name):
    # a large weight is drawn in chunks (its float64 sample never exists whole); the values
    # must be those of drawing the whole shape at once and casting, as for a small weight
    init = nn.initializers.get(name)
    shape = (3 * 65536 + 5, 2)                       # several chunks and a short last one
    fan_in, fan_out = nn.initializers.compute_fans(shape)
    whole = init.sample(shape, np.random.default_rng(7), fan_in, fan_out).astype(np.float32)
    got = init(shape, "float32", np.random.default_rng(7))
    assert got.shape == shape and got.dtype == np.float32
    np.testing.assert_array_equal(got, whole)


@pytest.mark.parametrize("shape", [(5, 5), (4, 9), (9, 4), (6, 2, 3)])
def test_orthogonal(shape):
    q = nn.initializers.get("orthogonal")(shape, "float64", np.random.default_rng(0)).reshape(shape[0], -1)
    small = min(q.shape)
    gram = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-10)


def test_callable_initializer_takes_what_it_names():
    layer = nn.Dense(3, kernel_initializer=lambda shape, dtype: np.full(shape, 0.5, dtype))
    layer(th.tensor("x", (None, 2)))
    assert (layer.kernel.get_value() == 0.5).all()
    seen = {}

    def init(shape, rng, fan_in):
        seen["fan_in"] = fan_in
        return rng.standard_normal(shape)

    conv = nn.Conv2D(4, 3, kernel_initializer=init)
    conv(th.tensor("x", (None, 2, 5, 5)))
    assert seen["fan_in"] == 2 * 9 and conv.kernel.dtype == "float32"


def test_layer_seed_gives_the_same_weights():
    a, b = nn.Dense(4, seed=7), nn.Dense(4, seed=7)
    x = th.tensor("x", (None, 3))
    a(x), b(x)
    np.testing.assert_array_equal(a.kernel.get_value(), b.kernel.get_value())
    c = nn.Dense(4, seed=8)
    c(x)
    assert not np.array_equal(a.kernel.get_value(), c.kernel.get_value())
