"""Check a symbolic gradient against central finite differences (public: test your own ops)."""
from __future__ import annotations

import numpy as np

from ..autodiff import grad
from ..compile import function
from ..graph import Variable, constant
from ..ops.base import tensor


class GradientCheckError(AssertionError):
    pass


def verify_grad(fn, inputs, eps: float = 1e-6, rtol: float = 1e-4, atol: float = 1e-6,
                wrt=None, seed: int = 0, device=None, order: int = 1):
    """Assert that theon's gradient of `fn` at `inputs` matches finite differences.

    fn: takes one Variable per input array, returns a Variable (or a tuple, all used).
    inputs: NumPy arrays; float64 is strongly advised. wrt: indices of inputs to check
    (default: every float input). The scalar checked is sum(out * r) for a random r, so
    every output element's gradient is exercised. order=2 checks the gradient of the
    gradient (with its own random projection).
    """
    arrays = [np.asarray(a) for a in inputs]
    wrt = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"] if wrt is None else list(wrt)
    if not wrt:
        raise ValueError("verify_grad: no float input to differentiate")
    rng = np.random.default_rng(seed)
    variables = [tensor(f"in{i}", a.shape, a.dtype.name) for i, a in enumerate(arrays)]
    cost = _projected(fn(*variables), rng, variables, arrays, device)
    if order == 2:
        first = grad(cost, [variables[i] for i in wrt])
        cost = _projected(first, rng, variables, arrays, device)
    elif order != 1:
        raise ValueError("verify_grad: order must be 1 or 2")
    grads = grad(cost, [variables[i] for i in wrt], disconnected="zero")
    f_cost = function(variables, cost, device=device)
    f_grad = function(variables, grads, device=device)
    symbolic = f_grad(*arrays)
    for k, i in enumerate(wrt):
        numeric = _finite_difference(f_cost, arrays, i, eps)
        got = np.asarray(symbolic[k], dtype=np.float64)
        if not np.allclose(got, numeric, rtol=rtol, atol=atol):
            err = np.abs(got - numeric)
            worst = np.unravel_index(np.argmax(err), err.shape) if err.ndim else ()
            raise GradientCheckError(
                f"gradient of input {i} (shape {arrays[i].shape}) disagrees with finite "
                f"differences: max abs error {err.max():.3g} at {worst} "
                f"(symbolic {got[worst] if got.ndim else got:.6g}, numeric "
                f"{numeric[worst] if numeric.ndim else numeric:.6g})")


def _projected(out, rng, variables, arrays, device) -> Variable:
    """sum(out * r) over the float outputs, r random of each output's computed shape (an
    op's inference may leave dims unknown even when the inputs are concrete)."""
    outs = [o for o in (out if isinstance(out, (tuple, list)) else [out]) if o.dtype.startswith("float")]
    if not outs:
        raise ValueError("verify_grad: fn has no float output")
    values = function(variables, outs, device=device)(*arrays)
    total = None
    for o, v in zip(outs, values):
        r = constant(np.asarray(rng.standard_normal(np.shape(v)), dtype=o.dtype))
        term = (o * r).sum() if o.ndim else o * r
        total = term if total is None else total + term
    return total


def _finite_difference(f_cost, arrays, i, eps) -> np.ndarray:
    base = [a.copy() for a in arrays]
    x = base[i]
    numeric = np.zeros(x.shape, dtype=np.float64)
    flat = x.reshape(-1)
    out = numeric.reshape(-1)
    for j in range(flat.size):
        orig = flat[j]
        flat[j] = orig + eps
        plus = float(f_cost(*base))
        flat[j] = orig - eps
        minus = float(f_cost(*base))
        flat[j] = orig
        out[j] = (plus - minus) / (2 * eps)
    return numeric
