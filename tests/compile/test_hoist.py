"""Work on shared variables alone runs once per value of them (compile/hoist.py): a function
without updates keeps those results between calls and recomputes them whenever a shared
variable it reads gets a new value, by set_value, by another function's update, or in place."""
import numpy as np

import theon as th


def _scaled_matmul():
    rng = np.random.default_rng(0)
    W = th.shared(rng.standard_normal((3, 4)).astype("float32"), name="W")
    s = th.shared(rng.standard_normal(4).astype("float32"), name="s")
    x = th.tensor("x", (None, 3))
    return W, s, x, th.function([x], x @ (W * th.exp(s)))


def _expected(W, s, xv):
    return xv @ (W.get_value() * np.exp(s.get_value()))


def test_weight_work_moves_to_the_static_program_and_values_agree():
    W, s, x, f = _scaled_matmul()
    xv = np.random.default_rng(1).standard_normal((2, 3)).astype("float32")
    np.testing.assert_allclose(f(xv), _expected(W, s, xv), rtol=1e-6)
    program = f.last_program
    assert program.static is not None
    assert [n.op.name for n in program.static.schedule] == ["exp", "multiply"]
    assert [n.op.name for n in program.schedule] == ["matmul"]
    assert "static_cache(" in f.source and program.static.source in f.source


def test_a_new_value_of_a_shared_variable_is_seen():
    W, s, x, f = _scaled_matmul()
    xv = np.ones((2, 3), "float32")
    f(xv)
    s.set_value(np.zeros(4, "float32"))
    np.testing.assert_allclose(f(xv), _expected(W, s, xv), rtol=1e-6)
    W.get_tensor().mul_(2.0)  # in place: the tensor's version counter moves
    np.testing.assert_allclose(f(xv), _expected(W, s, xv), rtol=1e-6)


def test_another_functions_updates_are_seen():
    W, s, x, f = _scaled_matmul()
    xv = np.ones((2, 3), "float32")
    step = th.function([], [], updates=[(s, s + 1.0)])
    for _ in range(3):
        step()  # the new value is made under inference mode: a tensor without a version counter
        np.testing.assert_allclose(f(xv), _expected(W, s, xv), rtol=1e-6)
        s.get_tensor().add_(0.5)  # so an in-place change of it is seen too
        np.testing.assert_allclose(f(xv), _expected(W, s, xv), rtol=1e-6)


def test_functions_with_updates_and_pure_views_are_not_split():
    W, s, x, _ = _scaled_matmul()
    y = x @ (W * th.exp(s))
    train = th.function([x], y.sum(), updates=[(s, s - 0.1 * th.grad(y.sum(), s))])
    train(np.ones((2, 3), "float32"))
    assert train.last_program.static is None
    view = th.function([x], x @ W.T.T)
    view(np.ones((2, 3), "float32"))
    assert view.last_program.static is None  # a transpose of a weight costs nothing to redo


def test_a_view_of_a_shared_variable_joins_a_static_program_there_is_anyway():
    W, s, x, _ = _scaled_matmul()
    V = th.shared(np.random.default_rng(2).standard_normal((4, 3)).astype("float32"), name="V")
    f = th.function([x], x @ (W * th.exp(s)) + x @ V.T)
    xv = np.random.default_rng(3).standard_normal((2, 3)).astype("float32")

    def expected():
        return _expected(W, s, xv) + xv @ V.get_value().T
    np.testing.assert_allclose(f(xv), expected(), rtol=1e-5)
    program = f.last_program
    assert "transpose" in [n.op.name for n in program.static.schedule]
    assert "transpose" not in [n.op.name for n in program.schedule]
    V.set_value(np.ones((4, 3), "float32"))  # a new tensor: the cached view is taken again
    np.testing.assert_allclose(f(xv), expected(), rtol=1e-5)
    V.get_tensor().mul_(3.0)  # in place: the view sees the same memory
    np.testing.assert_allclose(f(xv), expected(), rtol=1e-5)


