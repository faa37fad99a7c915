"""`scan`: a loop over the leading axis of sequences, threading a carry.

The op's body is an inner graph; the compiler compiles it with the outer program and the
kernel calls it once per step, writing each step's outputs into preallocated stacks.
Its gradient is a reverse scan over the carries the forward loop kept (`history`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..backend.interop import torch_dtype
from ..errors import DTypeError, ShapeError
from ..graph import Constant, InnerGraph, TensorType, Variable, format_shape, replace, shapes_agree, toposort
from ..ops.base import Op, as_variable, user_errors
from ..ops.constructors import zeros_like
from ..ops.elementwise import add, multiply
from . import pytree
from .trace import trace
from .vjp import differentiable, stand_ins, vjp


@dataclass(frozen=True)
class Scan(Op):
    """Inputs: init carries, sequences, closure. Outputs: final carries, stacked ys, and
    with `history` the stacked carries before each step (what the gradient needs)."""
    body: InnerGraph = None
    n_carry: int = 0
    n_seq: int = 0
    length: int | None = None
    reverse: bool = False
    history: bool = False
    dynamic_length: bool = False  # the step count is an input (after the sequences)
    # False keeps the loop a loop: the reference of the fused LSTM op (control/rnn.py) is a
    # scan that must not be replaced by that op again (control/rnn_match.py)
    fusable: bool = True
    name: ClassVar[str] = "scan"
    # outputs are the kernel's own stacks and the body's (copied) outputs
    allocates: ClassVar[bool] = True

    @property
    def n_y(self) -> int:
        return len(self.body.outputs) - self.n_carry

    @property
    def nout(self) -> int:
        return self.n_carry + self.n_y + (self.n_carry if self.history else 0)

    def superset(self):
        """The op computing everything this one does and more (see compile's merge pass)."""
        return None if self.history else dataclasses.replace(self, history=True)

    def bodies(self) -> tuple:
        return (self.body,)

    def split(self, inputs) -> tuple:
        """(carries, sequences, step-count input or None, closure)."""
        nc, ns = self.n_carry, self.n_seq
        k = nc + ns + int(self.dynamic_length)
        return (list(inputs[:nc]), list(inputs[nc:nc + ns]),
                inputs[nc + ns] if self.dynamic_length else None, list(inputs[k:]))

    def body_input_types(self, input_types) -> list:
        carries, seqs, _, closure = self.split(input_types)
        return [carries + [TensorType(t.dtype, t.shape[1:]) for t in seqs] + closure]

    def _steps(self, inputs) -> int | None:
        _, seqs, n, _ = self.split(inputs)
        known = {s.type.shape[0] for s in seqs if s.type.shape[0] is not None}
        if len(known) > 1:
            raise ShapeError("the sequences have different lengths: "
                             + ", ".join(format_shape(s.type.shape) for s in seqs))
        length = self.length
        if n is not None and isinstance(n, Constant):
            length = int(n.value)
        if known and length is not None and known != {length}:
            raise ShapeError(f"length={length} but the sequences have length {known.pop()}")
        return known.pop() if known else length

    def infer(self, *inputs):
        nc = self.n_carry
        steps = self._steps(inputs)
        types = self.body.output_types(self.body_input_types([i.type for i in inputs])[0])
        carries = [i.type for i in inputs[:nc]]
        for k, (c, new) in enumerate(zip(carries, types[:nc])):
            if c.dtype != new.dtype or not shapes_agree(c.shape, new.shape):
                line = self.body.outputs[k].loc
                raise ShapeError(f"carry {k} enters the body as {c} but the body returns "
                                 f"{new}; a carry must keep its dtype and shape"
                                 + (f"\n  body line: {line}" if line else ""))
        ys = [TensorType(t.dtype, (steps,) + tuple(t.shape)) for t in types[nc:]]
        hist = [TensorType(c.dtype, (steps,) + tuple(c.shape)) for c in carries] if self.history else []
        return carries + ys + hist

    @property
    def capturable(self) -> bool:
        """A step count given as a tensor is read on the host; a static one is not."""
        return not self.dynamic_length

    def kernel(self, *args, bodies):
        nc = self.n_carry
        run = bodies[0].run
        carries, seqs, n, consts = self.split(args)
        steps = seqs[0].shape[0] if seqs else (int(n) if n is not None else self.length)
        if n is not None and steps != int(n):
            raise ShapeError(f"length={int(n)} but the sequences have length {steps}")
        if steps < 0:
            raise ShapeError(f"length must be >= 0, got {steps}")
        device = args[0].device if args else torch.device("cpu")
        ys = hist = None
        slices = [s.unbind(0) for s in seqs]  # all step views at once: cheaper than s[t]
        for step in range(steps):
            t = steps - 1 - step if self.reverse else step
            xs_t = [s[t] for s in slices]
            if self.history:
                if hist is None:
                    hist = [torch.empty((steps,) + tuple(c.shape), dtype=c.dtype, device=device)
                            for c in carries]
                for h, c in zip(hist, carries):
                    h[t].copy_(c)
            outs = run(*carries, *xs_t, *consts)
            carries = list(outs[:nc])
            if ys is None:
                ys = [torch.empty((steps,) + tuple(y.shape), dtype=y.dtype, device=device)
                      for y in outs[nc:]]
            for buf, y in zip(ys, outs[nc:]):
                buf[t].copy_(y)
        if steps == 0:
            carries = [c.clone() for c in carries]
            ys = [_empty_stack(t, device) for t in bodies[0].output_types[nc:]]
            hist = [torch.empty((0,) + tuple(c.shape), dtype=c.dtype, device=device)
                    for c in carries] if self.history else None
        result = tuple(carries) + tuple(ys) + (tuple(hist) if self.history else ())
        return result[0] if len(result) == 1 else result

    def grad(self, inputs, outputs, output_grads):
        return _scan_grad(self, inputs, output_grads)


def _empty_stack(t: TensorType, device):
    return torch.empty((0,) + tuple(t.shape), dtype=torch_dtype(t.dtype), device=device)


@user_errors
def scan(f, init, xs=None, length: int | None = None, reverse: bool = False, fuse: bool = True):
    """Loop `f` over the leading axis of `xs`, threading a carry; exactly this Python code:

        carry = init; ys = []
        for x in (reversed(xs) if reverse else xs): carry, y = f(carry, x); ys.append(y)
        return carry, stack(ys)        # with reverse, ys[t] still belongs to xs[t]

    init, xs and the results may be nested tuples, lists or dicts of tensors. Variables
    `f` reads from outside (weights) are found automatically. `length` (steps, for a scan
    with no sequences) may be an int or a symbolic integer scalar.

    From Theano: `sequences` are `xs` (several: a tuple); `outputs_info` initial values are
    the carry; `non_sequences` need nothing; `n_steps` is `length`; a sequence tap k is the
    sequence shifted by k (`x[k:]`); output taps [-2, -1] keep the last two values in the
    carry; `go_backwards` is `reverse` (but theon keeps ys[t] aligned with xs[t]).
    `theon.compat.theano_scan` takes Theano's signature as is:

        # Theano: result, updates = theano.scan(lambda prior, A: prior * A,
        #                                       outputs_info=T.ones_like(A), non_sequences=A, n_steps=k)
        _, powers = th.scan(lambda prior, _: (prior * A, prior * A), init=th.ones_like(A), length=k)

    A scan whose body is an LSTM cell over projected inputs (`x @ W.T + b` outside, the
    cell in torch's gate order i, f, g, o inside) runs as the fused LSTM kernel, forward and
    backward (see control/rnn_match.py); `fuse=False` keeps it the loop as written.
    """
    c_leaves, c_def = pytree.flatten(init)
    c_leaves = [as_variable(c) for c in c_leaves]
    x_leaves, x_def = pytree.flatten(xs)
    x_leaves = [as_variable(x) for x in x_leaves]
    steps = _scan_length(x_leaves, length)
    for attempt in range(2):
        carry_in = [Variable(c.type, name=f"carry{i}") for i, c in enumerate(c_leaves)]
        x_in = [Variable(TensorType(x.dtype, x.type.shape[1:]), name=f"x{i}") for i, x in enumerate(x_leaves)]

        def body(carry, x):
            out = f(carry, x)
            if not (isinstance(out, tuple) and len(out) == 2):
                raise TypeError("scan: f must return a pair (new_carry, y)")
            return out

        graph, out_def, out_leaves, closure = trace(
            body, (pytree.unflatten(c_def, carry_in), pytree.unflatten(x_def, x_in)),
            carry_in + x_in, "scan_body")
        new_c_def = out_def[1][0]
        if new_c_def != c_def:
            raise TypeError(f"scan: f returned a carry of structure {pytree.describe(new_c_def)}; "
                            f"init has {pytree.describe(c_def)}")
        nc = len(c_leaves)
        retrace = False
        for i, (c, new) in enumerate(zip(c_leaves, out_leaves[:nc])):
            if c.dtype == new.dtype and shapes_agree(c.type.shape, new.type.shape):
                continue
            if isinstance(c, Constant) and c.weak and new.ndim == c.ndim and attempt == 0:
                c_leaves[i] = as_variable(c.value.astype(new.dtype))
                retrace = True
                continue
            raise DTypeError(f"scan: f returns carry {i} as {new.type}, but init gives "
                             f"{c.type}" + (f"\n  at {new.owner.loc}" if new.owner and new.owner.loc else ""))
        if not retrace:
            break
    y_def = out_def[1][1]
    nc = len(c_leaves)
    graph, extra = _step_dependent_draws(graph, nc, len(x_leaves))
    n_var = steps if isinstance(steps, Variable) else None
    static = None if n_var is not None or x_leaves else steps
    op = Scan(graph, nc + len(extra), len(x_leaves), static, bool(reverse),
              dynamic_length=n_var is not None, fusable=bool(fuse))
    outs = op(*c_leaves, *extra, *x_leaves, *([n_var] if n_var is not None else []), *closure)
    outs = outs if isinstance(outs, tuple) else (outs,)
    n_all = nc + len(extra)
    return pytree.unflatten(c_def, outs[:nc]), pytree.unflatten(y_def, outs[n_all:n_all + op.n_y])


def _step_dependent_draws(graph: InnerGraph, nc: int, ns: int):
    """Random draws in a body read the RNG counter from outside the loop, so every step
    would draw the same numbers. Give such bodies a hidden step carry and mix it into the
    counter the draws see. Returns (graph, extra initial carries)."""
    inner_ids = {id(v) for v in graph.inputs[nc + ns:]}
    counters = []
    for node in toposort(graph.outputs):
        if node.op.impure and len(node.inputs) > 1 and id(node.inputs[1]) in inner_ids:
            if all(c is not node.inputs[1] for c in counters):
                counters.append(node.inputs[1])
    if not counters:
        return graph, []
    step = Variable(TensorType("int64", ()), name="step")
    mixed = {c: add(multiply(c, 1_000_003), step) for c in counters}
    body_out = replace(list(graph.outputs), mixed)
    outputs = body_out[:nc] + [add(step, 1)] + body_out[nc:]
    inputs = list(graph.inputs[:nc]) + [step] + list(graph.inputs[nc:])
    return InnerGraph(inputs, outputs, graph.label), [as_variable(np.int64(0))]


def _scan_length(x_leaves, length):
    """The step count: an int, a symbolic int scalar (a Variable), or None (the sequences'
    length, known at the call)."""
    if isinstance(length, Variable) and not isinstance(length, Constant):
        if length.ndim != 0 or not length.dtype.startswith(("int", "uint")):
            raise ShapeError(f"scan: length must be an int or an integer scalar tensor, got {length.type}")
        if not x_leaves:
            return length.astype("int64") if length.dtype != "int64" else length
    elif length is not None:
        length = int(length.value) if isinstance(length, Constant) else int(length)
        if length < 0:
            raise ShapeError(f"scan: length must be >= 0, got {length}")
    for x in x_leaves:
        if x.ndim == 0:
            raise ShapeError(f"scan: each sequence needs a leading axis to loop over; got {x.type}")
    known = {x.type.shape[0] for x in x_leaves if x.type.shape[0] is not None}
    if len(known) > 1:
        raise ShapeError("scan: sequences have different lengths: "
                         + ", ".join(format_shape(x.type.shape) for x in x_leaves))
    if not x_leaves and length is None:
        raise ShapeError("scan: with no sequences, give length=")
    if isinstance(length, Variable):  # with sequences: their length, checked at the call
        return length.astype("int64") if length.dtype != "int64" else length
    if length is not None and known and known != {length}:
        raise ShapeError(f"scan: length={length} but the sequences have length {known.pop()}")
    return length if length is not None else (known.pop() if known else None)


def _scan_grad(op: Scan, inputs, output_grads):
    """The reverse scan: step t's vjp of the body at (carry_t, x_t), carries accumulating
    the closure's gradients; forward carries come from the history outputs."""
    nc, ns = op.n_carry, op.n_seq
    ny = op.n_y
    init, seqs, _, consts = op.split(inputs)
    w0 = len(inputs) - len(consts)  # where the closure starts among the inputs
    g_final, g_ys = output_grads[:nc], output_grads[nc:nc + ny]
    g_hist = output_grads[nc + ny:] if op.history else []
    hist = dataclasses.replace(op, history=True)(*inputs)[nc + ny:]
    body = op.body
    c_in, x_in, w_in = body.inputs[:nc], body.inputs[nc:nc + ns], body.inputs[nc + ns:]
    fc = [i for i in range(nc) if differentiable(init[i])]
    fx = [j for j in range(ns) if differentiable(seqs[j])]
    fw = [k for k in range(len(consts)) if differentiable(consts[k])]
    fy = [k for k in range(ny) if differentiable(body.outputs[nc + k])]

    def step(carry, seq):
        gc, gw = carry
        hc, xt, gyt, ght = seq
        stand_in = stand_ins(w_in)
        mapping = dict(zip(c_in, hc))
        mapping.update(zip(x_in, xt))
        mapping.update(zip(w_in, stand_in))
        outs = replace(list(body.outputs), mapping)
        wrt = [hc[i] for i in fc] + [xt[j] for j in fx] + [stand_in[k] for k in fw]
        seeded = [outs[i] for i in fc] + [outs[nc + k] for k in fy]
        grads = vjp(seeded, wrt, list(gc) + list(gyt))
        grads = replace(grads, dict(zip(stand_in, consts)))
        new_gc = grads[:len(fc)]
        if ght:  # the history output read carry t directly
            new_gc = [g + h for g, h in zip(new_gc, ght)]
        gx = grads[len(fc):len(fc) + len(fx)]
        new_gw = [a + b for a, b in zip(gw, grads[len(fc) + len(fx):])]
        return (new_gc, new_gw), gx

    init_b = ([g_final[i] for i in fc], [zeros_like(consts[k]) for k in fw])
    xs_b = (list(hist), list(seqs), [g_ys[k] for k in fy], [g_hist[i] for i in fc] if g_hist else [])
    (g_init, g_w), g_xs = scan(step, init_b, xs_b, reverse=not op.reverse)
    result = [None] * len(inputs)
    for i, g in zip(fc, g_init):
        result[i] = g
    for j, g in zip(fx, g_xs):
        result[nc + j] = g
    for k, g in zip(fw, g_w):
        result[w0 + k] = g
    return result
