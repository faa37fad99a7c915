"""`th.op`: a new operator from a Python function, with a symbolic gradient."""
import json
import pickle

import numpy as np
import pytest
import torch

import theon as th
from theon import nn
from theon.errors import GradientError, ShapeError
from theon.ops.custom import op_config, op_from_config, registered_op


@th.op
def swish(x, beta: float = 1.0):
    return x * torch.sigmoid(beta * x)


@swish.grad
def _swish_grad(x, y, gy, beta):
    s = th.sigmoid(beta * x)
    return [gy * (s + beta * x * s * (1 - s))]


@th.op(nout=2)
def sincos(x):
    return torch.sin(x), torch.cos(x)


@sincos.grad
def _sincos_grad(x, s, c, gs, gc):
    return [gs * th.cos(x) - gc * th.sin(x)]


@th.op(elementwise=True)
def hypot(a, b):
    return torch.hypot(a, b)


@hypot.grad
def _hypot_grad(a, b, h, gh):
    return [gh * a / h, gh * b / h]


@th.op
def weighted_sum(*xs, weights: tuple = ()):
    return sum(w * x for w, x in zip(weights, xs))


@weighted_sum.grad
def _weighted_sum_grad(inputs, outputs, output_grads, weights):
    return [output_grads[0] * w for w in weights]


@th.op(infer="meta")
def pairwise_sq_dist(a, b):
    return torch.cdist(a, b) ** 2


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def test_issue_example_computes_and_its_gradient_is_checked_to_second_order():
    rng = np.random.default_rng(0)
    x = th.tensor("x", (None, 3), "float64")
    a = rng.standard_normal((4, 3))
    np.testing.assert_allclose(th.function([x], swish(x, beta=2.0))(a), a * _sigmoid(2 * a))
    th.testing.verify_grad(lambda v: swish(v, beta=2.0), [a])
    th.testing.verify_grad(lambda v: swish(v, beta=2.0), [a], order=2, rtol=1e-3)


def test_the_decorator_makes_an_op_class_with_the_attributes_as_fields():
    x = th.tensor("x", (3,))
    y = swish(x, beta=2)
    op = y.owner.op
    assert isinstance(op, th.Op) and type(op) is swish.op_class
    assert op.beta == 2.0 and isinstance(op.beta, float)  # converted to the annotation
    assert swish(x, 2.0) is y and swish(x, beta=2.0) is y  # equal attributes: one node
    assert swish(x, beta=3.0) is not y
    assert swish(x).owner.op.beta == 1.0
    assert y.type == x.type  # inference defaults to the first input's type
    assert str(op) == "swish(beta=2.0)"


def test_attributes_are_checked():
    x = th.tensor("x", (3,))
    with pytest.raises(TypeError, match="'beta' must be float, got str"):
        swish(x, beta="big")
    with pytest.raises(TypeError, match="takes 1 positional|too many"):
        swish(x, 1.0, 2.0)

    @th.op
    def shift(x, *, by: int):  # a keyword-only attribute without a default must be given
        return x + by

    assert shift(x, by=2.0).owner.op.by == 2
    with pytest.raises(TypeError, match="missing a required argument: 'by'"):
        shift(x)
    with pytest.raises(TypeError, match="must be a whole number"):
        shift(x, by=2.5)


def test_several_outputs():
    x = th.tensor("x", (None,), "float64")
    s, c = sincos(x)
    a = np.linspace(-2, 2, 7)
    got = th.function([x], [s, c])(a)
    np.testing.assert_allclose(got[0], np.sin(a))
    np.testing.assert_allclose(got[1], np.cos(a))
    th.testing.verify_grad(lambda v: sincos(v), [a])
    th.testing.verify_grad(lambda v: sincos(v), [a], order=2, rtol=1e-3)


def test_elementwise_ops_broadcast_and_sum_gradients_back():
    a, b = th.tensor("a", (3, 1), "float64"), th.tensor("b", (4,), "float64")
    assert hypot(a, b).type == th.TensorType("float64", (3, 4))
    rng = np.random.default_rng(1)
    av, bv = rng.uniform(1, 2, (3, 1)), rng.uniform(1, 2, (4,))
    np.testing.assert_allclose(th.function([a, b], hypot(a, b))(av, bv), np.hypot(av, bv))
    th.testing.verify_grad(hypot, [av, bv])