def test_random_draws_stay_in_the_main_program():
    W = th.shared(np.ones((2, 2), "float32"), name="W")
    x = th.tensor("x", (2, 2))
    f = th.function([x], x + W * th.uniform(size=(2, 2)))
    a, b = f(np.zeros((2, 2), "float32")), f(np.zeros((2, 2), "float32"))
    assert not np.array_equal(a, b)


def test_the_profile_times_what_a_call_runs():
    W, s, x, f = _scaled_matmul()
    table = f.profile(np.ones((2, 3), "float32"), repeat=2)  # the warm-up call fills the cache
    assert [r.op for r in table.rows] == ["matmul"]


def _branchy(x, W, s):
    """A cond whose branches read the weights through their closures (as an imported ONNX
    `If` does): the weight work of each branch is static for that branch's program."""
    return th.cond(th.sum(x) > 0, lambda a: a @ (W * th.tanh(s)), lambda a: a @ (W * 2.0), x)


def test_a_branchs_weight_work_is_kept_between_calls_and_follows_new_values():
    W, s, x, _ = _scaled_matmul()
    f = th.function([x], _branchy(x, W, s))
    pos, neg = np.ones((2, 3), "float32"), -np.ones((2, 3), "float32")
    np.testing.assert_allclose(f(pos), pos @ (W.get_value() * np.tanh(s.get_value())), rtol=1e-6)
    np.testing.assert_allclose(f(neg), neg @ (W.get_value() * 2), rtol=1e-6)
    true_body, false_body = f.last_program.children
    assert [n.op.name for n in true_body.static.schedule] == ["tanh", "multiply"]
    assert [n.op.name for n in true_body.schedule] == ["matmul"]
    assert [n.op.name for n in false_body.schedule] == ["matmul"]
    assert "theon_function__cond_true_1__static" in f.source
    s.set_value(np.zeros(4, "float32"))  # the branch's kept values follow the weights
    np.testing.assert_allclose(f(pos), pos @ (W.get_value() * np.tanh(s.get_value())), rtol=1e-6)
    W.get_tensor().mul_(3.0)
    np.testing.assert_allclose(f(pos), pos @ (W.get_value() * np.tanh(s.get_value())), rtol=1e-6)
    np.testing.assert_allclose(f(neg), neg @ (W.get_value() * 2), rtol=1e-6)


def test_a_branch_reading_a_per_call_value_recomputes_it():
    W, s, x, _ = _scaled_matmul()
    scale = th.tensor("scale", (4,))
    y = th.cond(th.sum(x) > 0, lambda a: a @ (W * th.exp(scale)), lambda a: a @ W, x)
    f = th.function([x, scale], y)
    xv = np.ones((2, 3), "float32")
    for v in (0.0, 1.0, -2.0):
        sv = np.full(4, v, "float32")
        np.testing.assert_allclose(f(xv, sv), xv @ (W.get_value() * np.exp(sv)), rtol=1e-6)


def test_a_view_of_weight_work_is_taken_once_too():
    """A reshape of a folded weight (the formulate pass's 1x1 convolution weight as a matrix)
    runs in the static program; the main program reads the view."""
    W, s, x, _ = _scaled_matmul()
    f = th.function([x], x @ th.reshape(W * th.exp(s), (4, 3)).T)
    xv = np.random.default_rng(2).standard_normal((2, 3)).astype("float32")
    np.testing.assert_allclose(f(xv), xv @ (W.get_value() * np.exp(s.get_value())).reshape(4, 3).T, rtol=1e-6)
    assert [n.op.name for n in f.last_program.static.schedule] == ["exp", "multiply", "reshape", "transpose"]
    assert [n.op.name for n in f.last_program.schedule] == ["matmul"]
    s.set_value(np.zeros(4, "float32"))  # recomputed, views included
    np.testing.assert_allclose(f(xv), xv @ W.get_value().reshape(4, 3).T, rtol=1e-6)
