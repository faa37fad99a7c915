"""The ordered pass list: each pass is one bottom-up rewrite with a set of rules.

Specialisation happens in the first pass: the graph's inputs are replaced by variables of
the call's concrete shapes, every node is rebuilt (re-inferring its types) and shape
queries fold to constants, so later passes and code generation see only concrete shapes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from .passes.canonicalize import CANONICALIZE
from .passes.fold import FOLD
from .passes.merge import combine_siblings, merge_twins
from .passes.stabilize import STABILIZE
from .rewrite import Rewriter, RuleSet

PASSES = [
    ("specialize", RuleSet(FOLD)),
    ("canonicalize", RuleSet(FOLD + CANONICALIZE)),
    ("stabilize", RuleSet(STABILIZE + CANONICALIZE + FOLD)),
]


@dataclass
class PassReport:
    timings: dict = field(default_factory=dict)   # pass name -> seconds
    fired: dict = field(default_factory=dict)     # pass name -> rule names that fired


def optimize(outputs, mapping: dict, passes=PASSES):
    """Run every pass in order; returns (new outputs, PassReport)."""
    report = PassReport()
    start = time.perf_counter()
    outputs = merge_twins(outputs)
    report.timings["merge_twins"] = time.perf_counter() - start
    for name, rules in passes:
        start = time.perf_counter()
        rewriter = Rewriter(rules)
        outputs = rewriter.run(outputs, mapping)
        mapping = None
        report.timings[name] = time.perf_counter() - start
        report.fired[name] = rewriter.fired
    start = time.perf_counter()
    outputs = combine_siblings(outputs)
    report.timings["combine_siblings"] = time.perf_counter() - start
    return outputs, report
