"""The multi-tensor optimiser step: equal to the per-parameter rules, written into the
shared variables in place when nothing else reads their old values, and never when the
call could still fail after it or returns those old values."""
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import theon as th
from theon import config, optim


def _problem(dtype, seed=0):
    rng = np.random.default_rng(seed)
    w = th.shared(rng.standard_normal((4, 3)).astype(dtype), name="w")
    b = th.shared(rng.standard_normal(3).astype(dtype), name="b")
    x = th.tensor("x", (5, 4), dtype)
    loss = th.tanh(x @ w + b).sum() ** 2
    return w, b, x, loss, rng.standard_normal((5, 4)).astype(dtype)


OPTIMIZERS = {
    "sgd": lambda: optim.SGD(0.05),
    "momentum": lambda: optim.SGD(0.05, momentum=0.9),
    "nesterov": lambda: optim.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: optim.Adam(0.01),
    "amsgrad": lambda: optim.Adam(0.01, amsgrad=True),
    "adamw": lambda: optim.AdamW(0.01, weight_decay=0.1),
    "adam_l2_clip": lambda: optim.Adam(0.01, weight_decay=0.01, clipnorm=1.0),
}


def _trajectory(make, dtype, fused, monkeypatch):
    monkeypatch.setattr(config, "FUSED_OPTIMIZERS", fused)
    w, b, x, loss, data = _problem(dtype)
    opt = make()
    f = th.function([x], loss, updates=opt.updates([w, b], th.grad(loss, [w, b])))
    losses = [float(f(data)) for _ in range(6)]
    assert ("_step" in f.source) == fused
    return losses, w.get_value(), b.get_value()


# float32: ATen's fused Adam computes its bias corrections in double, so values of O(1)
# drift by up to ~1e-6 from the float32 rules over six steps
@pytest.mark.parametrize("dtype,rtol,atol", [("float32", 1e-5, 1e-6), ("float64", 1e-12, 1e-14)])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_fused_step_equals_the_per_parameter_rules(name, dtype, rtol, atol, monkeypatch):
    fused = _trajectory(OPTIMIZERS[name], dtype, True, monkeypatch)
    plain = _trajectory(OPTIMIZERS[name], dtype, False, monkeypatch)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_strided_gradients_and_parameters(name, monkeypatch):
    # Dense-style: the gradient of w in x @ w.T is a transposed view; a parameter set from a
    # transposed array is strided too (ATen's fused kernels ignore strides)
    results = []
    for fused in (True, False):
        monkeypatch.setattr(config, "FUSED_OPTIMIZERS", fused)
        rng = np.random.default_rng(3)
        w = th.shared(np.asfortranarray(rng.standard_normal((3, 4))), name="w")
        x = th.tensor("x", (5, 4), "float64")
        loss = th.tanh(x @ w.T).sum() ** 2
        f = th.function([x], loss, updates=OPTIMIZERS[name]().updates([w], [th.grad(loss, w)]))
        data = rng.standard_normal((5, 4))
        results.append([float(f(data)) for _ in range(4)] + [w.get_value()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_step_writes_the_shared_storage_in_place():
    w, b, x, loss, data = _problem("float32")
    opt = optim.Adam(0.01)
    f = th.function([x], loss, updates=opt.updates([w, b], th.grad(loss, [w, b])))
    before = w.get_tensor()
    f(data)
    assert w.get_tensor() is before and "inplace=True" in f.source
    # the step is the program's last instruction: everything that could fail ran before
    last = [line for line in f.source.splitlines() if " = " in line][-1]
    assert "adam_step" in last


def test_no_in_place_when_the_old_value_is_returned():
    w, b, x, loss, data = _problem("float64")
    opt = optim.SGD(0.1, momentum=0.9)
    f = th.function([x], [loss, w, w.T], updates=opt.updates([w, b], th.grad(loss, [w, b])))
    old = w.get_value()
    _, returned, returned_t = f(data)
    np.testing.assert_array_equal(returned, old)
    np.testing.assert_array_equal(returned_t, old.T)
    assert not np.array_equal(w.get_value(), old) and "inplace=True" not in f.source


@dataclass(frozen=True)
class FailOnNegative(th.Op):
    name: ClassVar[str] = "fail_on_negative"

    def infer(self, x):
        return [x.type]

    def kernel(self, x):
        if bool((x < 0).any()):
            raise ValueError("negative")
        return x.clone()


def test_a_failing_call_changes_nothing_even_with_in_place_steps():
    w, b, x, loss, data = _problem("float64")
    opt = optim.SGD(0.1, momentum=0.9)
    checked = FailOnNegative()(x).sum() * 0.0
    f = th.function([x], loss + checked, updates=opt.updates([w, b], th.grad(loss, [w, b])))
    f(np.abs(data))
    state = {k: v.get_value() for k, v in opt.state().items()} | {"w": w.get_value(), "b": b.get_value()}
    with pytest.raises(th.errors.KernelError, match="negative"):
        f(-np.abs(data))
    after = {k: v.get_value() for k, v in opt.state().items()} | {"w": w.get_value(), "b": b.get_value()}
    for k in state:
        np.testing.assert_array_equal(state[k], after[k])


def test_no_in_place_under_the_nan_guard():
    w, b, x, loss, data = _problem("float32")
    opt = optim.SGD(0.1)
    f = th.function([x], loss, updates=opt.updates([w, b], th.grad(loss, [w, b])), nan_guard=True)
    before = w.get_tensor()
    f(data)
    assert w.get_tensor() is not before and "inplace=True" not in f.source
