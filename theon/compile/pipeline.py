"""The ordered pass list. Each pass maps a graph's outputs to new outputs: most are one
bottom-up rewrite with a set of local rules; a few look at the whole graph at once.

Specialisation happens in the first rewrite: the graph's inputs are replaced by variables
of the call's concrete shapes, every node is rebuilt (re-inferring its types, loop bodies
included) and shape queries fold to constants, so later passes and code generation see
only concrete shapes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .passes.bookkeeping import BOOKKEEPING
from .passes.canonicalize import CANONICALIZE
from .passes.fold import FOLD
from .passes.formulate import formulate
from .passes.fuse import fuse
from .passes.fuse_conv_pool import fuse_conv_pool
from .passes.fuse_direct_conv import fuse_direct_conv
from .passes.fuse_squeeze_excite import fuse_squeeze_excite
from .passes.fuse_elementwise import fuse_elementwise
from .passes.inline import INLINE
from .passes.loss_grad import share_log_softmax
from .passes.merge import combine_siblings, merge_twins
from .passes.views import VIEWS
from ..control import SCAN_CELL_TO_RNN
from ..rewrite import STABILIZE
from ..rewrite import Rewriter, RuleSet


@dataclass(frozen=True)
class RewritePass:
    """A pass of local rules; `fired` collects the names of the rules that fired."""
    name: str
    rules: RuleSet

    def run(self, outputs, mapping=None, fired=None) -> list:
        rewriter = Rewriter(self.rules)
        result = rewriter.run(outputs, mapping)
        if fired is not None:
            fired.extend(rewriter.fired)
        return result


@dataclass(frozen=True)
class GraphPass:
    """A pass over the whole graph at once (merging nodes that share work)."""
    name: str
    fn: object

    def run(self, outputs, mapping=None, fired=None) -> list:
        assert mapping is None, f"{self.name} cannot specialise; a rewrite pass must run first"
        return self.fn(outputs)


PASSES = [
    # a hand-written LSTM scan becomes the fused op before merge_twins, so a training graph's
    # forward shares the fused backward's twin (th.grad has usually fused it already)
    RewritePass("specialize", RuleSet(BOOKKEEPING + INLINE + FOLD + [SCAN_CELL_TO_RNN])),
    GraphPass("merge_twins", merge_twins),
    RewritePass("canonicalize", RuleSet(FOLD + CANONICALIZE + VIEWS)),
    RewritePass("stabilize", RuleSet(STABILIZE + CANONICALIZE + FOLD)),
    GraphPass("fuse", fuse),
    GraphPass("share_log_softmax", share_log_softmax),
    GraphPass("fuse_conv_pool", fuse_conv_pool),
    GraphPass("combine_siblings", combine_siblings),
    GraphPass("fuse_squeeze_excite", fuse_squeeze_excite),
    GraphPass("fuse_direct_conv", fuse_direct_conv),
    GraphPass("formulate", formulate),
    GraphPass("fuse_elementwise", fuse_elementwise),
]


@dataclass
class PassReport:
    timings: dict = field(default_factory=dict)   # pass name -> seconds
    fired: dict = field(default_factory=dict)     # pass name -> rule names that fired


def optimize(outputs, mapping: dict, passes=PASSES):
    """Run every pass in order (the first one substitutes `mapping`); returns (new outputs,
    PassReport)."""
    report = PassReport()
    for p in passes:
        start = time.perf_counter()
        fired: list = []
        outputs = p.run(outputs, mapping, fired)
        mapping = None
        report.timings[p.name] = time.perf_counter() - start
        report.fired[p.name] = fired
    return outputs, report
