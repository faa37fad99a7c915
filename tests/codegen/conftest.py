"""Fixtures shared by the generated-kernel tests."""
import pytest

from theon.codegen import timed


@pytest.fixture
def always_generated(monkeypatch):
    """The built kernel on every call: no timing against ATen's (which could pick ATen)."""
    monkeypatch.setattr(timed.TimedChoice, "pick", lambda self, aten, *args: self.fn)
