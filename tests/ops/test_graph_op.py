"""`th.op_from_graph`: a subgraph used as one op, compiled as a child program or inlined."""
import numpy as np
import pytest

import theon as th
from theon.errors import GradientError, InputError, ShapeError

RNG = np.random.default_rng(0)
W_VALUE = RNG.standard_normal((4, 4))


def _block(inline=False, grad=None):
    W = th.shared(W_VALUE.copy(), name="W")
    x = th.tensor("x", (None, 4), "float64")
    return th.op_from_graph([x], [th.tanh(x @ W)], inline=inline, grad=grad, name="block"), W


def _reference(a):
    return np.tanh(np.tanh(a @ W_VALUE) @ W_VALUE)


@pytest.mark.parametrize("inline", [False, True])
def test_a_subgraph_applied_twice_matches_the_expression(inline):
    block, _ = _block(inline)
    h = th.tensor("h", (None, 4), "float64")
    f = th.function([h], block(block(h)))
    a = RNG.standard_normal((3, 4))
    np.testing.assert_allclose(f(a), _reference(a))
    program = f.last_program
    if inline:  # expanded where used: no child program, the matmuls are in the outer one
        assert program.children == [] and "block" not in program.source
        assert program.source.count("# matmul") == 2
    else:       # one call per use, each running the compiled subgraph
        assert program.source.count("# block [") == 2 and len(program.children) == 2
        assert all("matmul" in c.source for c in program.children)


@pytest.mark.parametrize("inline", [False, True])
def test_derived_gradient_first_and_second_order(inline):
    block, W = _block(inline)
    a = RNG.standard_normal((3, 4))
    th.testing.verify_grad(lambda v: block(block(v)), [a])
    th.testing.verify_grad(lambda v: block(v), [a], order=2, rtol=1e-3)
    # the shared weight the subgraph reads gets its gradient too
    h = th.tensor("h", (None, 4), "float64")
    gW = th.function([h], th.grad(block(h).sum(), W))(a)
    np.testing.assert_allclose(gW, a.T @ (1 - np.tanh(a @ W_VALUE) ** 2))


def test_the_gradient_is_itself_one_op_and_reused():
    block, _ = _block()
    h = th.tensor("h", (None, 4), "float64")
    g1 = th.grad(block(h).sum(), h)
    g2 = th.grad(block(h).sum(), h)
    assert g1 is g2  # the same gradient op, so the nodes merge
    assert any(n.op.name == "block_grad" for n in th.graph.toposort([g1]))


def test_gradient_override_is_used():
    def straight_through(inputs, outputs, output_grads):
        x, W = inputs
        return [output_grads[0], None]

    block, _ = _block(grad=straight_through)
    h = th.tensor("h", (None, 4), "float64")
    a = RNG.standard_normal((2, 4))
    g = th.function([h], th.grad((block(h) * 3).sum(), h))(a)
    np.testing.assert_allclose(g, np.full((2, 4), 3.0))

    block_bad, _ = _block(grad=lambda inputs, outputs, gs: [gs[0]])
    with pytest.raises(GradientError, match="returned 1 gradient.*1 shared variable"):
        th.grad(block_bad(h).sum(), h)


def test_several_outputs_and_an_intermediate_input():
    x = th.tensor("x", (None,), "float64")
    h = th.exp(x)          # the subgraph starts at an intermediate variable
    pair = th.op_from_graph([h], [h * 2, h.sum()], name="pair")
    y = th.tensor("y", (None,), "float64")
    doubled, total = pair(y)
    a = np.array([1.0, 2.0, 3.0])
    got = th.function([y], [doubled, total])(a)
    np.testing.assert_allclose(got[0], 2 * a)
    np.testing.assert_allclose(got[1], a.sum())
    th.testing.verify_grad(lambda v: pair(v), [a])


def test_bad_uses_are_refused_with_the_reason():
    x, z = th.tensor("x", (None, 4)), th.tensor("z", (None, 4))
    with pytest.raises(InputError, match=r"not listed in inputs: z"):
        th.op_from_graph([x], [x + z])
    block = th.op_from_graph([x], [x * 2], name="double")
    with pytest.raises(ShapeError, match=r"double: input 0 \('x'\) was float32\[\?, 4\].*got float32\[3, 5\]"):
        block(th.tensor("w", (3, 5)))
    with pytest.raises(InputError, match="takes 1 input"):
        block(x, x)
