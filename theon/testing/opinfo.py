"""The op-table types: one OpInfo row per operator drives its tests (tests/ops/)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable



@dataclass(frozen=True)
class Const:
    """A sample argument passed to the op as a graph constant, not a symbolic input."""
    value: object


@dataclass
class Sample:
    """One call: NumPy arrays in `args` become symbolic inputs; anything else (ints, tuples,
    `Const`) is passed as is. `kwargs` are static attributes, passed to op and reference."""
    args: tuple
    kwargs: dict = field(default_factory=dict)
    grad: bool = True  # False where this sample sits on a kink (finite differences are moot)


@dataclass
class ErrorCase:
    """A call that must fail: `args` as in Sample (arrays become inputs of their shape)."""
    args: tuple
    kwargs: dict
    error: type
    match: str  # regex the message must contain


@dataclass
class OpInfo:
    name: str
    op: Callable                  # theon function: Variables (and static kwargs) -> Variable(s)
    ref: Callable                 # NumPy or torch reference on NumPy arrays, same kwargs
    samples: Callable             # rng -> list[Sample]
    grad: bool = True             # check gradients of float inputs by finite differences
    grad_args: tuple | None = None  # positions to differentiate (default: every float array)
    errors: list = field(default_factory=list)
    known_failures: dict = field(default_factory=dict)  # test name -> reason (xfail, strict)
    rtol: float = 1e-5
    atol: float = 1e-6
    second_order: bool = False    # also check the gradient of the gradient


def rand(rng, *shape, dtype="float64", low=-1.0, high=1.0):
    """Uniform floats as `dtype` (helper for sample functions)."""
    return rng.uniform(low, high, size=shape).astype(dtype)


def positive(rng, *shape, dtype="float64"):
    return rng.uniform(0.5, 2.0, size=shape).astype(dtype)


def integers(rng, low, high, *shape, dtype="int64"):
    return rng.integers(low, high, size=shape).astype(dtype)
