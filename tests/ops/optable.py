"""The op table: every operator's OpInfo row, gathered from the rows_<family>.py modules."""
import importlib
import pkgutil
from pathlib import Path

ROWS = []
for _mod in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
    if _mod.name.startswith("rows_"):
        ROWS.extend(importlib.import_module(f"tests.ops.{_mod.name}").ROWS)

_names = [r.name for r in ROWS]
_dupes = {n for n in _names if _names.count(n) > 1}
if _dupes:
    raise RuntimeError(f"op table rows named twice: {sorted(_dupes)}")
