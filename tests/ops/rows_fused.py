"""Op-table rows: the fused ops the compiler makes, against torch's unfused composition."""
import numpy as np
import torch
import torch.nn.functional as F

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
