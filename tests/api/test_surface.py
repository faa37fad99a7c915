"""The public surface of `theon` and `theon.nn` is a deliberate list: any name added or
removed must show up here in review.

After an intended change: THEON_UPDATE_GOLDEN=1 python -m pytest tests/api
"""
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import theon
import theon.nn
from theon.ops.base import Op

MODULES = ["theon", "theon.nn"]


def _public(module) -> list:
    return sorted(n for n in dir(module) if not n.startswith("_"))


@pytest.fixture(scope="module")
def fresh_surface() -> dict:
    """The names as a user sees them after `import theon` in a new process (in this one,
    other tests' imports of submodules add attributes to the package)."""
    code = ("import json, theon, theon.nn; print(json.dumps({m: sorted(n for n in dir(sys.modules[m]) "
            "if not n.startswith('_')) for m in %r}))" % MODULES)
    out = subprocess.run([sys.executable, "-c", "import sys; " + code], capture_output=True,
                         text=True, check=True, cwd=Path(__file__).parents[2])
    return json.loads(out.stdout)


@pytest.mark.parametrize("name", MODULES)
def test_public_names_match_the_snapshot(name, fresh_surface):
    path = Path(__file__).parent / f"{name}.txt"
    names = fresh_surface[name]
    if os.environ.get("THEON_UPDATE_GOLDEN") == "1":
        path.write_text("\n".join(names) + "\n")
    want = path.read_text().split()
    added, removed = sorted(set(names) - set(want)), sorted(set(want) - set(names))
    assert not added and not removed, f"{name}: added {added}, removed {removed}"


def test_no_operator_class_is_exported_at_the_top():
    classes = [n for n in _public(theon) if inspect.isclass(getattr(theon, n))
               and issubclass(getattr(theon, n), Op) and getattr(theon, n) is not Op]
    assert classes == []


def test_layers_and_their_functional_twins_do_not_collide():
    # th.nn.Reshape is a layer; the op is th.reshape (and theon.ops.shape.Reshape)
    assert issubclass(theon.nn.Reshape, theon.nn.Layer)
    assert not hasattr(theon, "Reshape")
