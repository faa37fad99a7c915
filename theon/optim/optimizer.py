"""The optimiser base: symbolic update rules for one compiled training step.

An optimiser never runs anything itself. `updates(params, grads)` returns the
(shared, new_value) pairs that `th.function(..., updates=...)` applies after each call:
the new parameters, the new slot values (momentum buffers, moment estimates) and the
step counter plus one. Everything a step reads that may change between steps lives in a
shared variable (`lr`, `iterations`, the slots), so changing the learning rate or
restoring a checkpoint never recompiles the step function.

Conventions shared by every subclass:
- `opt.lr` is a float32 shared scalar, the base learning rate. With a schedule, the
  rate used by a step is `lr * schedule(step)`: schedules return a multiplier of the
  base rate, never the rate itself.
- `step` is the value of `opt.iterations` (int64) before the step: 0 for the first step,
  as PyTorch's schedulers count. Bias corrections use t = step + 1.
- Gradient processing order: clip each value (clipvalue), then scale all gradients by
  their global norm (clipnorm, as torch.nn.utils.clip_grad_norm_), then add weight decay
  (L2: g + wd * p, as torch's SGD/Adam/RMSprop/Adagrad; AdamW decays decoupled).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

from .. import config
from ..graph import Shared, Variable, shapes_agree, shared
from ..ops import elementwise as ew
from ..ops.base import as_variable


def _by_dtype(params, grads) -> list:
    """(param, grad) pairs grouped by dtype, in first-seen order: fused kernels take one
    dtype per call."""
    groups: dict = {}
    for p, g in zip(params, grads):
        groups.setdefault(p.dtype, []).append((p, g))
    return list(groups.values())


def clip_by_global_norm(grads, max_norm: float, eps: float = 1e-6) -> list:
    """Scale `grads` by min(1, max_norm / (norm + eps)), norm the 2-norm of all of them
    together (torch.nn.utils.clip_grad_norm_). The norm is summed in float64 when any
    gradient is float64, else in float32."""
    acc = "float64" if any(g.dtype == "float64" for g in grads) else "float32"
    total = None
    for g in grads:
        sq = ew.square(g if g.dtype == acc else ew.cast(g, acc)).sum()
        total = sq if total is None else total + sq
    coef = ew.minimum(max_norm / (ew.sqrt(total) + eps), 1.0)
    return [g * (coef if coef.dtype == g.dtype else ew.cast(coef, g.dtype)) for g in grads]


class Optimizer(ABC):
    """Base of the optimisers. Subclasses define `_slot_names()` and `_rule(...)`.

    lr: base learning rate (stored in the float32 shared `self.lr`).
    weight_decay: L2 coefficient added to the gradient (decoupled in AdamW).
    clipnorm: clip the global norm of all gradients to this value.
    clipvalue: clip each gradient element to [-clipvalue, clipvalue].
    schedule: optional callable `schedule(step) -> multiplier` (see theon.optim.schedules).
    """

    decoupled_weight_decay = False  # AdamW applies its decay to the parameter, not the gradient

    def __init__(self, lr: float, weight_decay: float = 0.0, clipnorm: float | None = None,
                 clipvalue: float | None = None, schedule=None):
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: lr must be >= 0, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: weight_decay must be >= 0, got {weight_decay}")
        for label, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue)):
            if v is not None and not v > 0:
                raise ValueError(f"{type(self).__name__}: {label} must be > 0 or None, got {v}")
        self.lr = shared(np.float32(lr), name="lr")
        self.iterations = shared(np.int64(0), name="iterations")
        self.weight_decay = float(weight_decay)
        self.clipnorm = None if clipnorm is None else float(clipnorm)
        self.clipvalue = None if clipvalue is None else float(clipvalue)
        self.schedule = schedule
        self._slots: dict[int, tuple] = {}               # id(param) -> (param, {slot: shared})
        self._by_name: dict[str, Shared] = {}            # f"{param}/{slot}" -> shared
        self._pending: dict[str, np.ndarray] = {}        # restored values of slots not built yet

    # ---- what subclasses define ---------------------------------------------------
    def _slot_names(self) -> tuple:
        """Names of the per-parameter slots this configuration needs."""
        return ()

    def _slot_init(self, slot: str) -> float:
        return 0.0

    @abstractmethod
    def _rule(self, p: Shared, g: Variable, lr: Variable, slots: dict, step: Variable) -> list:
        """(shared, new_value) pairs for one parameter; `g` already clipped and decayed."""

    def _hyperparameters(self) -> dict:
        return {}

    # ---- the public interface -----------------------------------------------------
    def learning_rate(self, step: Variable | None = None) -> Variable:
        """The symbolic float32 learning rate of the step whose counter value is `step`."""
        step = self.iterations if step is None else step
        if self.schedule is None:
            return self.lr
        mult = as_variable(self.schedule(step))
        if mult.dtype != "float32":
            mult = ew.cast(mult, "float32")
        return self.lr * mult

    def current_lr(self) -> float:
        """The learning rate the next step will use, as a number (for logs and callbacks)."""
        lr = float(self.lr.get_value())
        if self.schedule is None:
            return lr
        return float(np.float32(lr) * np.float32(self.schedule(int(self.iterations.get_value()))))

    def build(self, params) -> None:
        """Create the slots of `params` now (updates() does this too)."""
        for p in params:
            self._slots_for(p)

    def updates(self, params, grads) -> list:
        """The (shared, new_value) pairs of one training step: parameters, slots, counter.

        params: the shared variables to train; grads: their gradients (symbolic, same
        order). A None gradient leaves its parameter and slots untouched.
        """
        params, grads = list(params), list(grads)
        if len(params) != len(grads):
            raise ValueError(f"{type(self).__name__}.updates: {len(params)} params but {len(grads)} grads")
        pairs = [(p, self._checked_grad(p, g)) for p, g in zip(params, grads) if g is not None]
        grads = [g for _, g in pairs]
        if self.clipvalue is not None:
            grads = [ew.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None and grads:
            grads = clip_by_global_norm(grads, self.clipnorm)
        step = self.iterations
        lr = self.learning_rate(step)
        params = [p for p, _ in pairs]
        if self.weight_decay and not self.decoupled_weight_decay:
            grads = [g + self.weight_decay * p for p, g in zip(params, grads)]
        out = []
        for group in _by_dtype(params, grads):
            gp, gg = [p for p, _ in group], [g for _, g in group]
            lr_p = lr if lr.dtype == gp[0].dtype else ew.cast(lr, gp[0].dtype)
            slots = [self._slots_for(p) for p in gp]
            fused = self._fused(gp, gg, lr_p, slots, step) if config.FUSED_OPTIMIZERS else None
            if fused is not None:
                out.extend(fused)
                continue
            for p, g, sl in zip(gp, gg, slots):
                out.extend(self._rule(p, g, lr_p, sl, step))
        out.append((self.iterations, self.iterations + 1))
        return out

    def _fused(self, params, grads, lr, slots, step) -> list | None:
        """The (shared, new_value) pairs of one multi-tensor op updating all `params` (one
        dtype), or None where this optimiser has none (then `_rule` runs per parameter)."""
        return None

    def state(self) -> dict[str, Shared]:
        """Every shared variable of the optimiser by a stable name: 'lr', 'iterations' and
        each slot as f"{param.name}/{slot}". Save their values to checkpoint the exact state."""
        return {"lr": self.lr, "iterations": self.iterations, **self._by_name}

    def set_state(self, values: dict) -> None:
        """Restore values saved from `state()`. Slots not created yet (the step function
        not built) receive their value when they are created."""
        current = self.state()
        for name, value in values.items():
            if name in current:
                current[name].set_value(value)
            else:
                self._pending[name] = np.asarray(value)

    def get_config(self) -> dict:
        """A JSON-able description; `theon.optim.get(config)` rebuilds the optimiser (its
        state comes back separately through `state()` / `set_state`)."""
        schedule = self.schedule
        if schedule is not None:
            if not hasattr(schedule, "get_config"):
                raise TypeError(f"{type(self).__name__}.get_config: the schedule {schedule!r} has no "
                                f"get_config; use a theon.optim.schedules class")
            schedule = schedule.get_config()
        return {"name": type(self).__name__, "lr": float(self.lr.get_value()),
                **self._hyperparameters(), "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "clipvalue": self.clipvalue, "schedule": schedule}

    def __repr__(self):
        cfg = self.get_config() if self.schedule is None or hasattr(self.schedule, "get_config") else {}
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if k != "name" and v is not None)
        return f"{type(self).__name__}({args})"

    # ---- helpers --------------------------------------------------------------------
    def _checked_grad(self, p, g) -> Variable:
        if not isinstance(p, Shared):
            raise TypeError(f"{type(self).__name__}.updates: params must be shared variables, got {p!r}")
        if not p.dtype.startswith("float"):
            raise TypeError(f"{type(self).__name__}.updates: cannot train {p.name!r} of dtype {p.dtype}")
        g = as_variable(g)
        if not shapes_agree(g.type.shape, p.type.shape):
            raise ValueError(f"{type(self).__name__}.updates: gradient of shape {g.type.shape} "
                             f"for {p.name!r} of shape {p.type.shape}")
        return g if g.dtype == p.dtype else ew.cast(g, p.dtype)

    def _slots_for(self, p: Shared) -> dict:
        entry = self._slots.get(id(p))
        if entry is not None:
            return entry[1]
        slots = {}
        base = p.name or f"param_{len(self._slots)}"
        for slot in self._slot_names():
            name = f"{base}/{slot}"
            if name in self._by_name:
                raise ValueError(f"{type(self).__name__}: two parameters are named {base!r}; "
                                 f"slot names must be unique for state() and checkpoints")
            value = torch.full_like(p.get_tensor(), self._slot_init(slot))
            s = shared(value, name=name, shape=p.type.shape, device=p.device, borrow=True)  # made here
            if name in self._pending:
                s.set_value(self._pending.pop(name))
            slots[slot] = s
            self._by_name[name] = s
        self._slots[id(p)] = (p, slots)  # holding p keeps its id from being reused
        return slots
