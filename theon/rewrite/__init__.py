"""Graph rewriting: local rules, the driver that applies them, and the rules that bring
expressions to numerically stable forms. Below autodiff (which differentiates stabilised
graphs) and the compiler (whose passes are rule sets run by the same driver)."""
from .engine import Rewriter, Rule, RuleSet, rule
from .stabilize import STABILIZE

__all__ = ["Rewriter", "Rule", "RuleSet", "STABILIZE", "register_before_grad", "rule", "stabilize"]

_before_grad: list = list(STABILIZE)
_rules = RuleSet(_before_grad)


def register_before_grad(r: Rule) -> None:
    """Add a rule of a higher layer to those `stabilize` applies before differentiation
    (control flow's fused-LSTM recognition: the gradient of the fused op is the fused
    backward, so the rewrite must come first)."""
    global _rules
    if r not in _before_grad:
        _before_grad.append(r)
        _rules = RuleSet(_before_grad)


def stabilize(outputs, protect=()) -> list:
    """`outputs` rebuilt with every stabilising rule (and every rule registered with
    `register_before_grad`) applied; variables in `protect` stay in the graph (see
    Rewriter)."""
    return Rewriter(_rules, protect).run(list(outputs))
