"""The generated bias-and-activation pass of the formulate pass's pointwise convolutions
(theon/codegen/pointwise_conv.py): one real build in a cache of this module's own, whose
values equal PointwiseConv's ATen calls and torch's conv2d with its activation, batch 1 and
more, with and without a bias, NaN kept; inputs it does not take run ATen's calls."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import theon as th
from theon import config
from theon.codegen import cache
from theon.codegen.pointwise_conv import GeneratedPointwiseConv
from theon.ops.nn_conv_pointwise import PointwiseConv


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    saved = config.CODEGEN, config.CACHE_DIR
    config.CODEGEN, config.CACHE_DIR = "auto", str(tmp_path_factory.mktemp("cache"))
    cache.forget()
    GeneratedPointwiseConv().kernel(torch.zeros(1, 2, 2, 2), torch.zeros(3, 2), torch.zeros(3))  # starts the build
    assert cache.wait(600)
    yield
    cache.forget()
    config.CODEGEN, config.CACHE_DIR = saved


def _torch(x, w, b, activation):
    y = F.conv2d(x, w[:, :, None, None], b)
    return {"": y, "relu": F.relu(y), "hard_swish": F.hardswish(y)}[activation]


@pytest.mark.parametrize("shape,co,activation,bias", [
    ((1, 32, 2, 96), 200, "hard_swish", True),    # the PP-OCR classifier's widest layer
    ((3, 8, 5, 7), 16, "relu", True),             # a batch: the rows of each image's channels
    ((1, 16, 3, 4), 8, "", True),                 # the bias alone
    ((2, 6, 4, 4), 5, "hard_swish", False),       # the activation alone
])
def test_values_equal_the_aten_calls(built, always_generated, shape, co, activation, bias):
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal(shape).astype(np.float32)) * 3
    x[0, 0, 0, 0] = float("nan")                  # a NaN reaches every output channel of that pixel
    w = torch.from_numpy(rng.standard_normal((co, shape[1])).astype(np.float32))
    b = torch.from_numpy(rng.standard_normal(co).astype(np.float32)) if bias else None
    op = GeneratedPointwiseConv(activation=activation)
    assert op._generated(x, w, b) is not None     # the built pass runs, not ATen's calls
    got = op.kernel(x, w, b)
    assert got.shape == (shape[0], co, *shape[2:]) and got.is_contiguous()
    # the same product, the bias added after it (addmm's rounding up to where it adds it)
    torch.testing.assert_close(got, PointwiseConv(activation=activation).kernel(x, w, b),
                               rtol=1e-6, atol=1e-6, equal_nan=True)
    torch.testing.assert_close(got, _torch(x, w, b, activation), rtol=1e-4, atol=1e-4, equal_nan=True)
    assert torch.isnan(got[0, :, 0, 0]).all()


def test_inputs_it_does_not_take_run_atens_calls(built, always_generated):
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.standard_normal((2, 8, 3, 5)).astype(np.float32))
    w, b = torch.from_numpy(rng.standard_normal((4, 8)).astype(np.float32)), torch.ones(4)
    op = GeneratedPointwiseConv(activation="relu")
    for xi in (x.contiguous(memory_format=torch.channels_last), x.double()):
        assert op._generated(xi, w.to(xi.dtype), b.to(xi.dtype)) is None
        torch.testing.assert_close(op.kernel(xi, w.to(xi.dtype), b.to(xi.dtype)),
                                   _torch(xi, w.to(xi.dtype), b.to(xi.dtype), "relu"), rtol=1e-5, atol=1e-5)


def test_the_formulate_pass_makes_it_and_the_program_shows_it(built):
    rng = np.random.default_rng(2)
    x = th.tensor("x", (None, 6, 4, 4))
    w = th.shared(rng.standard_normal((10, 6, 1, 1)).astype(np.float32), name="w")
    b = th.shared(rng.standard_normal(10).astype(np.float32), name="b")
    y = th.nn.conv2d(x, w, b)
    f = th.function([x], y * th.clip(y + 3.0, 0.0, 6.0) / 6.0)   # hard-swish as imported
    v = rng.standard_normal((2, 6, 4, 4)).astype(np.float32)
    want = _torch(torch.from_numpy(v), torch.from_numpy(w.get_value()[:, :, 0, 0]), torch.from_numpy(b.get_value()),
                  "hard_swish")
    for _ in range(3):    # the first call, the timing call, then the chosen kernel's
        np.testing.assert_allclose(f(v), want.numpy(), rtol=1e-4, atol=1e-5)
    ops = [type(n.op) for n in f.last_program.schedule]
    assert ops[-1] is GeneratedPointwiseConv and len(ops) <= 2   # and the weight's reshape to a matrix
    assert "pointwise_conv(activation='hard_swish')" in f.source


def test_each_weight_shape_and_bias_gets_its_own_verdict(built):
    # equal ops are one object (nodes are hash-consed): two layers on one input shape with
    # different weights, or one with a bias and one without, must not share a timing
    op = GeneratedPointwiseConv(activation="relu")
    x = torch.ones(1, 4, 3, 3)
    for w, b in ((torch.ones(6, 4), torch.ones(6)), (torch.ones(2, 4), torch.ones(2)), (torch.ones(2, 4), None)):
        for _ in range(2):    # the second call times the two candidates
            torch.testing.assert_close(op.kernel(x, w, b), _torch(x, w, b, "relu"))
    assert len(op._choice) == 3
