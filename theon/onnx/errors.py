"""Errors of the ONNX importer: each names the file and, where one is at fault, the node."""
from __future__ import annotations

from collections import Counter

from ..errors import TheonError


class OnnxImportError(TheonError, ValueError):
    """An ONNX model theon cannot read or build; says what, where (file, node) and why."""


class UnsupportedOpsError(OnnxImportError):
    """The model needs ops theon cannot import; all of them are listed at once, with counts."""

    def __init__(self, source: str, missing: Counter):
        self.missing = dict(missing)
        lines = [f"  {op}: {n} node{'s' if n != 1 else ''}" for op, n in sorted(missing.items())]
        super().__init__(f"{source}: {len(missing)} op type(s) used by the model are not supported "
                         f"by theon's ONNX importer (nothing was built):\n" + "\n".join(lines))


def where(source: str, node=None) -> str:
    """'file: node "name" (OpType)' for error messages."""
    if node is None:
        return source
    label = f"{node.name!r} " if node.name else ""
    return f"{source}: node {label}({node.op_type}, #{node.index}{node.scope_text})"
