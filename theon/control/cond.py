"""`cond`: run one of two branches, chosen when the function runs.

Both branches are inner graphs compiled with the outer program; the kernel reads the
predicate and runs one. The gradient is a `cond` of the two branches' vjps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..errors import DTypeError, ShapeError
from ..graph import InnerGraph, TensorType, Variable, replace, shapes_agree
from ..ops.base import Op, as_variable, user_errors
from ..ops.constructors import zeros_like
from . import pytree
from .trace import trace
from .vjp import differentiable, stand_ins, vjp


def merge_types(a: TensorType, b: TensorType, what: str, lines=()) -> TensorType:
    """The type both branches' values fit (dims known in one branch only stay unknown
    unless equal); an error naming both branches' lines when no value could fit both."""
    if a.dtype != b.dtype or not shapes_agree(a.shape, b.shape):
        where = "".join(f"\n  {label}: {loc}" for label, loc in lines if loc is not None)
        raise ShapeError(f"{what + ': ' if what else ''}the branches give {a} and {b}; both must give the same "
                         f"dtype and shape{where}")
    return TensorType(a.dtype, tuple(x if x == y else (x if y is None else y if x is None else None)
                                     for x, y in zip(a.shape, b.shape)))


def _scalar_bool(pred) -> Variable:
    pred = as_variable(pred)
    if pred.ndim != 0:
        raise ShapeError(f"the predicate must be a scalar, got {pred.type}")
    return pred if pred.dtype == "bool" else pred.astype("bool")


@dataclass(frozen=True)
class Cond(Op):
    """Inputs: pred, operands, true closure, false closure. Runs one branch."""
    true_body: InnerGraph = None
    false_body: InnerGraph = None
    n_operands: int = 0
    n_true_closure: int = 0
    name: ClassVar[str] = "cond"
    capturable: ClassVar[bool] = False  # reads the predicate on the host to pick a branch
    allocates: ClassVar[bool] = True  # a body's outputs never alias its arguments

    @property
    def nout(self) -> int:
        return len(self.true_body.outputs)

    def _split(self, inputs):
        n, nt = self.n_operands, self.n_true_closure
        return inputs[0], inputs[1:1 + n], inputs[1 + n:1 + n + nt], inputs[1 + n + nt:]

    def bodies(self) -> tuple:
        return (self.true_body, self.false_body)

    def body_input_types(self, input_types) -> list:
        _, operands, t_clo, f_clo = self._split(list(input_types))
        return [operands + t_clo, operands + f_clo]

    def infer(self, *inputs):
        t_in, f_in = self.body_input_types([i.type for i in inputs])
        t_types = self.true_body.output_types(t_in)
        f_types = self.false_body.output_types(f_in)
        return [merge_types(a, b, "", (("true branch", ta.loc), ("false branch", fb.loc)))
                for a, b, ta, fb in zip(t_types, f_types, self.true_body.outputs,
                                        self.false_body.outputs)]

    def kernel(self, pred, *rest, bodies):
        _, operands, t_clo, f_clo = self._split((pred,) + rest)
        taken = bool(pred)
        body, closure = (bodies[0], t_clo) if taken else (bodies[1], f_clo)
        outs = body.run(*operands, *closure)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def grad(self, inputs, outputs, output_grads):
        pred, operands, t_clo, f_clo = self._split(inputs)
        all_in = list(operands) + list(t_clo) + list(f_clo)
        if not any(differentiable(v) for v in all_in):
            return [None] * len(inputs)
        float_gs = [g for g, o in zip(output_grads, outputs) if differentiable(o)]
        n, nt = self.n_operands, self.n_true_closure

        def branch(body, closure_slice, offset):
            def fn(*args):
                ops, gs = args[:n], args[n:]
                stand = stand_ins(body.inputs)
                outs = replace(list(body.outputs), dict(zip(body.inputs, stand)))
                grads = vjp([o for o in outs if differentiable(o)], stand, gs)
                back = dict(zip(stand[:n], ops))
                back.update(zip(stand[n:], closure_slice))
                grads = replace(grads, back)
                full = [None] * len(all_in)
                full[:n] = grads[:n]
                for k in range(len(closure_slice)):
                    full[offset + k] = grads[n + k]
                return tuple(g if g is not None else zeros_like(v)
                             for g, v in zip(full, all_in) if differentiable(v))
            return fn

        grads = cond(pred, branch(self.true_body, t_clo, n), branch(self.false_body, f_clo, n + nt),
                     *operands, *float_gs)
        grads = list(grads) if isinstance(grads, tuple) else [grads]
        it = iter(grads)
        return [None] + [next(it) if differentiable(v) else None for v in inputs[1:]]


@user_errors
def cond(pred, true_fn, false_fn, *operands):
    """`true_fn(*operands) if pred else false_fn(*operands)`, chosen when the function runs.

    Both branches must return the same structure of tensors with matching dtypes and
    shapes. Only the branch taken runs.
    """
    if isinstance(pred, bool):
        return true_fn(*operands) if pred else false_fn(*operands)
    pred = _scalar_bool(pred)
    leaves, op_def = pytree.flatten(operands)
    leaves = [as_variable(v) for v in leaves]
    inner = [Variable(v.type, name=f"operand{i}") for i, v in enumerate(leaves)]
    args = pytree.unflatten(op_def, inner)
    t_graph, t_def, t_out, t_clo = trace(true_fn, args, inner, "cond_true", hoist=False)
    f_graph, f_def, f_out, f_clo = trace(false_fn, args, inner, "cond_false", hoist=False)
    if t_def != f_def:
        raise TypeError(f"cond: true_fn returns {pytree.describe(t_def)} but false_fn returns "
                        f"{pytree.describe(f_def)}")
    for a, b in zip(t_out, f_out):
        if a.dtype != b.dtype:
            raise DTypeError(f"cond: branches give {a.type} and {b.type}")
    op = Cond(t_graph, f_graph, len(leaves), len(t_clo))
    outs = op(pred, *leaves, *t_clo, *f_clo)
    outs = outs if isinstance(outs, tuple) else (outs,)
    return pytree.unflatten(t_def, list(outs))
