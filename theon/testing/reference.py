"""A tiny evaluator of any graph, one node at a time with no compiler passes: the oracle the
tests compare compiled programs against (rewrites, buffer reuse and in-place writes must not
change any value)."""
from __future__ import annotations

import numpy as np
import torch

from ..backend.interop import to_numpy, to_torch
from ..graph import Constant, Shared, toposort


def evaluate(outputs, givens: dict, device="cpu") -> list:
    """Values of `outputs` (NumPy arrays) given {input variable: array}."""
    device = torch.device(device)
    values = {id(k): to_torch(np.asarray(v), dtype=k.dtype, device=device) for k, v in givens.items()}

    def value(v):
        if id(v) not in values:
            if isinstance(v, Constant):
                values[id(v)] = to_torch(v.value, device=device)
            elif isinstance(v, Shared):
                values[id(v)] = v.get_tensor().to(device)
            else:
                raise KeyError(f"no value given for {v}")
        return values[id(v)]

    for node in toposort(outputs):
        args = [value(i).clone() for i in node.inputs]
        kwargs = {"device": device} if node.op.needs_device else {}
        if node.op.bodies():
            types = node.op.body_input_types([i.type for i in node.inputs])
            kwargs["bodies"] = tuple(_Body(g, t, device) for g, t in zip(node.op.bodies(), types))
        result = node.op.kernel(*args, **kwargs)
        results = result if node.op.nout > 1 else (result,)
        for o, r in zip(node.outputs, results):
            values[id(o)] = r
    return [to_numpy(value(o)).copy() for o in outputs]


class _Body:
    """A loop or branch body run by this evaluator, as control-flow kernels expect."""

    def __init__(self, graph, input_types, device):
        self.graph = graph
        self.device = device
        self.output_types = graph.output_types(input_types)

    def run(self, *tensors):
        values = evaluate(list(self.graph.outputs), dict(zip(self.graph.inputs, tensors)), self.device)
        return tuple(to_torch(v, device=self.device) for v in values)
