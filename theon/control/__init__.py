"""Control flow: `scan`, `cond` and `while_loop`, ops whose fields are inner graphs, and the
fused recurrent op whose meaning is a scan of an LSTM/GRU cell.

This layer sits above autodiff (the gradients of loops and branches differentiate their
bodies) and below the compiler, which compiles the bodies with the outer program.
"""
from ..rewrite import register_before_grad
from .cond import Cond, cond
from .rnn_match import SCAN_CELL_TO_RNN
from .scan import Scan, scan
from .while_loop import While, while_loop

# a hand-written LSTM scan becomes the fused op before th.grad differentiates it
register_before_grad(SCAN_CELL_TO_RNN)

__all__ = ["Cond", "SCAN_CELL_TO_RNN", "Scan", "While", "cond", "scan", "while_loop"]
