"""The import layering stays visible: module-level imports, and no cycles.

Allowed function-level imports carry a comment saying why: `# cycle: ...` where a real
import cycle remains, `# optional: ...` for a dependency only one feature needs."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1] / "theon"


def _modules() -> dict:
    """Dotted name -> path of every module in the package."""
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _targets(name: str, node: ast.stmt) -> list:
    """The theon modules a module-level import statement executes."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in MODULES]
    base = _package_of(name, MODULES[name])
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module
    if target is None or target.split(".")[0] != "theon":
        return []
    out = [target] if target in MODULES else []
    out += [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES]
    return out


def _graph() -> dict:
    edges = {}
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text())
        deps = set()
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                deps.update(_targets(name, node))
        # a module's own enclosing packages are already being imported when it runs
        edges[name] = {d for d in deps if not name.startswith(d + ".") and d != name}
    return edges


def test_module_level_imports_form_no_cycle():
    edges = _graph()
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for d in sorted(edges.get(m, ())):
            if state.get(d) == "open":
                cycle = stack[stack.index(d):] + [d]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = "done"

    for m in sorted(edges):
        if m not in state:
            visit(m)
def test_function_level_imports_say_why():
    bad = []
    for name, path in sorted(MODULES.items()):
        lines = path.read_text().splitlines()
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    line = lines[node.lineno - 1]
                    if "# cycle:" not in line and "# optional" not in line:
                        bad.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}: {line.strip()}")
    assert not bad, "function-level imports without '# cycle:' or '# optional' reasons:\n" + "\n".join(bad)
