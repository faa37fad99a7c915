"""Export rules by theon op class: adding an op's ONNX form is one `@rule(OpClass)` function
in the module of its family (theon/onnx/export/ops/)."""
from __future__ import annotations

RULES: dict = {}
FAMILY_RULES: dict = {}  # base class -> rule of every subclass (ops users make: th.op)


class Unsupported(Exception):
    """Raised by a rule for a node whose attributes or types have no ONNX form (the op
    itself has one): the message says why, and the node is listed with the others."""


def rule(*op_classes):
    """Register the decorated function as the export rule of `op_classes` (exact classes:
    a subclass may mean something else, as Min does to Max). The function takes an
    `export.graph.NodeContext` and returns the ONNX names of the node's outputs (a name,
    or a list with one per output; None for an output it does not compute)."""
    def deco(fn):
        for cls in op_classes:
            if cls in RULES:
                raise RuntimeError(f"two ONNX export rules for {cls.__name__}")
            RULES[cls] = fn
        return fn
    return deco


def family_rule(base):
    """Register the decorated function as the export rule of every subclass of `base` that
    has no rule of its own (the op classes `th.op` makes, one per user op)."""
    def deco(fn):
        FAMILY_RULES[base] = fn
        return fn
    return deco


def lookup(op):
    fn = RULES.get(type(op))
    if fn is None:
        fn = next((f for base, f in FAMILY_RULES.items() if isinstance(op, base)), None)
    return fn


def exportable_ops() -> list:
    """The theon op classes that have an ONNX export rule (by class name; a family rule's
    base class stands for its subclasses)."""
    return sorted(cls.__name__ for cls in (*RULES, *FAMILY_RULES))
