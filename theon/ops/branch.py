"""`cond` and `while_loop`: data-dependent control flow with compiled bodies."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import DTypeError, GradientError, ShapeError
from ..graph import Constant, TensorType, Variable, replace, shapes_agree
from . import pytree
from .base import Op, as_variable, user_errors
from .inner import InnerGraph, trace


def _is_float(v) -> bool:
    return v.dtype.startswith("float") or v.dtype.startswith("complex")


def _merge(a: TensorType, b: TensorType, what: str) -> TensorType:
    if a.dtype != b.dtype or not shapes_agree(a.shape, b.shape):
        raise ShapeError(f"{what}: the branches give {a} and {b}")
    return TensorType(a.dtype, tuple(x if x == y else (x if y is None else y if x is None else None)
                                     for x, y in zip(a.shape, b.shape)))


def _scalar_bool(pred) -> Variable:
    pred = as_variable(pred)
    if pred.ndim != 0:
        raise ShapeError(f"the predicate must be a scalar, got {pred.type}")
    return pred if pred.dtype == "bool" else pred.astype("bool")


def _stand_ins(variables):
    return [Variable(v.type, name=v.name) for v in variables]


def _vjp(outputs, wrt, cotangents):
    """Gradients of `outputs` against cotangents, w.r.t. independent variables `wrt`."""
    from ..autodiff import grad
    from .constructors import zeros_like
    known = {}
    for o, g in zip(outputs, cotangents):
        if _is_float(o):
            known[o] = known[o] + g if o in known else g
    if not known or not wrt:
        return [zeros_like(w) for w in wrt]
    return grad(None, wrt, known_grads=known, disconnected="zero")


# ---- cond ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cond(Op):
    """Inputs: pred, operands, true closure, false closure. Runs one branch."""
    true_body: InnerGraph = None
    false_body: InnerGraph = None
    n_operands: int = 0
    n_true_closure: int = 0
    name: ClassVar[str] = "cond"

    @property
    def nout(self) -> int:
        return len(self.true_body.outputs)

    def _split(self, inputs):
        n, nt = self.n_operands, self.n_true_closure
        return inputs[0], inputs[1:1 + n], inputs[1 + n:1 + n + nt], inputs[1 + n + nt:]

    def infer(self, *inputs):
        return [_merge(a.type, b.type, "cond")
                for a, b in zip(self.true_body.outputs, self.false_body.outputs)]

    def kernel(self, pred, *rest):
        _, operands, t_clo, f_clo = self._split((pred,) + rest)
        taken = bool(pred)
        body, closure = (self.true_body, t_clo) if taken else (self.false_body, f_clo)
        args = list(operands) + list(closure)
        device = pred.device
        outs = body.runner(args, device)(*args)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def grad(self, inputs, outputs, output_grads):
        pred, operands, t_clo, f_clo = self._split(inputs)
        diff = [v for v in list(operands) + list(t_clo) + list(f_clo) if _is_float(v)]
        if not diff:
            return [None] * len(inputs)
        float_gs = [g for g, o in zip(output_grads, outputs) if _is_float(o)]
        n, nt = self.n_operands, self.n_true_closure

        def branch(body, closure_slice):
            def fn(*args):
                ops, gs = args[:n], args[n:]
                stand = _stand_ins(body.inputs)
                outs = replace(list(body.outputs), dict(zip(body.inputs, stand)))
                grads = _vjp([o for o in outs if _is_float(o)], stand, gs)
                back = dict(zip(stand[:n], ops))
                back.update(zip(stand[n:], closure_slice))
                grads = replace(grads, back)
                full = [None] * (len(inputs) - 1)
                for k in range(n):
                    full[k] = grads[k]
                offset = n if body is self.true_body else n + nt
                for k in range(len(closure_slice)):
                    full[offset + k] = grads[n + k]
                from .constructors import zeros_like
                all_in = list(operands) + list(t_clo) + list(f_clo)
                return tuple(g if g is not None else zeros_like(v)
                             for g, v in zip(full, all_in) if _is_float(v))
            return fn

        grads = cond(pred, branch(self.true_body, t_clo), branch(self.false_body, f_clo),
                     *operands, *float_gs)
        grads = list(grads) if isinstance(grads, tuple) else [grads]
        it = iter(grads)
        return [None] + [next(it) if _is_float(v) else None for v in inputs[1:]]


@user_errors
def cond(pred, true_fn, false_fn, *operands):
    """`true_fn(*operands) if pred else false_fn(*operands)`, chosen when the function runs.

    Both branches must return the same structure of tensors with matching dtypes and
    ranks. Only the branch taken runs.
    """
    if isinstance(pred, bool):
        return true_fn(*operands) if pred else false_fn(*operands)
    pred = _scalar_bool(pred)
    leaves, op_def = pytree.flatten(operands)
    leaves = [as_variable(v) for v in leaves]
    inner = [Variable(v.type, name=f"operand{i}") for i, v in enumerate(leaves)]
    args = pytree.unflatten(op_def, inner)
    t_graph, t_def, t_out, t_clo = trace(true_fn, args, inner, "cond_true")
    f_graph, f_def, f_out, f_clo = trace(false_fn, args, inner, "cond_false")
    if t_def != f_def:
        raise TypeError(f"cond: true_fn returns {pytree.describe(t_def)} but false_fn returns "
                        f"{pytree.describe(f_def)}")
    for a, b in zip(t_out, f_out):
        if a.dtype != b.dtype:
            raise DTypeError(f"cond: branches give {a.type} and {b.type}")
        _merge(a.type, b.type, "cond")
    op = Cond(t_graph, f_graph, len(leaves), len(t_clo))
    outs = op(pred, *leaves, *t_clo, *f_clo)
    outs = outs if isinstance(outs, tuple) else (outs,)
    return pytree.unflatten(t_def, list(outs))


# ---- while_loop ------------------------------------------------------------------------

@dataclass(frozen=True)
class While(Op):
    """Inputs: initial state, cond closure, body closure. Outputs: the final state."""
    cond_body: InnerGraph = None
    body: InnerGraph = None
    n_state: int = 0
    n_cond_closure: int = 0
    max_iters: int | None = None
    name: ClassVar[str] = "while_loop"

    @property
    def nout(self) -> int:
        return self.n_state

    def _split(self, inputs):
        n, nc = self.n_state, self.n_cond_closure
        return inputs[:n], inputs[n:n + nc], inputs[n + nc:]

    def infer(self, *inputs):
        return [i.type for i in inputs[:self.n_state]]

    def kernel(self, *args):
        state, c_clo, b_clo = self._split(list(args))
        device = (state + c_clo + b_clo)[0].device
        test = run = None
        iters = 0
        while self.max_iters is None or iters < self.max_iters:
            if test is None:
                test = self.cond_body.runner(state + c_clo, device)
            if not bool(test(*state, *c_clo)[0]):
                break
            if run is None:
                run = self.body.runner(state + b_clo, device)
            state = list(run(*state, *b_clo))
            iters += 1
        return state[0] if len(state) == 1 else tuple(state)

    def grad(self, inputs, outputs, output_grads):
        if self.max_iters is None:
            raise GradientError("while_loop is differentiable only with max_iters: its reverse "
                                "pass replays at most max_iters steps (pass max_iters=...)")
        stand = _stand_ins(inputs)
        final = self._as_scan(stand)
        diff = [s for s in stand if _is_float(s)]
        grads = _vjp([f for f in final if _is_float(f)], diff,
                     [g for g, o in zip(output_grads, outputs) if _is_float(o)])
        grads = replace(grads, dict(zip(stand, inputs)))
        it = iter(grads)
        return [next(it) if _is_float(v) else None for v in inputs]

    def _as_scan(self, inputs):
        """The loop as a scan of max_iters masked steps: same values, differentiable."""
        from .control import scan
        from .elementwise import logical_and, where
        state, c_clo, b_clo = self._split(list(inputs))
        n = self.n_state

        def step(carry, _):
            st, active = carry[:n], carry[n]
            go = logical_and(active, replace([self.cond_body.outputs[0]],
                                             dict(zip(self.cond_body.inputs, list(st) + c_clo)))[0])
            new = replace(list(self.body.outputs), dict(zip(self.body.inputs, list(st) + b_clo)))
            return tuple(where(go, a, b) for a, b in zip(new, st)) + (go,), None

        carry, _ = scan(step, tuple(state) + (as_variable(True),), None, length=self.max_iters)
        return list(carry[:n])


@user_errors
def while_loop(cond_fn, body_fn, init, max_iters: int | None = None):
    """Exactly this Python code, compiled:

        state = init; i = 0
        while cond_fn(*state) and (max_iters is None or i < max_iters):
            state = body_fn(*state); i += 1
        return state

    `init` is a tuple of tensors (or one tensor); body_fn returns the same structure.
    Reverse-mode gradients need max_iters.
    """
    single = not isinstance(init, (tuple, list))
    state = [as_variable(v) for v in ([init] if single else list(init))]
    if max_iters is not None and (not isinstance(max_iters, int) or max_iters < 0):
        raise ValueError(f"while_loop: max_iters must be a non-negative int, got {max_iters!r}")
    for attempt in range(2):
        inner = [Variable(v.type, name=f"state{i}") for i, v in enumerate(state)]
        c_graph, c_def, c_out, c_clo = trace(lambda *s: cond_fn(*s), tuple(inner), inner, "while_cond")
        if len(c_out) != 1 or c_out[0].ndim != 0:
            raise ShapeError(f"while_loop: cond_fn must return one scalar, got "
                             f"{', '.join(str(c.type) for c in c_out)}")
        if c_out[0].dtype != "bool":
            c_graph = InnerGraph(c_graph.inputs, [c_graph.outputs[0].astype("bool")], "while_cond")
        b_graph, b_def, b_out, b_clo = trace(
            lambda *s: (lambda r: tuple(r) if isinstance(r, (tuple, list)) else (r,))(body_fn(*s)),
            tuple(inner), inner, "while_body")
        if len(b_out) != len(state):
            raise TypeError(f"while_loop: body_fn returns {len(b_out)} values for a state of {len(state)}")
        retrace = False
        for i, (s, b) in enumerate(zip(state, b_out)):
            if s.dtype == b.dtype and shapes_agree(s.type.shape, b.type.shape):
                continue
            if isinstance(s, Constant) and s.weak and s.ndim == b.ndim and attempt == 0:
                state[i] = as_variable(s.value.astype(b.dtype))
                retrace = True
                continue
            raise DTypeError(f"while_loop: body_fn returns state {i} as {b.type}, but init gives {s.type}")
        if not retrace:
            break
    op = While(c_graph, b_graph, len(state), len(c_clo), max_iters)
    outs = op(*state, *c_clo, *b_clo)
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    return outs[0] if single else tuple(outs)
