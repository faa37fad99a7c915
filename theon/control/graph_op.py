"""`th.op_from_graph`: a subgraph used as one op (Theano's OpFromGraph).

    x = th.tensor("x", (None, 8))
    block = th.op_from_graph([x], [th.tanh(x @ W + b)], name="block")
    y = block(block(h))                # two nodes of one op, each running the subgraph

The subgraph becomes an inner graph, like a loop body: the compiler compiles it once as a
child program (so profiles and pictures show it as one op with its own instructions),
and `inline=True` has the compiler expand it into the calling graph instead, where the
outer program's rewrites can reach inside. Shared variables the subgraph reads (weights)
become extra inputs of every node, so their gradients flow as usual.

The gradient is derived by differentiating the subgraph, and is itself an
`op_from_graph` (so second derivatives work the same way); `grad=fn` overrides it with
`fn(inputs, outputs, output_grads) -> [gradient or None per input]`, where `inputs` are the
node's inputs followed by the shared variables the subgraph reads.

This module sits above autodiff (the derived gradient calls it), as control flow does.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import ClassVar

from ..autodiff import vjp
from ..errors import GradientError, InputError, ShapeError
from ..graph import Constant, InnerGraph, Shared, Variable, graph_inputs, is_float, replace, shapes_agree
from ..ops.base import Op, as_variable, user_errors

__all__ = ["GraphOp", "op_from_graph"]

# body -> its gradient op, so differentiating twice reuses one op (and hash-consing merges)
_grad_ops: "weakref.WeakKeyDictionary[InnerGraph, GraphOp]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class GraphOp(Op):
    """Inputs: the subgraph's inputs, then `closure` (the shared variables it reads)."""
    body: InnerGraph = None
    closure: tuple = field(default=(), repr=False)
    inline: bool = False
    grad_override: object = field(default=None, repr=False)
    label: str = field(default="op_from_graph", repr=False)
    allocates: ClassVar[bool] = True  # a compiled body copies outputs that alias its arguments

    @property
    def name(self) -> str:
        return self.label

    @property
    def nout(self) -> int:
        return len(self.body.outputs)

    @property
    def n_explicit(self) -> int:
        return len(self.body.inputs) - len(self.closure)

    def bodies(self) -> tuple:
        return (self.body,)

    def body_input_types(self, input_types) -> list:
        return [list(input_types)]

    def make_node(self, *inputs):
        n = self.n_explicit
        if len(inputs) != n:
            raise InputError(f"{self.label} takes {n} input(s), got {len(inputs)}")
        return super().make_node(*inputs, *self.closure)

    def infer(self, *inputs):
        for k, (given, want) in enumerate(zip(inputs, self.body.inputs)):
            if given.dtype != want.dtype or not shapes_agree(given.type.shape, want.type.shape):
                what = f"input {k} ({want.name!r})" if want.name else f"input {k}"
                raise ShapeError(f"{self.label}: {what} was {want.type} when the subgraph was made; "
                                 f"got {given.type}")
        return self.body.output_types([i.type for i in inputs])

    def kernel(self, *tensors, bodies):
        outs = bodies[0].run(*tensors)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def expand(self, inputs) -> list:
        """The subgraph rebuilt on `inputs` (what `inline=True` compiles)."""
        return replace(list(self.body.outputs), dict(zip(self.body.inputs, inputs)))

    def grad(self, inputs, outputs, output_grads):
        if self.grad_override is not None:
            result = self.grad_override(list(inputs), list(outputs), list(output_grads))
            result = [result] if isinstance(result, Variable) else list(result)
            if len(result) != len(inputs):
                raise GradientError(f"{self.label}: the grad override returned {len(result)} "
                                    f"gradient(s) for {len(inputs)} input(s) (the subgraph's inputs "
                                    f"followed by the {len(self.closure)} shared variable(s) it reads)")
            return [None if g is None else as_variable(g) for g in result]
        float_in = [is_float(v.dtype) for v in self.body.inputs]
        if not any(float_in):
            return [None] * len(inputs)
        grad_op = _grad_ops.get(self.body)
        if grad_op is None:
            grad_op = _gradient_op(self)
            _grad_ops[self.body] = grad_op
        grads = [g for g, o in zip(output_grads, outputs) if is_float(o.dtype)]
        result = grad_op(*inputs, *grads)
        result = iter(result if isinstance(result, tuple) else (result,))
        return [next(result) if f else None for f in float_in]


def _gradient_op(op: GraphOp) -> GraphOp:
    """A GraphOp computing the vjp of op's subgraph: inputs (its inputs, cotangents of its
    float outputs), outputs the gradients of its float inputs."""
    body = op.body
    fresh = [Variable(v.type, name=v.name, loc=v.loc) for v in body.inputs]
    outs = replace(list(body.outputs), dict(zip(body.inputs, fresh)))
    float_outs = [o for o in outs if is_float(o.dtype)]
    cotangents = [Variable(o.type, name=f"g_{o.name or k}") for k, o in enumerate(float_outs)]
    wrt = [v for v in fresh if is_float(v.dtype)]
    grads = vjp(float_outs, wrt, cotangents)
    inner = InnerGraph(fresh + cotangents, grads, f"{op.label}_grad")
    return GraphOp(inner, (), op.inline, None, f"{op.label}_grad")


@user_errors
def op_from_graph(inputs, outputs, inline: bool = False, grad=None, name: str = "op_from_graph"):
    """The subgraph from `inputs` to `outputs` as one op; call it on new inputs.

    inputs: variables (graph inputs or intermediates); outputs: a variable or a list (the op
    then returns a tuple). Everything else the outputs depend on must be a shared variable
    (read by every node) or a constant. inline: let the compiler expand the subgraph where
    it is used instead of compiling it as a child program. grad: override the derived
    gradient (see the module doc). name: the op's name in programs, profiles and errors.
    """
    inputs = list(inputs)
    single = isinstance(outputs, Variable)
    outputs = [outputs] if single else [as_variable(o) for o in outputs]
    if not outputs:
        raise InputError("op_from_graph: give at least one output")
    for k, v in enumerate(inputs):
        if not isinstance(v, Variable) or isinstance(v, (Constant, Shared)):
            raise InputError(f"op_from_graph: inputs[{k}] must be a symbolic variable (not a "
                             f"constant or shared variable), got {v!r}")
    if len({id(v) for v in inputs}) != len(inputs):
        raise InputError("op_from_graph: the same input is listed twice")
    if grad is not None and not callable(grad):
        raise TypeError(f"op_from_graph: grad must be a function, got {grad!r}")
    fresh = [Variable(v.type, name=v.name, loc=v.loc) for v in inputs]
    body_outs = replace(outputs, dict(zip(inputs, fresh)))
    taken = {id(v) for v in fresh}
    closure, missing = [], []
    for v in graph_inputs(body_outs):
        if id(v) in taken:
            continue
        (closure if isinstance(v, Shared) else missing).append(v)
    if missing:
        raise InputError("op_from_graph: the outputs depend on variable(s) not listed in inputs: "
                         + ", ".join(v.describe() + (f" (made at {v.loc})" if v.loc else "")
                                     for v in missing))
    stand_ins = [Variable(s.type, name=s.name) for s in closure]
    if closure:
        body_outs = replace(body_outs, dict(zip(closure, stand_ins)))
    body = InnerGraph(fresh + stand_ins, body_outs, name)
    return GraphOp(body, tuple(closure), bool(inline), grad, name)
