"""Symbolic reverse-mode differentiation: gradients are graphs, so they differentiate again.

Walk the nodes between `wrt` and the cost in reverse topological order, call each op's
`grad`, sum the contributions per variable, and sum broadcast gradients back to each
input's shape. Only float variables carry gradients: integer and bool values (indices,
labels, masks) are discrete, so no gradient flows into or out of them.
"""
from __future__ import annotations

import dataclasses

from .errors import GradientError
from .graph import Constant, Variable, located, replace, toposort
from .graph.types import format_shape, shapes_agree
from .ops import elementwise as ew
from .ops.base import as_variable
from .ops.broadcast import sum_to_like
from .ops.constructors import ones_like, zeros_like
from .ops.shape import reshape, stack
from .rewrite import stabilize


def _differentiable(v: Variable) -> bool:
    return v.dtype.startswith("float") or v.dtype.startswith("complex")


def _total(contributions):
    total = contributions[0]
    for g in contributions[1:]:
        total = ew.add(total, g)
    return total


def grad(cost, wrt, known_grads=None, disconnected: str = "raise"):
    """Gradients of scalar `cost` with respect to `wrt` (a variable or a list of them).

    known_grads: {variable: gradient} seeds gradients at intermediate variables (with or
    instead of cost). disconnected: what a `wrt` the cost does not depend on gets —
    "raise" (GradientError), "zero" (zeros of its shape) or "none" (None).
    """
    if disconnected not in ("raise", "zero", "none"):
        raise ValueError(f"disconnected must be 'raise', 'zero' or 'none', got {disconnected!r}")
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)
    for w in wrt_list:
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt must hold symbolic variables, got {type(w).__name__}")
        if not _differentiable(w):
            raise GradientError(f"cannot differentiate with respect to {w.describe()}: "
                                f"{w.dtype} values are discrete and take no gradient")
    seeds = _seeds(cost, known_grads)
    # Differentiate the stabilised graph: the gradient of log(1 - sigmoid(z)) written out is
    # 0/0 where sigmoid(z) rounds to 1; that of its stable form -softplus(z) is finite.
    stable = stabilize(list(seeds), protect=wrt_list + list(known_grads or ()))
    seeds = dict(zip(stable, seeds.values()))
    grads = _backprop(seeds, wrt_list)
    result = []
    for w in wrt_list:
        g = grads.get(id(w))
        if g is None:
            if disconnected == "raise":
                raise GradientError(_why_no_gradient(w, list(seeds)))
            g = zeros_like(w) if disconnected == "zero" else None
        result.append(g)
    return result[0] if single else result


def _why_no_gradient(w: Variable, seeds) -> str:
    """Why no gradient reaches `w`: the cost does not depend on it at all, or every path
    from it passes an op that carries no gradient (argmax, a comparison, a cast to int)."""
    order = toposort(seeds)
    reach = {id(w)}
    blockers = []
    for node in order:
        if any(id(i) in reach for i in node.inputs):
            reach.update(id(o) for o in node.outputs)
            float_in = any(id(i) in reach and _differentiable(i) for i in node.inputs)
            if not node.op.differentiable or (float_in and not any(_differentiable(o) for o in node.outputs)):
                blockers.append(node)
    if not any(id(s) in reach for s in seeds):
        return (f"the cost does not depend on {w.describe()}; pass disconnected='zero' "
                f"to get zeros for it")
    first = blockers[0] if blockers else None
    where = f" at {first.loc}" if first is not None and first.loc else ""
    names = ", ".join(dict.fromkeys(n.op.name for n in blockers)) or "a non-differentiable op"
    return (f"the cost depends on {w.describe()} only through ops that carry no gradient "
            f"({names}){where}; such a path is not differentiable (pass disconnected='zero' "
            f"to get zeros for it)")


def _seeds(cost, known_grads) -> dict:
    seeds = {}
    if cost is not None:
        cost = as_variable(cost)
        if cost.ndim != 0:
            raise GradientError(f"grad: the cost must be a scalar, got {cost.type}; reduce it "
                                f"(e.g. .sum() or .mean()) or pass known_grads")
        if not _differentiable(cost):
            raise GradientError(f"grad: the cost has dtype {cost.dtype}; it must be a float")
        seeds[cost] = ones_like(cost)
    for v, g in (known_grads or {}).items():
        g = ew.cast(as_variable(g), v.dtype)
        if not shapes_agree(g.type.shape, v.type.shape):
            raise GradientError(f"known gradient of shape {format_shape(g.type.shape)} does not "
                                f"match {v.describe()}")
        seeds[v] = g
    if not seeds:
        raise GradientError("grad: give a cost or known_grads")
    return seeds


