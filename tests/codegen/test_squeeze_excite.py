"""The generated squeeze-and-excitation kernel (theon/codegen/squeeze_excite.py): one real
build in a cache of this module's own, whose values equal the block's ATen calls and torch's
layers to float32 rounding (gates clipped at 0 and 1 exactly), on plain and channels-last inputs, batch 1 and more."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from theon import config
from theon.codegen import cache
from theon.codegen.squeeze_excite import SqueezeExcite


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    saved = config.CODEGEN, config.CACHE_DIR
    config.CODEGEN, config.CACHE_DIR = "auto", str(tmp_path_factory.mktemp("cache"))
    cache.forget()
    x, w1, b1, w2, b2 = torch.zeros(1, 4, 2, 2), torch.zeros(2, 4, 1, 1), torch.zeros(2), torch.zeros(4, 2, 1, 1), torch.zeros(4)
    SqueezeExcite().kernel(x, w1, b1, w2, b2)      # starts the build
    assert cache.wait(600)
    yield
    cache.forget()
    config.CODEGEN, config.CACHE_DIR = saved


def _torch(x, w1, b1, w2, b2, alpha, beta):
    g = F.conv2d(F.relu(F.conv2d(x.mean((2, 3), keepdim=True), w1, b1)), w2, b2)
    return x * torch.clamp(g * alpha + beta, 0, 1)


@pytest.mark.parametrize("shape,reduced,alpha,beta", [((1, 88, 3, 96), 22, 0.2, 0.5), ((3, 40, 5, 7), 10, 1 / 6, 0.5),
                                                      ((1, 8, 1, 1), 2, 0.2, 0.5)])
def test_values_equal_the_aten_calls(built, always_generated, shape, reduced, alpha, beta):
    rng = np.random.default_rng(0)
    c = shape[1]
    x, w1, b1, w2, b2 = (torch.from_numpy(rng.standard_normal(s).astype(np.float32))
                         for s in (shape, (reduced, c, 1, 1), (reduced,), (c, reduced, 1, 1), (c,)))
    b2[0], b2[1] = -100.0, 100.0     # gates clipped at 0 and at 1, the others between
    op = SqueezeExcite(alpha=alpha, beta=beta)
    ref = _torch(x, w1, b1, w2, b2, alpha, beta)
    for xi in (x, x.contiguous(memory_format=torch.channels_last)):
        got = op.kernel(xi, w1, b1, w2, b2)
        # float32 rounding through two layers of sums (the kernel sums in double)
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(op.unfused(xi, w1, b1, w2, b2), ref, rtol=1e-5, atol=1e-5)
    assert (got[:, 0] == 0).all() and torch.equal(got[:, 1], x[:, 1])
