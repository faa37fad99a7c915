"""Adagrad, PyTorch's variant (eps outside the square root, optional lr decay)."""
from __future__ import annotations

from ..ops import elementwise as ew
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """torch.optim.Adagrad: s <- s + g^2, p <- p - lr / (1 + step * lr_decay) * g / (sqrt(s) + eps),
    the sum starting at initial_accumulator_value."""

    def __init__(self, lr: float = 0.01, lr_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, **common):
        if lr_decay < 0 or initial_accumulator_value < 0 or eps < 0:
            raise ValueError("Adagrad: lr_decay, initial_accumulator_value and eps must be >= 0")
        super().__init__(lr, **common)
        self.lr_decay, self.eps = float(lr_decay), float(eps)
        self.initial_accumulator_value = float(initial_accumulator_value)

    def _slot_names(self):
        return ("sum",)

    def _slot_init(self, slot):
        return self.initial_accumulator_value

    def _rule(self, p, g, lr, slots, step):
        s = slots["sum"] + ew.square(g)
        if self.lr_decay:
            lr = lr / (1.0 + ew.cast(step, p.dtype) * self.lr_decay)
        return [(slots["sum"], s), (p, p - lr * (g / (ew.sqrt(s) + self.eps)))]

    def _hyperparameters(self):
        return {"lr_decay": self.lr_decay, "initial_accumulator_value": self.initial_accumulator_value,
                "eps": self.eps}
