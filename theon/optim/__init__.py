"""Optimisers as symbolic update rules, and learning-rate schedules.

    opt = th.optim.Adam(1e-3, schedule=th.optim.Warmup(100, th.optim.CosineDecay(10_000)))
    step = th.function([x, y], loss, updates=opt.updates(params, th.grad(loss, params)))

`opt.lr` (float32 shared) is the base rate; a schedule returns a multiplier of it.
`opt.state()` / `opt.set_state()` and `opt.get_config()` / `get(config)` checkpoint it.
"""
from __future__ import annotations

from . import schedules
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer, clip_by_global_norm
from .rmsprop import RMSProp
from .schedules import CosineDecay, Schedule, StepDecay, Warmup
from .sgd import SGD

_OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSProp, "adagrad": Adagrad}


def get(identifier) -> Optimizer:
    """An optimiser from an instance (returned as is), a name ('sgd', 'adam', 'adamw',
    'rmsprop', 'adagrad': default settings) or a `get_config()` dict."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _OPTIMIZERS.get(identifier.lower())
        if cls is None:
            raise ValueError(f"unknown optimizer {identifier!r}; known: {', '.join(_OPTIMIZERS)}")
        return cls()
    if isinstance(identifier, dict):
        config = dict(identifier)
        name = str(config.pop("name", "")).lower()
        if name not in _OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r} in config; known: {', '.join(_OPTIMIZERS)}")
        config["schedule"] = schedules.from_config(config.get("schedule"))
        return _OPTIMIZERS[name](**config)
    raise TypeError(f"cannot make an optimizer from {identifier!r}")


__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSProp", "Adagrad", "clip_by_global_norm",
           "Schedule", "StepDecay", "CosineDecay", "Warmup", "schedules", "get"]