def test_any_number_of_inputs():
    xs = [th.tensor(f"x{i}", (2,), "float64") for i in range(3)]
    y = weighted_sum(*xs, weights=(1, 2, 3))
    assert y.owner.op.weights == (1, 2, 3) and len(y.owner.inputs) == 3
    vals = [np.arange(2.0) + i for i in range(3)]
    np.testing.assert_allclose(th.function(xs, y)(*vals), vals[0] + 2 * vals[1] + 3 * vals[2])
    th.testing.verify_grad(lambda *v: weighted_sum(*v, weights=(1.0, -2.0, 0.5)), vals)


def test_inference_given_by_a_function():
    @th.op
    def row_norms(x):
        return torch.linalg.vector_norm(x, dim=1)

    @row_norms.infer
    def _(x):
        return x.type.with_shape(x.type.shape[:1])

    x = th.tensor("x", (None, 3))
    y = row_norms(x)
    assert y.type == th.TensorType("float32", (None,))
    a = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(th.function([x], y)(a), np.linalg.norm(a, axis=1), rtol=1e-6)


def test_inference_derived_from_meta_tensors_keeps_unknown_dims_unknown():
    a, b = th.tensor("a", (None, 3)), th.tensor("b", (5, 3))
    assert pairwise_sq_dist(a, b).type == th.TensorType("float32", (None, 5))
    with pytest.raises(ShapeError) as info:
        pairwise_sq_dist(a, th.tensor("c", (5, 4)))
    msg = str(info.value)
    assert "meta tensors" in msg and "@pairwise_sq_dist.infer" in msg and f"{__file__}:" in msg


def test_missing_or_wrong_gradients_say_what_to_do():
    @th.op
    def no_grad_yet(x):
        return x * 2

    x = th.tensor("x", (3,), "float64")
    with pytest.raises(GradientError, match=r"no_grad_yet has no gradient: define one with @no_grad_yet.grad"):
        th.grad(no_grad_yet(x).sum(), x)

    @no_grad_yet.grad
    def _(x, y, gy):
        return [gy, gy]

    with pytest.raises(GradientError, match="returned 2 gradient"):
        th.grad(no_grad_yet(x).sum(), x)


def test_kernel_per_device_replaces_the_body_there():
    calls = []

    def cpu_kernel(x, scale):
        calls.append(scale)
        return x * scale

    @th.op(kernel={"cpu": cpu_kernel, "cuda": cpu_kernel})
    def scaled(x, scale: float = 1.0):
        raise AssertionError("the body must not run where a device kernel is given")

    x = th.tensor("x", (3,))
    out = th.function([x], scaled(x, scale=3))(np.ones(3, "float32"))
    np.testing.assert_allclose(out, 3.0)
    assert calls == [3.0]  # attributes reach device kernels by position
    with pytest.raises(TypeError, match="device types"):
        th.op(kernel={"gpu0": cpu_kernel})(scaled.fn)


def test_user_op_inside_a_scan_body_compiles_and_differentiates():
    x = th.tensor("x", (None, 2), "float64")

    def step(carry, row):
        new = swish(carry + row, beta=0.5)
        return new, new

    final, _ = th.scan(step, th.zeros((2,), "float64"), x)
    a = np.random.default_rng(2).standard_normal((4, 2))
    c = np.zeros(2)
    for row in a:
        c = (c + row) * _sigmoid(0.5 * (c + row))
    np.testing.assert_allclose(th.function([x], final)(a), c)
    th.testing.verify_grad(lambda v: th.scan(step, th.zeros((2,), "float64"), v)[1], [a])


def test_ops_pickle_and_round_trip_through_a_json_config():
    op = swish(th.tensor("x", (3,)), beta=2.5).owner.op
    assert pickle.loads(pickle.dumps(op)) == op
    assert pickle.loads(pickle.dumps(swish)) is swish
    config = json.loads(json.dumps(op_config(op)))
    assert config == {"op": swish.qualified_name, "domain": swish.domain, "name": "swish",
                      "attributes": {"beta": 2.5}}
    assert op_from_config(config) == op
    assert registered_op(swish.qualified_name) is swish
    with pytest.raises(th.errors.TheonError, match="import the module that defines it"):
        registered_op("nowhere.swish")


def test_a_model_using_a_user_op_is_checkpointed_and_reloaded(tmp_path):
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((32, 5)).astype("float32"), rng.integers(0, 3, 32)
    model = nn.Sequential([nn.Dense(8, activation=swish), nn.Dense(3)], input_shape=(5,), seed=1)
    model.compile(th.optim.SGD(0.1), "cross_entropy")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[th.callbacks.ModelCheckpoint(tmp_path)])
    config = model.get_config()
    assert config["layers"][0]["config"]["activation"] == swish.qualified_name
    loaded = th.nn.load_model(tmp_path)
    assert loaded.layers[0].activation is swish
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)
