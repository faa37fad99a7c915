"""RMSProp, PyTorch's variant (eps outside the square root, optional centring and momentum)."""
from __future__ import annotations

from ..ops import elementwise as ew
from .optimizer import Optimizer


class RMSProp(Optimizer):
    """torch.optim.RMSprop (rho is torch's alpha): v <- rho v + (1 - rho) g^2;
    centered: a <- rho a + (1 - rho) g and v - a^2 replaces v; d = g / (sqrt(.) + eps);
    with momentum b <- momentum b + d and p <- p - lr b, else p <- p - lr d."""

    def __init__(self, lr: float = 0.01, rho: float = 0.99, eps: float = 1e-8, momentum: float = 0.0,
                 centered: bool = False, **common):
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"RMSProp: rho must lie in [0, 1), got {rho}")
        if momentum < 0 or eps < 0:
            raise ValueError(f"RMSProp: momentum and eps must be >= 0, got {momentum} and {eps}")
        super().__init__(lr, **common)
        self.rho, self.eps, self.momentum = float(rho), float(eps), float(momentum)
        self.centered = bool(centered)

    def _slot_names(self):
        return ("v",) + (("mean",) if self.centered else ()) + (("momentum",) if self.momentum else ())

    def _rule(self, p, g, lr, slots, step):
        rho = self.rho
        v = rho * slots["v"] + (1.0 - rho) * ew.square(g)
        out = [(slots["v"], v)]
        if self.centered:
            a = rho * slots["mean"] + (1.0 - rho) * g
            out.append((slots["mean"], a))
            v = v - ew.square(a)
        d = g / (ew.sqrt(v) + self.eps)
        if self.momentum:
            d = self.momentum * slots["momentum"] + d
            out.append((slots["momentum"], d))
        out.append((p, p - lr * d))
        return out

    def _hyperparameters(self):
        return {"rho": self.rho, "eps": self.eps, "momentum": self.momentum, "centered": self.centered}
