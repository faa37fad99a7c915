"""The collectives as graph ops: values and gradients on 2 gloo processes against NumPy,
and in one process (identity, clear errors)."""
import numpy as np
import pytest

import theon as th
from theon.distributed.ops import ReduceScatter
from theon.errors import ShapeError
from tests.distributed import harness


def test_values_and_gradients_on_two_ranks(tmp_path):
    ranks = harness.run("collectives", tmp_path)
    xs = [r["x"] for r in ranks]
    cs = [r["c"] for r in ranks]
    total, csum = xs[0] + xs[1], cs[0] + cs[1]
    for r, got in enumerate(ranks):
        np.testing.assert_array_equal(got["sum"], total)
        np.testing.assert_array_equal(got["mean"], total / 2)
        np.testing.assert_array_equal(got["max"], np.maximum(xs[0], xs[1]))
        np.testing.assert_array_equal(got["bcast"], xs[1])
        np.testing.assert_array_equal(got["reduce"], total if r == 0 else np.zeros_like(total))
        np.testing.assert_array_equal(got["gather"], np.concatenate(xs))
        np.testing.assert_array_equal(got["scatter"], total[2 * r:2 * r + 2])
        # the gradient of the sum over ranks of sum(c_r * collective_r(x)) with respect to x_r
        np.testing.assert_array_equal(got["grad_sum"], csum)
        np.testing.assert_array_equal(got["grad_bcast"], csum if r == 1 else np.zeros_like(csum))
        np.testing.assert_array_equal(got["grad_reduce"], cs[0])   # only rank 0's output carries x
        np.testing.assert_array_equal(got["grad_gather"], csum)
        np.testing.assert_array_equal(got["grad_scatter"], np.concatenate([c[:2] for c in cs]))


def test_one_process_collectives_are_the_identity():
    x = th.tensor("x", (4, 3), "float64")
    outs = [th.distributed.all_reduce(x), th.distributed.all_reduce(x, "mean"),
            th.distributed.broadcast(x), th.distributed.reduce(x), th.distributed.all_gather(x),
            th.distributed.reduce_scatter(x)]
    g = th.grad(th.sum(sum(outs) * x), x)
    value = np.arange(12.0).reshape(4, 3)
    got = th.function([x], outs + [g])(value)
    for out in got[:-1]:
        np.testing.assert_array_equal(out, value)
    np.testing.assert_array_equal(got[-1], 12 * value)
    th.testing.verify_grad(lambda v: th.sum(th.distributed.all_reduce(v) ** 2), [value])


def test_bad_arguments_say_what_was_expected():
    x = th.tensor("x", (3,), "float64")
    with pytest.raises(ValueError, match="reduction must be one of"):
        th.distributed.all_reduce(x, "product")
    with pytest.raises(ValueError, match=r"broadcast: src must be a rank in 0..0, got 1"):
        th.distributed.broadcast(x, src=1)
    with pytest.raises(ShapeError, match="at least one dim"):
        th.distributed.all_gather(th.tensor("s", (), "float64"))
    with pytest.raises(ShapeError, match="its length 3 does not divide by 2"):
        ReduceScatter(world=2)(x)
    with pytest.raises(th.errors.GradientError, match="max.*has no gradient"):
        th.grad(th.sum(th.distributed.all_reduce(x, "max")), x)
