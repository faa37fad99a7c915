"""Where in the user's code a graph element was created."""
from __future__ import annotations

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

    @property
    def code(self) -> str:
        return linecache.getline(self.filename, self.lineno).strip()

    def __str__(self) -> str:
        code = self.code
        where = f"{self.filename}:{self.lineno}"
        text = f"{where}: {code}" if code else where
        return f"{text}  ({self.role})" if self.role else text


_override: list = []


class located:
    """Within this block, nodes built get `loc` (compiler rewrites keep the user's line)."""

    def __init__(self, loc: SourceLoc | None):
        self.loc = loc

    def __enter__(self):
        _override.append(self.loc)

    def __exit__(self, *exc):
        _override.pop()


def user_location() -> SourceLoc | None:
    """The innermost frame outside the theon package: the line the user wrote."""
    if _override and _override[-1] is not None:
        return _override[-1]
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PKG_DIR) and not filename.startswith("<theon"):
            return SourceLoc(filename, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return None
