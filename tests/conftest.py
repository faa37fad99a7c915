"""Test-run settings shared by every test module."""
import os
from pathlib import Path

# generated kernels are built only by the tests that check them (tests/codegen): a build is
# a compiler run of tens of seconds that every graph with a fusable pattern would start
os.environ.setdefault("THEON_CODEGEN", "off")

ROOT = Path(__file__).resolve().parents[1]


def pytest_terminal_summary(terminalreporter):
    """Lines of Python per folder, so growth is seen at every run."""
    counts = {}
    for path in sorted(ROOT.glob("theon/**/*.py")) + sorted(ROOT.glob("tests/**/*.py")):
        folder = str(path.parent.relative_to(ROOT))
        counts[folder] = counts.get(folder, 0) + sum(1 for _ in path.open(encoding="utf-8"))
    terminalreporter.write_sep("-", "lines of Python per folder")
    for folder, n in counts.items():
        terminalreporter.write_line(f"{n:7d}  {folder}")
