"""Learning-rate schedules: multipliers of the base rate, as functions of the step counter.

A schedule is called with the optimiser's int64 step counter (0 for the first step) and
returns the factor the base learning rate `opt.lr` is multiplied by. Called with a
symbolic step it builds a float32 graph (compiled into the training step, so the rate
changes every step with no host work); called with a Python or NumPy integer it returns
the same value as a float (for logs, plots and tests). The formulas are written once,
against a namespace that is either theon or NumPy (both have the NumPy names).
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

from .. import ops as th_ops
from ..graph import Variable


class Schedule(ABC):
    """Base: subclasses define `_value(step, xp)` on float64 steps and `get_config()`."""

    def __call__(self, step):
        if isinstance(step, Variable):
            return th_ops.cast(self._value(th_ops.cast(step, "float64"), th_ops), "float32")
        return float(self._value(np.float64(step), np))

    @abstractmethod
    def _value(self, step, xp):
        """The multiplier at float64 `step`, computed with `xp` (theon ops or NumPy)."""

    def get_config(self) -> dict:
        return {"name": type(self).__name__}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class StepDecay(Schedule):
    """gamma ** floor(step / step_size): multiply the rate by gamma every step_size steps."""

    def __init__(self, step_size: int, gamma: float = 0.1):
        if int(step_size) < 1:
            raise ValueError(f"StepDecay: step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), float(gamma)

    def _value(self, step, xp):
        return xp.power(self.gamma, xp.floor(step / self.step_size))

    def get_config(self):
        return {"name": "StepDecay", "step_size": self.step_size, "gamma": self.gamma}


class CosineDecay(Schedule):
    """min_value + (1 - min_value) * (1 + cos(pi * min(step, total_steps) / total_steps)) / 2:
    from 1 at step 0 down to min_value at total_steps, then constant."""

    def __init__(self, total_steps: int, min_value: float = 0.0):
        if int(total_steps) < 1:
            raise ValueError(f"CosineDecay: total_steps must be >= 1, got {total_steps}")
        self.total_steps, self.min_value = int(total_steps), float(min_value)

    def _value(self, step, xp):
        progress = xp.minimum(xp.maximum(step, 0.0), float(self.total_steps)) / self.total_steps
        return self.min_value + (1.0 - self.min_value) * 0.5 * (1.0 + xp.cos(math.pi * progress))

    def get_config(self):
        return {"name": "CosineDecay", "total_steps": self.total_steps, "min_value": self.min_value}


class Warmup(Schedule):
    """Linear warm-up: (step + 1) / warmup_steps for the first warmup_steps steps, then
    `after(step - warmup_steps)` (so the wrapped schedule starts at its own step 0 when
    the warm-up ends), or 1 when after is None."""

    def __init__(self, warmup_steps: int, after: Schedule | None = None):
        if int(warmup_steps) < 0:
            raise ValueError(f"Warmup: warmup_steps must be >= 0, got {warmup_steps}")
        if after is not None and not isinstance(after, Schedule):
            raise TypeError(f"Warmup: after must be a theon.optim.schedules.Schedule, got {after!r}")
        self.warmup_steps, self.after = int(warmup_steps), after

    def _value(self, step, xp):
        rest = 1.0 if self.after is None else self.after._value(step - self.warmup_steps, xp)
        if self.warmup_steps == 0:
            return rest + 0.0 * step
        ramp = (step + 1.0) / self.warmup_steps
        return xp.where(step < self.warmup_steps, ramp, rest)

    def get_config(self):
        return {"name": "Warmup", "warmup_steps": self.warmup_steps,
                "after": None if self.after is None else self.after.get_config()}


_SCHEDULES = {"StepDecay": StepDecay, "CosineDecay": CosineDecay, "Warmup": Warmup}


def from_config(config: dict | None) -> Schedule | None:
    """The schedule a `get_config()` dict describes (None for None)."""
    if config is None:
        return None
    config = dict(config)
    name = config.pop("name", None)
    if name not in _SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; known: {', '.join(_SCHEDULES)}")
    if name == "Warmup":
        config["after"] = from_config(config.get("after"))
    return _SCHEDULES[name](**config)


__all__ = ["Schedule", "StepDecay", "CosineDecay", "Warmup", "from_config"]
