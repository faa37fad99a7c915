"""Adam and AdamW, with PyTorch's bias correction and epsilon placement."""
from __future__ import annotations

from ..ops import elementwise as ew
from .fused import AdamStep, fused_kernels_cover
from .optimizer import Optimizer


class Adam(Optimizer):
    """torch.optim.Adam: m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2, and with
    t = step + 1: p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    amsgrad keeps the running maximum of v (slot 'vmax') and divides by it instead.
    weight_decay adds wd * p to the gradient (L2); AdamW decouples it."""

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 amsgrad: bool = False, **common):
        for label, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{type(self).__name__}: {label} must lie in [0, 1), got {b}")
        if eps < 0:
            raise ValueError(f"{type(self).__name__}: eps must be >= 0, got {eps}")
        super().__init__(lr, **common)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.amsgrad = bool(amsgrad)

    def _slot_names(self):
        return ("m", "v", "vmax") if self.amsgrad else ("m", "v")

    def _rule(self, p, g, lr, slots, step):
        b1, b2 = self.beta1, self.beta2
        out = []
        if self.decoupled_weight_decay and self.weight_decay:
            p_new = p * (1.0 - lr * self.weight_decay)
        else:
            p_new = p
        m = b1 * slots["m"] + (1.0 - b1) * g
        v = b2 * slots["v"] + (1.0 - b2) * ew.square(g)
        out += [(slots["m"], m), (slots["v"], v)]
        if self.amsgrad:
            v = ew.maximum(slots["vmax"], v)
            out.append((slots["vmax"], v))
        t = ew.cast(step + 1, p.dtype)
        bc1 = 1.0 - b1 ** t
        bc2 = 1.0 - b2 ** t
        denom = ew.sqrt(v) / ew.sqrt(bc2) + self.eps
        out.append((p, p_new - (lr / bc1) * (m / denom)))
        return out

    def _fused(self, params, grads, lr, slots, step):
        if not fused_kernels_cover(params):
            return None
        names = self._slot_names()
        groups = [[sl[name] for sl in slots] for name in names]
        wd = self.weight_decay if self.decoupled_weight_decay else 0.0
        op = AdamStep(len(params), self.beta1, self.beta2, self.eps, self.amsgrad, wd)
        t = ew.cast(step + 1, params[0].dtype)
        new = op(lr, t, *params, *grads, *(s for group in groups for s in group))
        new = new if isinstance(new, tuple) else (new,)
        return list(zip(params + [s for group in groups for s in group], new))

    def _hyperparameters(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay, p <- p (1 - lr wd) before the
    Adam step (weight_decay defaults to 0.01 as in torch)."""

    decoupled_weight_decay = True

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 amsgrad: bool = False, weight_decay: float = 0.01, **common):
        super().__init__(lr, beta1, beta2, eps, amsgrad, weight_decay=weight_decay, **common)
