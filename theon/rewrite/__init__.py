"""Graph rewriting: local rules, the driver that applies them, and the rules that bring
expressions to numerically stable forms. Below autodiff (which differentiates stabilised
graphs) and the compiler (whose passes are rule sets run by the same driver)."""
from .engine import Rewriter, Rule, RuleSet, rule
from .stabilize import STABILIZE

__all__ = ["Rewriter", "Rule", "RuleSet", "STABILIZE", "rule", "stabilize"]

_STABLE = RuleSet(STABILIZE)


def stabilize(outputs, protect=()) -> list:
    """`outputs` rebuilt with every stabilising rule applied; variables in `protect` stay
    in the graph (see Rewriter)."""
    return Rewriter(_STABLE, protect).run(list(outputs))
