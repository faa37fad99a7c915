"""A user's own operator: one class with infer, kernel and a symbolic gradient."""
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch

import theon as th
from theon.errors import ShapeError


@dataclass(frozen=True)
class ScaledSoftsign(th.Op):
    """y = scale * x / (1 + |x|), written as a user would."""
    scale: float = 1.0
    name: ClassVar[str] = "scaled_softsign"

    def infer(self, x):
        if x.ndim == 0:
            raise ShapeError("scaled_softsign wants at least one dimension")
        return [x.type]

    def kernel(self, x):
        return self.scale * x / (1 + x.abs())

    def grad(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        return [g * self.scale / ((1 + abs(x)) * (1 + abs(x)))]


def scaled_softsign(x, scale=1.0):
    return ScaledSoftsign(float(scale))(x)


def test_custom_op_computes_differentiates_and_compiles():
    x = th.tensor("x", (None,), "float64")
    y = scaled_softsign(x, 2.0)
    a = np.array([-3.0, 0.5, 2.0])
    np.testing.assert_allclose(th.function([x], y)(a), 2 * a / (1 + np.abs(a)))
    th.testing.verify_grad(lambda v: scaled_softsign(v, 2.0), [a])
    th.testing.verify_grad(lambda v: scaled_softsign(v, 2.0), [a], order=2, rtol=1e-3)


def test_custom_op_errors_name_the_users_line():
    s = th.tensor("s", ())
    with pytest.raises(ShapeError) as info:
        scaled_softsign(s)
    assert "scaled_softsign" in str(info.value) and f"{__file__}:" in str(info.value)


def test_custom_op_equal_attributes_share_a_node():
    x = th.tensor("x", (3,))
    assert scaled_softsign(x, 2) is scaled_softsign(x, 2.0)
    assert scaled_softsign(x, 2) is not scaled_softsign(x, 3)


def test_verify_grad_uses_computed_shapes_when_inference_leaves_dims_unknown():
    @dataclass(frozen=True)
    class Twice(th.Op):  # inference that does not know the output length
        name: ClassVar[str] = "twice_unknown"

        def infer(self, x):
            return [th.TensorType(x.dtype, (None,))]

        def kernel(self, x):
            return torch.cat([x, x])

        def grad(self, inputs, outputs, output_grads):
            (x,), (g,) = inputs, output_grads
            n = x.type.shape[0]
            return [g[:n] + g[n:]]

    th.testing.verify_grad(lambda x: Twice()(x), [np.array([1.0, 2.0, 3.0])])
