"""Hooks: debug features that attach to a compiled program one instruction at a time.

A hook adds names to the program's namespace and lines of Python at its start and before
or after any instruction. The program generator calls every hook it is given and knows
nothing else about them, so a new debug feature is one new class here.
"""
from __future__ import annotations

import torch

from ..errors import NonFiniteError
from ..graph import Shared, format_shape, is_float


class Hook:
    """Base class: every method may be overridden; by default a hook adds nothing."""

    def names(self) -> set:
        """The names `namespace` will bind (kept out of the program's own names)."""
        return set()

    def namespace(self, params, param_names, schedule) -> dict:
        return {}

    def prologue(self, params, param_names) -> list:
        return []

    def before(self, index: int, instruction) -> list:
        return []

    def after(self, index: int, instruction) -> list:
        return []


class NanGuard(Hook):
    """Stop at the first NaN or infinity: in an argument (naming it) or in the output of
    an instruction (naming the op, forward or gradient, and the user's line)."""

    def names(self) -> set:
        return {"_finite", "_finite_in"}

    def namespace(self, params, param_names, schedule) -> dict:
        def check_node(t, i):
            if not bool(torch.isfinite(t).all()):
                node = schedule[i]
                shapes = ", ".join(format_shape(v.type.shape) for v in node.inputs)
                where = f"\n  at {node.loc}" if node.loc else ""
                raise NonFiniteError(f"{node.op} made the first {_kind(t)} (inputs {shapes}){where}")

        def check_param(t, i):
            if not bool(torch.isfinite(t).all()):
                p = params[i]
                what = "shared variable" if isinstance(p, Shared) else "argument"
                label = p.name or f"#{i}"
                raise NonFiniteError(f"{what} {label!r} ({p.type}) holds a {_kind(t)} before any "
                                     f"op ran: it came from the caller, not from the graph")
        return {"_finite": check_node, "_finite_in": check_param}

    def prologue(self, params, param_names) -> list:
        return [f"_finite_in({n}, {i})" for i, (p, n) in enumerate(zip(params, param_names))
                if is_float(p.dtype)]

    def after(self, index, instruction) -> list:
        return [f"_finite({n}, {index})" for o, n in zip(instruction.node.outputs, instruction.targets)
                if is_float(o.dtype)]


def _kind(t) -> str:
    return "NaN" if bool(torch.isnan(t).any()) else "infinity"
