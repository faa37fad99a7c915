"""`while_loop`: repeat a body while a predicate holds.

The predicate and the body are inner graphs compiled with the outer program. The reverse
gradient needs `max_iters`: it is the vjp of the equivalent scan of max_iters masked steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import DTypeError, GradientError, ShapeError
from ..graph import Constant, InnerGraph, Variable, replace, shapes_agree
from ..ops.base import Op, as_variable, user_errors
from ..ops.elementwise import logical_and, where
from .scan import scan
from .trace import trace
from .vjp import differentiable, stand_ins, vjp


@dataclass(frozen=True)
class While(Op):
    """Inputs: initial state, cond closure, body closure. Outputs: the final state."""
    cond_body: InnerGraph = None
    body: InnerGraph = None
    n_state: int = 0
    n_cond_closure: int = 0
    max_iters: int | None = None
    name: ClassVar[str] = "while_loop"
    capturable: ClassVar[bool] = False  # reads the condition on the host: a data-dependent trip count
    allocates: ClassVar[bool] = True  # zero iterations return copies of the initial state

    @property
    def nout(self) -> int:
        return self.n_state

    def _split(self, inputs):
        n, nc = self.n_state, self.n_cond_closure
        return inputs[:n], inputs[n:n + nc], inputs[n + nc:]

    def bodies(self) -> tuple:
        return (self.cond_body, self.body)

    def body_input_types(self, input_types) -> list:
        state, c_clo, b_clo = self._split(list(input_types))
        return [state + c_clo, state + b_clo]

    def infer(self, *inputs):
        state = [i.type for i in inputs[:self.n_state]]
        _, body_in = self.body_input_types([i.type for i in inputs])
        for k, (s, new) in enumerate(zip(state, self.body.output_types(body_in))):
            if s.dtype != new.dtype or not shapes_agree(s.shape, new.shape):
                line = self.body.outputs[k].loc
                raise ShapeError(f"state {k} enters the body as {s} but the body "
                                 f"returns {new}; the state must keep its dtype and shape"
                                 + (f"\n  body line: {line}" if line else ""))
        return state

    def kernel(self, *args, bodies):
        state, c_clo, b_clo = self._split(list(args))
        test, run = bodies[0].run, bodies[1].run
        iters = 0
        while self.max_iters is None or iters < self.max_iters:
            if not bool(test(*state, *c_clo)[0]):
                break
            state = list(run(*state, *b_clo))
            iters += 1
        if iters == 0:
            state = [s.clone() for s in state]
        return state[0] if len(state) == 1 else tuple(state)

    def grad(self, inputs, outputs, output_grads):
        if self.max_iters is None:
            raise GradientError("while_loop is differentiable only with max_iters: its reverse "
                                "pass replays at most max_iters steps (pass max_iters=...)")
        stand = stand_ins(inputs)
        final = self._as_scan(stand)
        diff = [s for s in stand if differentiable(s)]
        grads = vjp([f for f in final if differentiable(f)], diff,
                    [g for g, o in zip(output_grads, outputs) if differentiable(o)])
        grads = replace(grads, dict(zip(stand, inputs)))
        it = iter(grads)
        return [next(it) if differentiable(v) else None for v in inputs]

    def _as_scan(self, inputs):
        """The loop as a scan of max_iters masked steps: same values, differentiable."""
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
        c_graph, _, c_out, c_clo = trace(lambda *s: cond_fn(*s), tuple(inner), inner, "while_cond")
        if len(c_out) != 1 or c_out[0].ndim != 0:
            raise ShapeError(f"while_loop: cond_fn must return one scalar, got "
                             f"{', '.join(str(c.type) for c in c_out)}")
        if c_out[0].dtype != "bool":
            c_graph = InnerGraph(c_graph.inputs, [c_graph.outputs[0].astype("bool")], "while_cond")
        b_graph, _, b_out, b_clo = trace(
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
