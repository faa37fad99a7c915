"""Optimisers: update rules against NumPy references and torch.optim, clipping, schedules,
learning-rate changes without recompiling, checkpointable state, and convergence."""
import json
import math

import numpy as np
import pytest
import torch

import theon as th
from theon import optim

LR = 0.125  # exactly representable in float32, so theon's float32 lr equals torch's
SHAPES = [(3, 4), (5,)]
STEPS = 6


def _init(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in SHAPES]


def _grads(seed=1, steps=STEPS, scale=1.0):
    rng = np.random.default_rng(seed)
    return [[scale * rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]


def run_theon(opt, init, grad_seq, names=("w0", "w1")):
    params = [th.shared(a.copy(), name=n) for a, n in zip(init, names)]
    gs = [th.tensor(f"g{i}", a.shape, "float64") for i, a in enumerate(init)]
    step = th.function(gs, [], updates=opt.updates(params, gs))
    traj = []
    for grads in grad_seq:
        step(*grads)
        traj.append([p.get_value() for p in params])
    assert step.compile_count == 1
    return traj


def run_torch(make, init, grad_seq, clip=None):
    ps = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = make(ps)
    traj = []
    for grads in grad_seq:
        for p, g in zip(ps, grads):
            p.grad = torch.tensor(g)
        if clip is not None:
            clip(ps)
        opt.step()
        traj.append([p.detach().numpy().copy() for p in ps])
    return traj


def assert_traj(a, b, rtol=1e-10, atol=1e-12):
    assert len(a) == len(b)
    for step, (xs, ys) in enumerate(zip(a, b)):
        for x, y in zip(xs, ys):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"step {step}")


# ---- NumPy references of each rule ----------------------------------------------------

def np_process(grads, params, clipvalue=None, clipnorm=None, wd=0.0):
    if clipvalue is not None:
        grads = [np.clip(g, -clipvalue, clipvalue) for g in grads]
    if clipnorm is not None:
        norm = math.sqrt(sum(float((g * g).sum()) for g in grads))
        coef = min(1.0, clipnorm / (norm + 1e-6))
        grads = [g * coef for g in grads]
    return [g + wd * p for g, p in zip(grads, params)]


def np_run(rule, init, grad_seq, lr=LR, wd=0.0, clipvalue=None, clipnorm=None, lr_fn=None, **hp):
    params = [a.copy() for a in init]
    states = [{} for _ in params]
    traj = []
    for t, grads in enumerate(grad_seq):
        lr_t = lr if lr_fn is None else lr_fn(t)
        grads = np_process(grads, params, clipvalue, clipnorm, 0.0 if rule is np_adamw else wd)
        params = [rule(p, g, s, t, lr_t, wd=wd, **hp) for p, g, s in zip(params, grads, states)]
        traj.append([p.copy() for p in params])
    return traj


def np_sgd(p, g, s, t, lr, momentum=0.0, nesterov=False, wd=0.0):
    if momentum:
        s["b"] = momentum * s.get("b", 0.0) + g
        g = g + momentum * s["b"] if nesterov else s["b"]
    return p - lr * g


def np_adam(p, g, s, t, lr, b1=0.9, b2=0.999, eps=1e-8, amsgrad=False, wd=0.0):
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
    v = s["v"]
    if amsgrad:
        s["vmax"] = v = np.maximum(s.get("vmax", 0.0), v)
    bc1, bc2 = 1 - b1 ** (t + 1), 1 - b2 ** (t + 1)
    return p - lr / bc1 * s["m"] / (np.sqrt(v) / math.sqrt(bc2) + eps)


def np_adamw(p, g, s, t, lr, wd=0.0, **hp):
    return np_adam(p * (1 - lr * wd), g, s, t, lr, **hp)


def np_rmsprop(p, g, s, t, lr, rho=0.99, eps=1e-8, momentum=0.0, centered=False, wd=0.0):
    s["v"] = v = rho * s.get("v", 0.0) + (1 - rho) * g * g
    if centered:
        s["a"] = rho * s.get("a", 0.0) + (1 - rho) * g
        v = v - s["a"] ** 2
    d = g / (np.sqrt(v) + eps)
    if momentum:
        s["b"] = d = momentum * s.get("b", 0.0) + d
    return p - lr * d


