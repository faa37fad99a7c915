"""Op-table rows: the fused ops the compiler makes, against torch's unfused composition."""
import numpy as np
import torch
import torch.nn.functional as F

import theon as th
from theon.codegen.chain import Chain, Step
from theon.codegen.conv_pool import ConvReluPool
from theon.codegen.op import FusedElementwise
from theon.ops.nn_conv import Conv
from theon.ops.nn_fused import conv_relu
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
