"""One multi-tensor op for a whole optimiser step: every parameter and slot updated by
ATen's fused SGD / Adam / AdamW kernels in one call, instead of a dozen elementwise
kernels per parameter.

The op is functional like any other (it returns the new parameters and slots). When the
compiler can prove the old values are read by nothing else, it runs the op last and in
place (`inplace_map`): the kernels then write straight into the shared variables' storage.
`decompose` gives the same step as plain theon ops: the reference the tests compare
against, and what runs where no fused kernel exists.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..errors import DTypeError
from ..ops import elementwise as ew
from ..ops.base import Op


def fused_kernels_cover(params) -> bool:
    """ATen's fused optimiser kernels take float16/32/64 tensors of one dtype."""
    return bool(params) and len({p.dtype for p in params}) == 1 and params[0].dtype in (
        "float16", "float32", "float64")


def _result(tensors):
    return tensors[0] if len(tensors) == 1 else tuple(tensors)


@dataclass(frozen=True)
class _StepOp(Op):
    n: int = 0                   # parameters updated
    allocates: ClassVar[bool] = True
    differentiable: ClassVar[bool] = False
    n_scalars: ClassVar[int] = 1  # leading scalar inputs (lr, ...)
    n_slots: ClassVar[int] = 0    # slot tensors per parameter

    @property
    def nout(self) -> int:
        return self.n * (1 + self.n_slots)

    def split(self, inputs):
        """(scalars, params, grads, [slot lists])."""
        k, n = self.n_scalars, self.n
        scalars, rest = list(inputs[:k]), list(inputs[k:])
        params, grads = rest[:n], rest[n:2 * n]
        slots = [rest[2 * n + s * n:2 * n + (s + 1) * n] for s in range(self.n_slots)]
        return scalars, params, grads, slots

    def infer(self, *inputs):
        _, params, grads, slots = self.split(inputs)
        for p, g in zip(params, grads):
            if p.dtype != g.dtype or p.type.shape != g.type.shape:
                raise DTypeError(f"{self.name}: gradient {g.type} for parameter {p.type}")
        return [p.type for p in params] + [s.type for group in slots for s in group]

    def inplace_map(self) -> dict:
        """Output k may be written into input j: each new parameter and slot into the old."""
        k = self.n_scalars
        mapping = {i: k + i for i in range(self.n)}
        for s in range(self.n_slots):
            for i in range(self.n):
                mapping[self.n * (1 + s) + i] = k + 2 * self.n + s * self.n + i
        return mapping

    def _targets(self, tensors, inplace):
        """Contiguous tensors for ATen's fused kernels, which ignore strides: gradients
        made contiguous, parameters and slots copied unless they may be written in place
        (a strided one is then written back by `_written`)."""
        _, params, grads, slots = self.split(tensors)
        grads = [g.contiguous() for g in grads]
        if not inplace:
            return [p.clone() for p in params], grads, [[s.clone() for s in group] for group in slots]
        return ([p.contiguous() for p in params], grads,
                [[s.contiguous() for s in group] for group in slots])

    @staticmethod
    def _written(originals, results, inplace):
        """The results, copied back into strided originals that were updated in place."""
        if inplace:
            for o, r in zip(originals, results):
                if r is not o:
                    o.copy_(r)
            return list(originals)
        return results


@dataclass(frozen=True)
class SGDStep(_StepOp):
    """Inputs: lr, params, grads, momentum buffers (when momentum > 0)."""
    momentum: float = 0.0
    nesterov: bool = False
    name: ClassVar[str] = "sgd_step"

    @property
    def n_slots(self) -> int:  # a property: it depends on the momentum field
        return 1 if self.momentum else 0

    def kernel(self, lr, *tensors, inplace=False):
        params, grads, slots = self._targets((lr,) + tensors, inplace)
        bufs = slots[0] if slots else []
        torch._fused_sgd_(params, grads, bufs, weight_decay=0.0, momentum=self.momentum, lr=lr,
                          dampening=0.0, nesterov=self.nesterov, maximize=False, is_first_step=False)
        _, old_p, _, old_s = self.split((lr,) + tensors)
        return _result(self._written(old_p + [s for g in old_s for s in g], params + bufs, inplace))

    def decompose(self, inputs) -> list:
        (lr,), params, grads, slots = self.split(inputs)
        if not self.momentum:
            return [p - lr * g for p, g in zip(params, grads)]
        bufs = [self.momentum * b + g for b, g in zip(slots[0], grads)]
        steps = [g + self.momentum * b for g, b in zip(grads, bufs)] if self.nesterov else bufs
        return [p - lr * d for p, d in zip(params, steps)] + bufs


@dataclass(frozen=True)
class AdamStep(_StepOp):
    """Inputs: lr, t (the step number counted from 1, as a float scalar), params, grads,
    first moments, second moments, and with amsgrad the running maxima of the second."""
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    amsgrad: bool = False
    decoupled_weight_decay: float = 0.0   # AdamW's weight decay (0 for Adam)
    name: ClassVar[str] = "adam_step"
    n_scalars: ClassVar[int] = 2

    @property
    def n_slots(self) -> int:
        return 3 if self.amsgrad else 2

    def kernel(self, lr, t, *tensors, inplace=False):
        params, grads, slots = self._targets((lr, t) + tensors, inplace)
        fused = torch._fused_adamw_ if self.decoupled_weight_decay else torch._fused_adam_
        steps = [t] * self.n
        vmax = slots[2] if self.amsgrad else []
        fused(params, grads, slots[0], slots[1], vmax, steps, lr=lr, beta1=self.beta1,
              beta2=self.beta2, weight_decay=self.decoupled_weight_decay, eps=self.eps,
              amsgrad=self.amsgrad, maximize=False)
        _, old_p, _, old_s = self.split((lr, t) + tensors)
        return _result(self._written(old_p + [s for g in old_s for s in g],
                                     params + [s for group in slots for s in group], inplace))

    def decompose(self, inputs) -> list:
        (lr, t), params, grads, slots = self.split(inputs)
        b1, b2 = self.beta1, self.beta2
        new_p, new_m, new_v, new_vmax = [], [], [], []
        for i, (p, g) in enumerate(zip(params, grads)):
            if self.decoupled_weight_decay:
                p = p * (1.0 - lr * self.decoupled_weight_decay)
            m = b1 * slots[0][i] + (1.0 - b1) * g
            v = b2 * slots[1][i] + (1.0 - b2) * ew.square(g)
            new_m.append(m)
            new_v.append(v)
            if self.amsgrad:
                v = ew.maximum(slots[2][i], v)
                new_vmax.append(v)
            denom = ew.sqrt(v) / ew.sqrt(1.0 - b2 ** t) + self.eps
            new_p.append(p - (lr / (1.0 - b1 ** t)) * (m / denom))
        return new_p + new_m + new_v + new_vmax