def np_adagrad(p, g, s, t, lr, lr_decay=0.0, acc0=0.0, eps=1e-10, wd=0.0):
    s["sum"] = s.get("sum", acc0) + g * g
    return p - lr / (1 + t * lr_decay) * g / (np.sqrt(s["sum"]) + eps)


# (id, theon optimiser, NumPy rule and its arguments, torch.optim factory)
CASES = [
    ("sgd", lambda: optim.SGD(LR), (np_sgd, {}), lambda ps: torch.optim.SGD(ps, lr=LR)),
    ("sgd-wd", lambda: optim.SGD(LR, weight_decay=0.05), (np_sgd, {"wd": 0.05}),
     lambda ps: torch.optim.SGD(ps, lr=LR, weight_decay=0.05)),
    ("momentum", lambda: optim.SGD(LR, momentum=0.9, weight_decay=0.01),
     (np_sgd, {"momentum": 0.9, "wd": 0.01}),
     lambda ps: torch.optim.SGD(ps, lr=LR, momentum=0.9, weight_decay=0.01)),
    ("nesterov", lambda: optim.SGD(LR, momentum=0.8, nesterov=True, weight_decay=0.01),
     (np_sgd, {"momentum": 0.8, "nesterov": True, "wd": 0.01}),
     lambda ps: torch.optim.SGD(ps, lr=LR, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("adam", lambda: optim.Adam(LR), (np_adam, {}), lambda ps: torch.optim.Adam(ps, lr=LR)),
    ("adam-wd", lambda: optim.Adam(LR, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1),
     (np_adam, {"b1": 0.8, "b2": 0.99, "eps": 1e-6, "wd": 0.1}),
     lambda ps: torch.optim.Adam(ps, lr=LR, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("amsgrad", lambda: optim.Adam(LR, amsgrad=True), (np_adam, {"amsgrad": True}),
     lambda ps: torch.optim.Adam(ps, lr=LR, amsgrad=True)),
    ("adamw", lambda: optim.AdamW(LR, weight_decay=0.1), (np_adamw, {"wd": 0.1}),
     lambda ps: torch.optim.AdamW(ps, lr=LR, weight_decay=0.1)),
    ("adamw-default", lambda: optim.AdamW(LR), (np_adamw, {"wd": 0.01}),
     lambda ps: torch.optim.AdamW(ps, lr=LR)),
    ("rmsprop", lambda: optim.RMSProp(LR), (np_rmsprop, {}), lambda ps: torch.optim.RMSprop(ps, lr=LR)),
    ("rmsprop-centered-momentum",
     lambda: optim.RMSProp(LR, rho=0.9, momentum=0.5, centered=True, weight_decay=0.02),
     (np_rmsprop, {"rho": 0.9, "momentum": 0.5, "centered": True, "wd": 0.02}),
     lambda ps: torch.optim.RMSprop(ps, lr=LR, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.02)),
    ("adagrad", lambda: optim.Adagrad(LR), (np_adagrad, {}), lambda ps: torch.optim.Adagrad(ps, lr=LR)),
    ("adagrad-all", lambda: optim.Adagrad(LR, lr_decay=0.1, initial_accumulator_value=0.5, weight_decay=0.03),
     (np_adagrad, {"lr_decay": 0.1, "acc0": 0.5, "wd": 0.03}),
     lambda ps: torch.optim.Adagrad(ps, lr=LR, lr_decay=0.1, initial_accumulator_value=0.5,
                                    weight_decay=0.03)),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_update_rule_matches_numpy_reference(case):
    _, make, (rule, hp), _ = case
    init, grads = _init(), _grads()
    assert_traj(run_theon(make(), init, grads), np_run(rule, init, grads, **hp))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_update_rule_matches_torch_optim(case):
    _, make, _, make_torch = case
    init, grads = _init(2), _grads(3)
    assert_traj(run_theon(make(), init, grads), run_torch(make_torch, init, grads))


# ---- clipping -------------------------------------------------------------------------

def test_clipvalue_matches_numpy_and_torch():
    init, grads = _init(), _grads(scale=3.0)
    ours = run_theon(optim.SGD(LR, momentum=0.9, clipvalue=0.5), init, grads)
    assert_traj(ours, np_run(np_sgd, init, grads, momentum=0.9, clipvalue=0.5))
    ref = run_torch(lambda ps: torch.optim.SGD(ps, lr=LR, momentum=0.9), init, grads,
                    clip=lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.5))
    assert_traj(ours, ref)


@pytest.mark.parametrize("max_norm", [0.7, 1e6])
def test_clipnorm_is_global_and_matches_torch(max_norm):
    init, grads = _init(), _grads()
    ours = run_theon(optim.Adam(LR, clipnorm=max_norm, weight_decay=0.05), init, grads)
    assert_traj(ours, np_run(np_adam, init, grads, clipnorm=max_norm, wd=0.05))
    ref = run_torch(lambda ps: torch.optim.Adam(ps, lr=LR, weight_decay=0.05), init, grads,
                    clip=lambda ps: torch.nn.utils.clip_grad_norm_(ps, max_norm))
    assert_traj(ours, ref)
    if max_norm > 1e3:  # never active: identical to no clipping
        assert_traj(ours, run_theon(optim.Adam(LR, weight_decay=0.05), init, grads))


def test_clipvalue_then_clipnorm():
    init, grads = _init(), _grads(scale=2.0)
    ours = run_theon(optim.SGD(LR, clipvalue=0.3, clipnorm=0.5), init, grads)
    assert_traj(ours, np_run(np_sgd, init, grads, clipvalue=0.3, clipnorm=0.5))


def test_clip_by_global_norm_function():
    a, b = th.tensor("a", (3,), "float64"), th.tensor("b", (2,), "float64")
    f = th.function([a, b], optim.clip_by_global_norm([a, b], 1.0))
    x, y = np.array([3.0, 0.0, 0.0]), np.array([0.0, 4.0])
    ca, cb = f(x, y)
    np.testing.assert_allclose(np.sqrt((ca ** 2).sum() + (cb ** 2).sum()), 1.0, rtol=1e-6)
    np.testing.assert_allclose(ca / cb.sum(), x / 4.0)


# ---- schedules ------------------------------------------------------------------------

def np_step_decay(t, step_size, gamma):
    return gamma ** (t // step_size)


def np_cosine(t, total, min_value):
    return min_value + (1 - min_value) * 0.5 * (1 + np.cos(np.pi * min(t, total) / total))


SCHEDULES = [
    ("step", optim.StepDecay(3, 0.5), lambda t: np_step_decay(t, 3, 0.5)),
    ("step-default", optim.StepDecay(4), lambda t: np_step_decay(t, 4, 0.1)),
    ("cosine", optim.CosineDecay(10), lambda t: np_cosine(t, 10, 0.0)),
    ("cosine-min", optim.CosineDecay(7, min_value=0.2), lambda t: np_cosine(t, 7, 0.2)),
    ("warmup", optim.Warmup(4), lambda t: (t + 1) / 4 if t < 4 else 1.0),
    ("warmup-cosine", optim.Warmup(5, optim.CosineDecay(12, 0.1)),
     lambda t: (t + 1) / 5 if t < 5 else np_cosine(t - 5, 12, 0.1)),
    ("warmup-step", optim.Warmup(2, optim.StepDecay(3, 0.5)),
     lambda t: (t + 1) / 2 if t < 2 else np_step_decay(t - 2, 3, 0.5)),
]


@pytest.mark.parametrize("case", SCHEDULES, ids=[c[0] for c in SCHEDULES])
def test_schedule_values_symbolic_and_numeric(case):
    _, schedule, formula = case
    s = th.tensor("s", (), "int64")
    f = th.function([s], schedule(s))
    assert f.outputs[0].dtype == "float32"
    for t in range(25):
        want = formula(t)
        assert schedule(t) == pytest.approx(want, rel=1e-12, abs=1e-15)
        got = f(np.int64(t))
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    assert f.compile_count == 1


def test_schedule_config_round_trip():
    sch = optim.Warmup(5, optim.CosineDecay(12, 0.1))
    cfg = json.loads(json.dumps(sch.get_config()))
    again = optim.schedules.from_config(cfg)
    assert again.get_config() == cfg
    assert [again(t) for t in range(20)] == [sch(t) for t in range(20)]


def test_schedule_multiplies_the_base_lr_with_the_step_before_increment():
    sch = optim.Warmup(2, optim.CosineDecay(5, 0.1))
    opt = optim.SGD(0.5, momentum=0.5, schedule=sch)
    init, grads = _init(), _grads(steps=9)
    ours = run_theon(opt, init, grads)
    lr_fn = lambda t: float(np.float32(0.5) * np.float32(sch(t)))  # noqa: E731
    assert_traj(ours, np_run(np_sgd, init, grads, lr=0.5, momentum=0.5, lr_fn=lr_fn), rtol=1e-6, atol=1e-7)
    assert int(opt.iterations.get_value()) == 9
    assert opt.current_lr() == pytest.approx(0.5 * sch(9), rel=1e-6)


def test_step_decay_with_adam_bias_correction_uses_the_same_counter():
    sch = optim.StepDecay(2, 0.5)
    init, grads = _init(), _grads()
    ours = run_theon(optim.Adam(LR, schedule=sch), init, grads)
    assert_traj(ours, np_run(np_adam, init, grads, lr_fn=lambda t: LR * sch(t)))


# ---- lr changes, state, config --------------------------------------------------------

def test_lr_set_value_takes_effect_without_recompiling():
    w = th.shared(np.zeros(3), name="w")
    g = th.tensor("g", (3,), "float64")
    opt = optim.SGD(0.5)
    step = th.function([g], [], updates=opt.updates([w], [g]))
    ones = np.ones(3)
    step(ones)
    np.testing.assert_allclose(w.get_value(), -0.5)
    opt.lr.set_value(0.25)
    step(ones)
    np.testing.assert_allclose(w.get_value(), -0.75)
    assert step.compile_count == 1
    assert opt.current_lr() == 0.25 and opt.lr.dtype == "float32"


def test_state_names_and_updates_pairs():
    p = th.shared(np.zeros((2, 3), "float32"), name="dense_1/kernel")
    q = th.shared(np.zeros(3, "float32"), name="dense_1/bias")
    opt = optim.Adam()
    pairs = opt.updates([p, q], [th.zeros((2, 3)), th.zeros(3)])
    targets = [s for s, _ in pairs]
    assert targets[-1] is opt.iterations and p in targets and q in targets
    state = opt.state()
    assert sorted(state) == sorted(["lr", "iterations", "dense_1/kernel/m", "dense_1/kernel/v",
                                    "dense_1/bias/m", "dense_1/bias/v"])
    assert state["dense_1/kernel/m"].name == "dense_1/kernel/m"
    assert state["dense_1/kernel/v"].dtype == "float32" and state["dense_1/kernel/v"].type.shape == (2, 3)
    assert state["iterations"].dtype == "int64"
    assert len(opt.updates([p, q], [th.zeros((2, 3)), th.zeros(3)])) == len(pairs)  # slots reused
    assert len(opt.state()) == len(state)
    assert optim.SGD(0.1).updates([p], [th.zeros((2, 3))])[0][0] is p  # no slots without momentum


@pytest.mark.parametrize("make", [
    lambda: optim.Adam(LR, clipnorm=1.0, schedule=optim.Warmup(2, optim.CosineDecay(8, 0.1))),
    lambda: optim.SGD(LR, momentum=0.9, nesterov=True, weight_decay=1e-3, clipvalue=0.5),
    lambda: optim.RMSProp(LR, centered=True, momentum=0.3),
    lambda: optim.Adagrad(LR, lr_decay=0.01),
    lambda: optim.AdamW(LR, amsgrad=True, schedule=optim.StepDecay(2)),
], ids=["adam", "sgd", "rmsprop", "adagrad", "adamw"])
def test_state_and_config_restore_the_exact_run(make):
    init, grads = _init(), _grads(steps=6)
    full = run_theon(make(), init, grads)
    first = make()
    half = run_theon(first, init, grads[:3])
    cfg = json.loads(json.dumps(first.get_config()))
    saved = {k: s.get_value() for k, s in first.state().items()}
    second = optim.get(cfg)
    assert type(second) is type(first) and second.get_config() == cfg
    second.set_state(saved)  # before the step function exists: slots restored when created
    resumed = run_theon(second, half[-1], grads[3:])
    for a, b in zip(full[3:], resumed):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert int(second.iterations.get_value()) == 6


def test_get_by_name_and_errors():
    assert isinstance(optim.get("adam"), optim.Adam)
    assert isinstance(optim.get("SGD"), optim.SGD)
    opt = optim.RMSProp()
    assert optim.get(opt) is opt
    with pytest.raises(ValueError, match="unknown optimizer 'adamax'"):
        optim.get("adamax")
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD(0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta1"):
        optim.Adam(beta1=1.0)
    with pytest.raises(ValueError, match="clipnorm"):
        optim.SGD(0.1, clipnorm=0.0)
    p = th.shared(np.zeros(3), name="w")
    with pytest.raises(ValueError, match="gradient of shape"):
        optim.SGD(0.1).updates([p], [th.zeros(4, dtype="float64")])
    with pytest.raises(ValueError, match="2 params but 1 grads"):
        optim.SGD(0.1).updates([p, p], [th.zeros(3)])
    twin = th.shared(np.zeros(3), name="w")
    with pytest.raises(ValueError, match="two parameters are named 'w'"):
        optim.Adam().updates([p, twin], [th.zeros(3), th.zeros(3)])


def test_none_gradient_leaves_the_parameter_alone():
    p = th.shared(np.ones(2), name="p")
    q = th.shared(np.ones(2), name="q")
    g = th.tensor("g", (2,), "float64")
    opt = optim.Adam(0.1)
    pairs = opt.updates([p, q], [g, None])
    assert q not in [s for s, _ in pairs]
    th.function([g], [], updates=pairs)(np.ones(2))
    np.testing.assert_array_equal(q.get_value(), [1, 1])
    assert (p.get_value() < 1).all()


def test_float32_params_keep_their_dtype():
    p = th.shared(np.ones(4, "float32"), name="p")
    g = th.tensor("g", (4,), "float32")
    for opt in [optim.SGD(0.1, momentum=0.9), optim.Adam(), optim.AdamW(), optim.RMSProp(),
                optim.Adagrad(lr_decay=0.1)]:
        for s, v in opt.updates([p], [g]):
            assert v.dtype == s.dtype


# ---- convergence ----------------------------------------------------------------------

def _blobs(n=240, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    y = rng.integers(0, 3, n)
    x = (centres[y] + 0.6 * rng.standard_normal((n, 2))).astype("float32")
    return x, y.astype("int64")


@pytest.mark.parametrize("make", [
    lambda: optim.SGD(0.5),
    lambda: optim.SGD(0.1, momentum=0.9),
    lambda: optim.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
    lambda: optim.Adam(0.05),
    lambda: optim.AdamW(0.05, clipnorm=1.0),
    lambda: optim.RMSProp(0.01),
    lambda: optim.Adagrad(0.3, clipvalue=1.0),
    lambda: optim.SGD(0.5, schedule=optim.Warmup(5, optim.CosineDecay(60))),
], ids=["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad", "sgd-schedule"])
def test_logistic_regression_converges(make):
    xs, ys = _blobs()
    x = th.tensor("x", (None, 2))
    y = th.tensor("y", (None,), "int64")
    W = th.shared(np.zeros((2, 3), "float32"), name="W")
    b = th.shared(np.zeros(3, "float32"), name="b")
    logits = x @ W + b
    loss = th.nn.cross_entropy(logits, y).mean()
    opt = make()
    train = th.function([x, y], loss, updates=opt.updates([W, b], th.grad(loss, [W, b])))
    losses = [float(train(xs, ys)) for _ in range(80)]
    acc = float((np.argmax(xs @ W.get_value() + b.get_value(), 1) == ys).mean())
    assert losses[0] == pytest.approx(np.log(3), rel=1e-5)
    assert losses[-1] < 0.4 * losses[0] and acc > 0.9, (losses[-1], acc)
    assert train.compile_count == 1 and W.get_value().dtype == np.float32
