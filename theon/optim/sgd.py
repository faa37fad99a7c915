"""Stochastic gradient descent with optional (Nesterov) momentum, PyTorch's convention."""
from __future__ import annotations

from .fused import SGDStep, fused_kernels_cover
from .optimizer import Optimizer


class SGD(Optimizer):
    """p <- p - lr * d, with the momentum buffer b <- momentum * b + g (torch.optim.SGD,
    dampening 0): d = b, or d = g + momentum * b with nesterov=True; d = g without momentum."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False, **common):
        if momentum < 0:
            raise ValueError(f"SGD: momentum must be >= 0, got {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        super().__init__(lr, **common)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def _slot_names(self):
        return ("momentum",) if self.momentum else ()

    def _rule(self, p, g, lr, slots, step):
        if not self.momentum:
            return [(p, p - lr * g)]
        buf = self.momentum * slots["momentum"] + g
        d = g + self.momentum * buf if self.nesterov else buf
        return [(slots["momentum"], buf), (p, p - lr * d)]

    def _fused(self, params, grads, lr, slots, step):
        if not fused_kernels_cover(params):
            return None
        bufs = [sl["momentum"] for sl in slots] if self.momentum else []
        new = SGDStep(len(params), self.momentum, self.nesterov)(lr, *params, *grads, *bufs)
        new = new if isinstance(new, tuple) else (new,)
        return list(zip(params + bufs, new))

    def _hyperparameters(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}
