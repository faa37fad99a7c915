"""The text of `model.summary()`: one row per layer call, then parameter totals."""
from __future__ import annotations

import numpy as np

from ..graph import format_shape


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def _bytes(params) -> int:
    return int(sum(np.prod(p.type.shape, dtype=np.int64) * np.dtype(p.dtype).itemsize for p in params))


def _shape(shape) -> str:
    return format_shape(tuple(shape)).replace("?", "None")


def summary_text(model, rows) -> str:
    """rows: (name, type name, output shape, layer or None when its params are counted in an
    earlier row). Memory is the parameters' bytes."""
    header = ("Layer (type)", "Output shape", "Params", "Memory (bytes)")
    table = []
    for name, kind, shape, layer in rows:
        count = layer.count_params() if layer is not None else 0
        memory = layer.param_bytes() if layer is not None else 0
        table.append((f"{name} ({kind})", _shape(shape), f"{count:,}", f"{memory:,}"))
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(4)]

    def line(cells):
        return "  ".join([cells[0].ljust(widths[0]), cells[1].ljust(widths[1]),
                          cells[2].rjust(widths[2]), cells[3].rjust(widths[3])]).rstrip()

    rule = "-" * (sum(widths) + 6)
    params, trainable = model.params, model.trainable_params
    keep = {id(p) for p in trainable}
    frozen = [p for p in params if id(p) not in keep]

    def total(label, ps):
        n = int(sum(np.prod(p.type.shape, dtype=np.int64) for p in ps))
        b = _bytes(ps)
        human = f", {human_bytes(b)}" if b >= 1024 else ""
        return f"{label}: {n:,} ({b:,} bytes{human})"

    out = [f'Model: "{model.name}" ({type(model).__name__})', rule, line(header), rule,
           *(line(r) for r in table), rule,
           total("Total params", params), total("Trainable params", trainable),
           total("Non-trainable params", frozen)]
    return "\n".join(out)
