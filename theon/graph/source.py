"""Where in the user's code a graph element was created."""
from __future__ import annotations

import dataclasses
import linecache
import os
import sys
from dataclasses import dataclass

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


@dataclass(frozen=True)
class SourceLoc:
    filename: str
    lineno: int
    function: str
    role: str = ""  # e.g. "gradient of exp" for nodes autodiff built for that line's op
    scope: str = ""  # the layer (path) that built the node: "sequential_1/dense_2"

    @property
    def code(self) -> str:
        return linecache.getline(self.filename, self.lineno).strip()

    def __str__(self) -> str:
        code = self.code
        where = f"{self.filename}:{self.lineno}"
        text = f"{where}: {code}" if code else where
        if self.scope:
            text = f"{text}  [{self.scope}]"
        return f"{text}  ({self.role})" if self.role else text


_override: list = []
_scopes: list = []  # (path, fallback SourceLoc or None, the frame that entered the scope)


class located:
    """Within this block, nodes built get `loc` (compiler rewrites keep the user's line)."""

    def __init__(self, loc: SourceLoc | None):
        self.loc = loc

    def __enter__(self):
        _override.append(self.loc)

    def __exit__(self, *exc):
        _override.pop()


class scope:
    """Within this block, nodes built belong to the named scope (a layer), nested scopes
    joining with '/'. Nodes that theon code builds with no user frame inside the block
    (a layer's own ops) take `loc`, the line where the user made the layer, rather than
    whatever user line called into theon (such as `model.fit(...)`)."""

    def __init__(self, name: str, loc: SourceLoc | None = None):
        self.name = name
        self.loc = loc

    def __enter__(self):
        path = f"{_scopes[-1][0]}/{self.name}" if _scopes else self.name
        _scopes.append((path, self.loc, sys._getframe(1)))
        return path

    def __exit__(self, *exc):
        _scopes.pop()


def current_scope() -> str:
    return _scopes[-1][0] if _scopes else ""


def user_location() -> SourceLoc | None:
    """The innermost frame outside the theon package: the line the user wrote."""
    if _override and _override[-1] is not None:
        return _override[-1]
    path, fallback, entry = _scopes[-1] if _scopes else ("", None, None)
    frame = sys._getframe(1)
    while frame is not None:
        if frame is entry and fallback is not None:
            return dataclasses.replace(fallback, scope=path)
        filename = frame.f_code.co_filename
        if not filename.startswith(_PKG_DIR) and not filename.startswith("<theon"):
            return SourceLoc(filename, frame.f_lineno, frame.f_code.co_name, scope=path)
        frame = frame.f_back
    return None
