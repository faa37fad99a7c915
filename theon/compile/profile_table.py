"""What `f.profile` returns: a table of instructions sorted by time, with body instructions
nested under their loop, printable, as records, and as a Chrome trace."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .codegen import _op_text

_ATTR_CHARS = 60


@dataclass
class Row:
    """One instruction of the program (or of a loop or branch body it runs)."""
    node: object
    program: str
    index: int
    calls: int
    total_s: float
    share: float           # of the time of the top-level instructions
    bytes_allocated: int   # new storage its outputs took, summed over every call
    repeat: int
    children: list = field(default_factory=list)
    parent: "Row | None" = None

    @property
    def op(self) -> str:
        return self.node.op.name

    @property
    def attributes(self) -> str:
        """The attributes that differ from their defaults, as the program's comments show."""
        text = _op_text(self.node.op, ())
        return text[len(self.node.op.name) + 1:-1] if text.endswith(")") else ""

    @property
    def scope(self) -> str:
        loc = self.node.loc
        return loc.scope if loc is not None else ""

    @property
    def line(self) -> str:
        loc = self.node.loc
        if loc is None:
            return ""
        text = f"{os.path.basename(loc.filename)}:{loc.lineno}"
        return f"{text} ({loc.role})" if loc.role else text

    @property
    def mean_s(self) -> float:
        return self.total_s / self.calls if self.calls else 0.0

    @property
    def depth(self) -> int:
        return 0 if self.parent is None else self.parent.depth + 1

    def record(self) -> dict:
        return {"op": self.op, "attributes": self.attributes, "scope": self.scope,
                "line": self.line, "calls": self.calls, "calls_per_run": self.calls / self.repeat,
                "total_s": self.total_s, "mean_s": self.mean_s, "share": self.share,
                "bytes_allocated": self.bytes_allocated, "depth": self.depth,
                "program": self.program, "index": self.index,
                "parent": None if self.parent is None else self.parent.op}


class ProfileTable:
    """The profile of a compiled function: `print(table)`, `table.records` (dicts, in the
    printed order), `table.rows` (top-level rows; `row.children` are the body's),
    `table.memory` (predicted and measured peak bytes), `table.export_chrome_trace(path)`."""

    def __init__(self, name, rows, repeat, wall_s, memory, events, dropped_events, device):
        self.name = name
        self.rows = _sorted(rows)
        self.repeat = repeat
        self.wall_s = wall_s
        self.memory = memory
        self.device = device
        self._events = events
        self.dropped_events = dropped_events

    @property
    def per_run_s(self) -> float:
        """Wall time of one run of the profiled program (the hook's own cost included)."""
        return self.wall_s / self.repeat

    def walk(self):
        """Every row, depth first, each level sorted by time."""
        stack = list(reversed(self.rows))
        while stack:
            row = stack.pop()
            yield row
            stack.extend(reversed(_sorted(row.children)))

    @property
    def records(self) -> list:
        return [row.record() for row in self.walk()]

    def __str__(self) -> str:
        return self.to_string()

    def __repr__(self) -> str:
        return f"<ProfileTable {self.name}: {len(self.records)} rows, {self.repeat} runs>"

    def to_string(self, max_rows: int | None = 40) -> str:
        m = self.memory
        lines = [f"profile of {self.name} on {self.device}: {self.repeat} run(s), "
                 f"{self.per_run_s * 1e3:.3f} ms per run",
                 f"memory: predicted peak {_bytes(m['predicted_peak'])}, measured "
                 f"{_bytes(m['measured_peak'])} ({m['measured_by']}); inputs "
                 f"{_bytes(m['inputs'])}, shared {_bytes(m['shared'])}"]
        header = f"{'share':>6} {'total ms':>9} {'mean us':>9} {'calls':>7} {'alloc':>9}  op"
        rows = list(self.walk())
        ops = [("  " * r.depth + ("└ " if r.depth else "") + r.op
                + (f"({_short(r.attributes)})" if r.attributes else "")) for r in rows]
        width = max([len(header) - header.index("op")] + [len(o) for o in ops]) + 2
        scope_width = max([5] + [len(r.scope) for r in rows]) + 2
        lines.append(header.ljust(len(header) - 2 + width) + "scope".ljust(scope_width) + "line")
        shown = rows if max_rows is None else rows[:max_rows]
        for r, o in zip(shown, ops):
            lines.append(f"{r.share:6.1%} {r.total_s * 1e3:9.3f} {r.mean_s * 1e6:9.1f} {r.calls:7d} "
                         f"{_bytes(r.bytes_allocated):>9}  {o.ljust(width)}{r.scope.ljust(scope_width)}"
                         f"{r.line}")
        if len(shown) < len(rows):
            lines.append(f"... {len(rows) - len(shown)} more row(s): table.to_string(max_rows=None)")
        return "\n".join(lines)

    def export_chrome_trace(self, path) -> Path:
        """Write every recorded call as a Chrome trace ("X" events, microseconds); open it
        in chrome://tracing or ui.perfetto.dev. Body calls nest inside their loop's call."""
        events = [{"name": "process_name", "ph": "M", "pid": 0, "tid": 0,
                   "args": {"name": f"theon {self.name} ({self.device})"}}]
        for row, start, duration, depth in self._events:
            events.append({"name": row.op, "cat": row.program, "ph": "X", "pid": 0, "tid": 0,
                           "ts": start / 1e3, "dur": duration / 1e3,
                           "args": {"attributes": row.attributes, "scope": row.scope,
                                    "line": row.line, "depth": depth}})
        payload = {"traceEvents": events, "displayTimeUnit": "ms",
                   "otherData": {"function": self.name, "runs": self.repeat,
                                 "dropped_events": self.dropped_events, **self.memory}}
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(payload))
        os.replace(tmp, path)  # a reader never sees half a file
        return path


def _sorted(rows) -> list:
    return sorted(rows, key=lambda r: (-r.total_s, r.program, r.index))


def _short(text: str) -> str:
    return text if len(text) <= _ATTR_CHARS else text[:_ATTR_CHARS - 3] + "..."


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"
