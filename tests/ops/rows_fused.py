"""Op-table rows: the fused ops the compiler makes, against torch's unfused composition."""
import numpy as np
import torch
import torch.nn.functional as F

import theon as th
from theon.codegen.chain import Chain, Step
from theon.codegen.conv_pool import ConvReluPool
from theon.codegen.direct_conv import DirectConv
from theon.codegen.op import FusedElementwise
from theon.codegen.squeeze_excite import SqueezeExcite
from theon.ops.nn_conv import Conv
from theon.ops.nn_fused import conv_relu, hard_swish
from theon.testing import OpInfo, Sample, rand


def _conv_relu(x, w, b, stride=(1, 1), padding=(0, 0), groups=1):
    return conv_relu(x, w, b, Conv(stride=stride, padding=padding, groups=groups))


def _conv_relu_ref(x, w, b, stride=(1, 1), padding=(0, 0), groups=1):
    t = [torch.from_numpy(a) for a in (x, w, b)]
    return F.relu(F.conv2d(*t, stride=stride, padding=padding, groups=groups)).numpy()


def _samples(rng):
    out = []
    for dtype in ("float32", "float64"):  # float64 takes the unfused path
        x, b = rand(rng, 2, 4, 7, 7, dtype=dtype), rand(rng, 6, dtype=dtype)
        grad = dtype == "float64"  # finite differences need float64
        out.append(Sample((x, rand(rng, 6, 4, 3, 3, dtype=dtype), b), grad=grad))
        out.append(Sample((x, rand(rng, 6, 2, 3, 3, dtype=dtype), b),
                          {"padding": (1, 1), "stride": (2, 2), "groups": 2}, grad=grad))
    return out


ROWS = [OpInfo("conv_relu", _conv_relu, _conv_relu_ref, _samples, grad_args=None, rtol=1e-5, atol=1e-5)]


def _hard_swish_samples(rng):
    # away from the kinks at +-3, where finite differences straddle the corner
    x = np.array([-5.0, -2.5, -1.0, 0.0, 0.5, 2.9, 3.5, 7.0])
    return [Sample((x.astype(dtype),), grad=dtype == "float64") for dtype in ("float32", "float64")] + [
        Sample((rand(rng, 3, 4, dtype="float64") * 8,), grad=True)]


ROWS.append(OpInfo("hard_swish", hard_swish, lambda x: x * np.clip(x + 3, 0, 6) / 6, _hard_swish_samples))


# ---- conv_relu_pool: made by the fuse_conv_pool pass; its gradient graph holds the
# index-keeping twin and max_pool_scatter. Run here through the unfused kernels
# (THEON_CODEGEN is off in tests; tests/codegen/test_conv_pool.py builds the generated one)

def _conv_relu_pool(x, w, b, padding=(0, 0), pool=(2, 2)):
    return ConvReluPool(padding, pool)(x, w, b)


def _conv_relu_pool_ref(x, w, b, padding=(0, 0), pool=(2, 2)):
    t = [torch.from_numpy(a) for a in (x, w, b)]
    return F.max_pool2d(F.relu(F.conv2d(*t, padding=padding)), pool).numpy()


def _pool_samples(rng):
    out = []
    for dtype in ("float32", "float64"):
        grad = dtype == "float64"
        out.append(Sample((rand(rng, 2, 1, 8, 8, dtype=dtype), rand(rng, 3, 1, 3, 3, dtype=dtype),
                           rand(rng, 3, dtype=dtype)), {"padding": (1, 1)}, grad=grad))
        out.append(Sample((rand(rng, 2, 2, 7, 9, dtype=dtype), rand(rng, 4, 2, 2, 3, dtype=dtype),
                           rand(rng, 4, dtype=dtype)), {"pool": (3, 2)}, grad=grad))
    return out


ROWS.append(OpInfo("conv_relu_pool", _conv_relu_pool, _conv_relu_pool_ref, _pool_samples, grad_args=None,
                   rtol=1e-5, atol=1e-5))


# ---- direct_conv: made by the fuse_direct_conv pass from a convolution with few input
# channels per group and its activation. Run here through ATen's kernels (THEON_CODEGEN is
# off in tests; tests/codegen/test_direct_conv.py builds the generated one)

def _direct_conv(x, w, b, stride=(1, 1), padding=(0, 0), groups=1, activation=""):
    return DirectConv(stride=stride, padding=padding, groups=groups, activation=activation)(x, w, b)


