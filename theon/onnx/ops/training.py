"""The ai.onnx.preview.training optimiser ops Adagrad, Adam and Momentum: one update step of
each tensor group, written as theon formulas of the node's inputs.

Inputs are R (learning rate, scalar), T (step count, int64 scalar, known only when run),
then the groups: X_1..X_n, G_1..G_n and each state (H, or V and H for Adam); outputs are
the new X_1..X_n, then each new state, in the same group order."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from . import converter

DOMAIN = "ai.onnx.preview.training"


def _groups(ctx, n_states: int) -> list:
    """[(x, g, *states)] per optimised tensor, from R, T, X..., G..., S1..., S2..."""
    rest = ctx.n_in - 2
    if rest <= 0 or rest % (2 + n_states):
        ctx.fail(f"{ctx.n_in} inputs: expected R, T and {2 + n_states} lists of equal length")
    n = rest // (2 + n_states)
    return [[ctx.x(2 + k * n + i) for k in range(2 + n_states)] for i in range(n)]


def _scalar(v, like):
    return T.cast(v, like.dtype)


def _c(x, value):
    return np.asarray(value, dtype=x.dtype)


def _flatten_outputs(results: list) -> list:
    """[(x_new, s1_new, ...)] per group -> x_new..., s1_new..., ... (ONNX's output order)."""
    return [r[k] for k in range(len(results[0])) for r in results]


@converter("Adagrad", domain=DOMAIN)
def adagrad(ctx):
    decay = ctx.attr("decay_factor", 0.0)
    eps = ctx.attr("epsilon", 0.0)
    norm = ctx.attr("norm_coefficient", 0.0)
    r, t = ctx.x(0), ctx.x(1)
    results = []
    for x, g, h in _groups(ctx, 1):
        rate = _scalar(r, x) / (_c(x, 1.0) + _scalar(t, x) * _c(x, decay))
        g = _c(x, norm) * x + g
        h_new = h + g * g
        results.append((x - rate * g / (T.sqrt(h_new) + _c(x, eps)), h_new))
    return _flatten_outputs(results)


@converter("Adam", domain=DOMAIN)
def adam(ctx):
    alpha = ctx.attr("alpha", 0.9)
    beta = ctx.attr("beta", 0.999)
    eps = ctx.attr("epsilon", 0.0)
    norm = ctx.attr("norm_coefficient", 0.0)
    norm_post = ctx.attr("norm_coefficient_post", 0.0)
    r, t = ctx.x(0), ctx.x(1)
    results = []
    for x, g, v, h in _groups(ctx, 2):
        g = _c(x, norm) * x + g
        v_new = _c(x, alpha) * v + _c(x, 1 - alpha) * g
        h_new = _c(x, beta) * h + _c(x, 1 - beta) * (g * g)
        # bias correction from the first step on (T > 0); step 0 uses R as it is
        started = T.greater(t, np.int64(0))
        tf = T.where(started, _scalar(t, x), _c(x, 1.0))
        corrected = _scalar(r, x) * T.sqrt(_c(x, 1.0) - T.power(_c(x, beta), tf)) \
            / (_c(x, 1.0) - T.power(_c(x, alpha), tf))
        rate = T.where(started, corrected, _scalar(r, x))
        x_new = x - rate * (v_new / (T.sqrt(h_new) + _c(x, eps)))
        results.append(((_c(x, 1.0 - norm_post)) * x_new, v_new, h_new))
    return _flatten_outputs(results)


@converter("Momentum", domain=DOMAIN)
def momentum(ctx):
    alpha, beta = ctx.attr("alpha"), ctx.attr("beta")
    norm, mode = ctx.attr("norm_coefficient"), ctx.attr("mode")
    if None in (alpha, beta, norm, mode):
        ctx.fail("Momentum needs the attributes alpha, beta, mode and norm_coefficient")
    if mode not in ("standard", "nesterov"):
        ctx.fail(f"Momentum mode {mode!r}: ONNX has 'standard' and 'nesterov'")
    r, t = ctx.x(0), ctx.x(1)
    results = []
    for x, g, v in _groups(ctx, 1):
        g = _c(x, norm) * x + g
        # the gradient's coefficient is 1 at the first step (T == 0), beta after
        b = T.where(T.greater(t, np.int64(0)), _c(x, beta), _c(x, 1.0))
        v_new = _c(x, alpha) * v + b * g
        step = v_new if mode == "standard" else g + _c(x, alpha) * v_new
        results.append((x - _scalar(r, x) * step, v_new))
    return _flatten_outputs(results)
