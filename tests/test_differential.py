"""Random expression graphs: theon's values and gradients against torch.autograd (the oracle).

Hypothesis builds a small program: a pool starting with three float64 inputs of broadcast-
compatible shapes, each step applying a random unary or binary op to pool members. The same
program runs through theon (symbolic grad, compiled) and through torch with autograd.
"""
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import theon as th

UNARY = {
    "tanh": (th.tanh, torch.tanh), "sin": (th.sin, torch.sin), "exp": (lambda x: th.exp(x * 0.3), lambda x: torch.exp(x * 0.3)),
    "sigmoid": (th.sigmoid, torch.sigmoid), "square": (th.square, torch.square),
    "softplus": (th.softplus, torch.nn.functional.softplus), "neg": (lambda x: -x, lambda x: -x),
    "log1p_sq": (lambda x: th.log1p(x * x), lambda x: torch.log1p(x * x)),
    "sum_last": (lambda x: x.sum(axis=-1, keepdims=True) if x.ndim else x,
                 lambda x: x.sum(-1, keepdim=True) if x.ndim else x),
    "mean_all": (lambda x: x.mean(), lambda x: x.mean()),
}
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b), "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1)),
    "max": (th.maximum, torch.maximum),
}
SHAPES = [(3, 4), (4,), (3, 1), (1, 4), ()]


@st.composite
def programs(draw):
    shapes = [draw(st.sampled_from(SHAPES)) for _ in range(3)]
    steps = []
    pool = 3
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(sorted(UNARY))), draw(st.integers(0, pool - 1))))
        else:
            steps.append(("b", draw(st.sampled_from(sorted(BINARY))),
                          draw(st.integers(0, pool - 1)), draw(st.integers(0, pool - 1))))
        pool += 1
    seed = draw(st.integers(0, 2 ** 16))
    return shapes, steps, seed


def run(steps, inputs, table_index):
    pool = list(inputs)
    for step in steps:
        if step[0] == "u":
            pool.append(UNARY[step[1]][table_index](pool[step[2]]))
        else:
            pool.append(BINARY[step[1]][table_index](pool[step[2]], pool[step[3]]))
    return pool


@settings(max_examples=60, deadline=None)
@given(programs())
def test_random_graphs_match_torch_autograd(program):
    shapes, steps, seed = program
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-1, 1, size=s) for s in shapes]

    xs = [th.tensor(f"x{i}", s, "float64") for i, s in enumerate(shapes)]
    pool = run(steps, xs, 0)
    cost = sum((v.sum() if v.ndim else v) for v in pool[3:])
    grads = th.grad(cost, xs, disconnected="zero")
    got_cost, *got_grads = th.function(xs, [cost] + grads)(*arrays)

    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    tpool = run(steps, ts, 1)
    tcost = sum(v.sum() for v in tpool[3:])
    want = torch.autograd.grad(tcost, ts, allow_unused=True)
    np.testing.assert_allclose(got_cost, tcost.detach().numpy(), rtol=1e-10, atol=1e-12)
    for g, w, a in zip(got_grads, want, arrays):
        w = np.zeros_like(a) if w is None else w.numpy()
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12)
