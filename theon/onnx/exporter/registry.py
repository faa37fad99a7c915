"""Export rules by theon op class: adding an op's ONNX form is one `@rule(OpClass)` function
in the module of its family (theon/onnx/export/ops/)."""
from __future__ import annotations

RULES: dict = {}


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


def lookup(op):
    return RULES.get(type(op))


def exportable_ops() -> list:
    """The theon op classes that have an ONNX export rule (by class name)."""
    return sorted(cls.__name__ for cls in RULES)