def _direct_conv_ref(x, w, b, stride=(1, 1), padding=(0, 0), groups=1, activation=""):
    t = [torch.from_numpy(a) for a in (x, w, b)]
    y = F.conv2d(*t, stride=stride, padding=padding, groups=groups)
    return {"": y, "relu": F.relu(y), "hard_swish": F.hardswish(y)}[activation].numpy()


def _direct_samples(rng):
    out = []
    for dtype in ("float32", "float64"):
        grad = dtype == "float64"
        x = rand(rng, 2, 4, 7, 9, dtype=dtype)
        out.append(Sample((x, rand(rng, 4, 1, 3, 3, dtype=dtype), rand(rng, 4, dtype=dtype)),
                          {"padding": (1, 1), "stride": (2, 1), "groups": 4, "activation": "hard_swish"}, grad=grad))
        out.append(Sample((x, rand(rng, 4, 1, 5, 5, dtype=dtype), rand(rng, 4, dtype=dtype)),
                          {"padding": (2, 2), "groups": 4, "activation": "relu"}, grad=grad))
        out.append(Sample((rand(rng, 1, 3, 8, 10, dtype=dtype), rand(rng, 5, 3, 3, 3, dtype=dtype),
                           rand(rng, 5, dtype=dtype)), {"stride": (2, 2), "padding": (1, 1)}, grad=grad))
    return out


ROWS.append(OpInfo("direct_conv", _direct_conv, _direct_conv_ref, _direct_samples, grad_args=None,
                   rtol=1e-5, atol=1e-5))


# ---- squeeze_excite: made by the fuse_squeeze_excite pass from a squeeze-and-excitation
# block with a hard-sigmoid gate; run here through ATen's calls (THEON_CODEGEN is off in
# tests; tests/codegen/test_squeeze_excite.py builds the generated kernel)

def _squeeze_excite(x, w1, b1, w2, b2, alpha=0.2, beta=0.5):
    return SqueezeExcite(alpha=alpha, beta=beta)(x, w1, b1, w2, b2)


def _squeeze_excite_ref(x, w1, b1, w2, b2, alpha=0.2, beta=0.5):
    t = [torch.from_numpy(a) for a in (x, w1, b1, w2, b2)]
    g = F.conv2d(F.relu(F.conv2d(t[0].mean((2, 3), keepdim=True), t[1], t[2])), t[3], t[4])
    return (t[0] * torch.clamp(g * alpha + beta, 0, 1)).numpy()


def _se_samples(rng):
    out = []
    for dtype in ("float32", "float64"):
        w = [rand(rng, 3, 8, 1, 1, dtype=dtype), rand(rng, 3, dtype=dtype), rand(rng, 8, 3, 1, 1, dtype=dtype) * 4,
             rand(rng, 8, dtype=dtype)]
        out.append(Sample((rand(rng, 2, 8, 3, 5, dtype=dtype), *w), grad=dtype == "float64"))
        out.append(Sample((rand(rng, 1, 8, 1, 4, dtype=dtype), *w), {"alpha": 1 / 6, "beta": 0.5},
                          grad=dtype == "float64"))
    return out


ROWS.append(OpInfo("squeeze_excite", _squeeze_excite, _squeeze_excite_ref, _se_samples, grad_args=None,
                   rtol=1e-5, atol=1e-5))


# ---- fused_elementwise: a generated kernel's chain (tanh GELU times a scalar), run here
# through the chain's own ops (THEON_CODEGEN is off in tests; tests/codegen builds kernels)

def _gelu_chain(dtype):
    mul, add, tanh = th.multiply.op(), th.add.op(), th.tanh.op()
    steps = [Step(mul, (0, 0)), Step(mul, (2, 0)), Step(mul, (3, 0.044715)), Step(add, (0, 4)),
             Step(mul, (5, 0.7978845608028654)), Step(tanh, (6,)), Step(add, (7, 1.0)),
             Step(mul, (0, 8)), Step(mul, (9, 0.5)), Step(mul, (10, 1))]
    return Chain(dtype, (False, True), tuple(steps))


def _fused_gelu(x, s):
    return FusedElementwise(_gelu_chain(x.dtype), tuple(x.type.shape))(x, s)


def _fused_gelu_ref(x, s):
    c = np.asarray(0.7978845608028654, x.dtype)
    return x * (1 + np.tanh(c * (x + np.asarray(0.044715, x.dtype) * x * x * x))) * x.dtype.type(0.5) * s


def _fused_samples(rng):
    return [Sample((rand(rng, 3, 5, dtype=dtype), rand(rng, dtype=dtype)), grad=dtype == "float64")
            for dtype in ("float32", "float64")]


ROWS.append(OpInfo("fused_elementwise", _fused_gelu, _fused_gelu_ref, _fused_samples))