def _backprop(seeds: dict, wrt_list) -> dict:
    """{id(variable): total gradient} for every variable between wrt_list and the seeds."""
    order = toposort(list(seeds))
    reach = {id(w) for w in wrt_list}
    for node in order:
        if node.op.differentiable and any(id(i) in reach for i in node.inputs):
            reach.update(id(o) for o in node.outputs)
    contributions = {}
    for v, g in seeds.items():
        contributions.setdefault(id(v), []).append(g)
    totals = {}
    for node in reversed(order):
        outs = [contributions.get(id(o)) for o in node.outputs]
        for o, c in zip(node.outputs, outs):
            if c:
                totals[id(o)] = _total(c)
        if not node.op.differentiable or not any(outs):
            continue
        if not any(id(i) in reach and _differentiable(i) for i in node.inputs):
            continue
        out_grads = [totals.get(id(o)) if _differentiable(o) else None for o in node.outputs]
        out_grads = [g if g is not None else zeros_like(o) for g, o in zip(out_grads, node.outputs)]
        # gradient nodes point at the line of the op they differentiate
        loc = dataclasses.replace(node.loc, role=f"gradient of {node.op.name}") if node.loc else None
        with located(loc):
            in_grads = node.op.grad(list(node.inputs), list(node.outputs), out_grads)
        if len(in_grads) != len(node.inputs):
            raise GradientError(f"{node.op.name}.grad returned {len(in_grads)} gradients for "
                                f"{len(node.inputs)} inputs")
        for inp, g in zip(node.inputs, in_grads):
            if g is None or id(inp) not in reach or not _differentiable(inp) or isinstance(inp, Constant):
                continue
            contributions.setdefault(id(inp), []).append(_fit(as_variable(g), inp, node))
    for w in wrt_list:
        c = contributions.get(id(w))
        if c and id(w) not in totals:
            totals[id(w)] = _total(c)
    return totals


def _fit(g: Variable, inp: Variable, node) -> Variable:
    """`g` with the input's dtype and (after summing broadcast dims) its shape."""
    if node.op.elementwise:
        g = sum_to_like(g, inp)
    if g.dtype != inp.dtype:
        g = ew.cast(g, inp.dtype)
    if not shapes_agree(g.type.shape, inp.type.shape):
        raise GradientError(f"{node.op.name}.grad gave a gradient of shape "
                            f"{format_shape(g.type.shape)} for an input of shape "
                            f"{format_shape(inp.type.shape)}")
    return g


def vjp(outputs, wrt, cotangents):
    """Vector-Jacobian product (Theano's Lop): sum_i cotangents[i]·d outputs[i]/d wrt."""
    outputs = [outputs] if isinstance(outputs, Variable) else list(outputs)
    cotangents = [cotangents] if not isinstance(cotangents, (list, tuple)) else list(cotangents)
    return grad(None, wrt, known_grads=dict(zip(outputs, cotangents)), disconnected="zero")


def jvp(outputs, wrt, tangents):
    """Jacobian-vector product (Theano's Rop), by differentiating a vjp: the vjp is linear
    in its cotangent u, so d(vjp(u)·t)/du = J t."""
    single_out = isinstance(outputs, Variable)
    outputs = [outputs] if single_out else list(outputs)
    wrt = [wrt] if isinstance(wrt, Variable) else list(wrt)
    tangents = [tangents] if not isinstance(tangents, (list, tuple)) else list(tangents)
    dummies = [zeros_like(o) for o in outputs]
    us = [Variable(o.type, name="u") for o in outputs]
    pulled = vjp(outputs, wrt, us)
    inner = None
    for p, t in zip(pulled, tangents):
        term = ew.multiply(p, as_variable(t)).sum()
        inner = term if inner is None else inner + term
    result = grad(inner, us, disconnected="zero")
    result = replace(result, dict(zip(us, dummies)))
    return result[0] if single_out else result


def jacobian(expression, wrt):
    """d expression / d wrt, of shape expression.shape + wrt.shape (one backward pass per
    element of expression, whose size must be known when building)."""
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)
    expression = as_variable(expression)
    if not expression.type.is_concrete:
        raise GradientError(f"jacobian: the expression's shape {format_shape(expression.type.shape)} "
                            f"must be known when building")
    n = 1
    for d in expression.type.shape:
        n *= d
    flat = reshape(expression, (n,)) if expression.ndim != 1 else expression
    rows = [grad(flat[i], wrt_list, disconnected="zero") for i in range(n)]
    result = []
    for k, w in enumerate(wrt_list):
        stacked = stack([r[k] for r in rows])
        result.append(reshape(stacked, tuple(expression.type.shape) + tuple(w.shape)))
    return result[0] if single else result


def hessian(cost, wrt):
    """Second derivatives of scalar `cost`: shape wrt.shape + wrt.shape for each wrt."""
    single = isinstance(wrt, Variable)
    wrt_list = [wrt] if single else list(wrt)
    result = [jacobian(grad(cost, w, disconnected="zero"), w) for w in wrt_list]
    return result[0] if single else result
