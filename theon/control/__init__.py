"""Control flow: `scan`, `cond` and `while_loop`, ops whose fields are inner graphs.

This layer sits above autodiff (the gradients of loops and branches differentiate their
bodies) and below the compiler, which compiles the bodies with the outer program.
"""
from .cond import Cond, cond
from .scan import Scan, scan
from .while_loop import While, while_loop

__all__ = ["Cond", "Scan", "While", "cond", "scan", "while_loop"]
