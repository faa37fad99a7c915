"""`FusedElementwise`: one node running a whole chain of elementwise ops as one kernel.

Its kernel is the generated one when it is built (theon.codegen.cache), and the chain's
own ops (ATen's kernels, one after another: the unfused program) until then or on a
device without one. Its gradient is the gradient of the chain, written in theon ops.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from ..autodiff import vjp
from ..backend.interop import torch_dtype
from ..errors import DTypeError, ShapeError
from ..graph import TensorType, constant
from ..ops.base import Op
from . import cache
from .chain import Chain, eager


@dataclass(frozen=True)
class FusedElementwise(Op):
    chain: Chain
    shape: tuple                 # the output's shape (the pass makes it with every dim known)
    _built: dict = field(default_factory=dict, compare=False, repr=False, hash=False)
    name: ClassVar[str] = "fused_elementwise"
    allocates: ClassVar[bool] = True

    def infer(self, *inputs):
        if len(inputs) != self.chain.n_inputs:
            raise ShapeError(f"fused_elementwise takes {self.chain.n_inputs} inputs, got {len(inputs)}")
        size = None if None in self.shape else math.prod(self.shape)
        for i, (v, scalar) in enumerate(zip(inputs, self.chain.scalar_inputs)):
            if v.dtype != self.chain.dtype:
                raise DTypeError(f"fused_elementwise: input {i} is {v.dtype}, the chain computes "
                                 f"in {self.chain.dtype}")
            n = None if None in v.type.shape else math.prod(v.type.shape)
            if n is not None and (scalar or size is not None) and n != (1 if scalar else size):
                raise ShapeError(f"fused_elementwise: input {i} has shape {v.type.shape}; expected "
                                 f"{'one element' if scalar else f'{size} elements'}")
        return [TensorType(self.chain.dtype, self.shape)]

    def kernel(self, *tensors):
        device = tensors[0].device
        shape = self.shape if None not in self.shape else torch.broadcast_shapes(*(t.shape for t in tensors))
        fn = self._built.get(device.type)
        if fn is None:
            fn = cache.kernel_for(self.chain, device)
            if fn is not None:   # found once per op and device: calls skip the source and its hash
                self._built[device.type] = fn
        if fn is None:
            out = eager(self.chain, tensors)
            return out if tuple(out.shape) == tuple(shape) else out.expand(shape).clone()
        out = torch.empty(shape, dtype=torch_dtype(self.chain.dtype), device=device)
        fn(list(tensors), out)
        return out

    def decompose(self, inputs) -> list:
        """The chain in theon ops on these inputs (the graph it replaced)."""
        values = list(inputs)
        for step in self.chain.steps:
            args = [values[a] if isinstance(a, int) else constant(a, dtype=self.chain.dtype)
                    for a in step.args]
            values.append(step.op(*args))
        return [values[-1]]

    def grad(self, inputs, outputs, output_grads):
        return vjp(self.decompose(inputs), list(inputs), list(output_grads))

    def __str__(self) -> str:
        return f"fused_elementwise[{self.chain.describe()}]"
