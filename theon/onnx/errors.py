"""Errors of the ONNX importer (each names the file and, where one is at fault, the node) and
of the exporter (each names the theon ops at fault and the user's lines that made them)."""
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


class OnnxExportError(TheonError, ValueError):
    """A theon graph that cannot be written as ONNX, or arguments of th.onnx.export that
    contradict the graph; nothing was written."""


class UnexportableOpsError(OnnxExportError):
    """The graph holds ops with no ONNX form; all of them are listed at once, each with its
    count and the user's lines that made them."""

    MAX_LINES = 3  # user lines shown per op

    def __init__(self, path: str, problems: list):
        # problems: (label, SourceLoc or None) per node, label = "op" or "op (why)"
        groups: dict = {}
        for label, loc in problems:
            groups.setdefault(label, []).append(loc)
        self.problems = {label: len(locs) for label, locs in groups.items()}
        lines = []
        for label, locs in sorted(groups.items()):
            n = len(locs)
            where = list(dict.fromkeys(str(loc) for loc in locs if loc is not None))
            shown = "; ".join(where[:self.MAX_LINES]) + ("; ..." if len(where) > self.MAX_LINES else "")
            lines.append(f"  {label}: {n} node{'s' if n != 1 else ''}" + (f", at {shown}" if shown else ""))
        super().__init__(f"cannot export to ONNX: {len(groups)} op type(s) in the graph have no ONNX form "
                         f"(nothing was written to {path}):\n" + "\n".join(lines))
