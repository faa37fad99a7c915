"""Local rewrite rules and the driver that applies them while rebuilding a graph.

A rule looks at one node and returns replacement variables (built from the node's inputs)
or None. The driver rebuilds the graph bottom-up, so every rule sees inputs that are
already rewritten, and re-applies rules to each replacement until none fires.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from .. import config
from ..graph import apply, located, shapes_agree, toposort

log = logging.getLogger("theon.rewrite")
_MAX_DEPTH = 32


@dataclass(frozen=True)
class Rule:
    name: str
    ops: tuple            # op classes the rule looks at; () means every op
    fn: Callable          # node -> list of replacement variables, or None


class RuleSet:
    """Rules indexed by op class, so each node only meets the rules that can match it."""

    def __init__(self, rules):
        self.rules = list(rules)
        self._by_op: dict = {}
        self._generic = [r for r in self.rules if not r.ops]

    def for_op(self, op) -> list:
        cls = type(op)
        found = self._by_op.get(cls)
        if found is None:
            found = [r for r in self.rules if r.ops and isinstance(op, r.ops)] + self._generic
            self._by_op[cls] = found
        return found


def rule(*ops, name: str | None = None, registry: list | None = None):
    """Decorator: `@rule(Log, registry=STABILIZE)` registers `fn(node)` as a Rule."""
    def wrap(fn):
        r = Rule(name or fn.__name__, tuple(ops), fn)
        if registry is not None:
            registry.append(r)
        return r
    return wrap


class Rewriter:
    """Applies a RuleSet while rebuilding a graph.

    protect: variables that must stay in the rewritten graph (autodiff's `wrt`): their own
    nodes are not rewritten, and a rule may not replace a node by an expression that no
    longer passes through a protected variable the node depended on."""

    def __init__(self, rules: RuleSet, protect=()):
        self.rules = rules
        self.fired: list = []
        self._bits = {id(v): 1 << k for k, v in enumerate(protect)}
        self._protected = set(self._bits)

    def run(self, outputs, mapping: dict | None = None) -> list:
        memo = {id(k): v for k, v in (mapping or {}).items()}
        for node in toposort(outputs):
            new_inputs = [memo.get(id(i), i) for i in node.inputs]
            if all(a is b for a, b in zip(new_inputs, node.inputs)):
                new_node = node
            else:
                new_node = apply(node.op, new_inputs, loc=node.loc)
            if self._protected and any(id(o) in self._protected for o in node.outputs):
                new_outs = list(new_node.outputs)
            else:
                new_outs = self._simplify(new_node, 0)
            for old, new in zip(node.outputs, new_outs):
                memo[id(old)] = new
        return [memo.get(id(v), v) for v in outputs]

    def _depends(self, v) -> int:
        """Bit mask of the protected variables `v` depends on."""
        bits = self._bits
        if id(v) in bits:
            return bits[id(v)]
        stack = [v]
        while stack:
            top = stack[-1]
            if top.owner is None:
                bits[id(top)] = 0
                stack.pop()
                continue
            pending = [i for i in top.owner.inputs if id(i) not in bits]
            if pending:
                stack.extend(pending)
                continue
            mask = 0
            for i in top.owner.inputs:
                mask |= bits[id(i)]
            for o in top.owner.outputs:
                bits.setdefault(id(o), mask)
            stack.pop()
        return bits[id(v)]

    def _keeps_protected(self, node, result) -> bool:
        need = 0
        for i in node.inputs:
            need |= self._depends(i)
        have = 0
        for v in result:
            have |= self._depends(v)
        return need & ~have == 0

    def _simplify(self, node, depth) -> list:
        if depth > _MAX_DEPTH:
            return list(node.outputs)
        for r in self.rules.for_op(node.op):
            with located(node.loc):
                result = r.fn(node)
            if result is None:
                continue
            result = list(result)
            _check(r, node, result)
            if self._protected and not self._keeps_protected(node, result):
                continue
            self.fired.append(r.name)
            if config.TRACE:
                log.warning("rewrite %s: %s at %s", r.name, node.op, node.loc)
            return [self._simplify(v.owner, depth + 1)[v.index] if v.owner is not None else v
                    for v in result]
        return list(node.outputs)


def _check(r: Rule, node, result) -> None:
    if len(result) != len(node.outputs):
        raise AssertionError(f"rule {r.name} gave {len(result)} outputs for {node.op}")
    for old, new in zip(node.outputs, result):
        if old.dtype != new.dtype or not shapes_agree(old.type.shape, new.type.shape):
            raise AssertionError(f"rule {r.name} changed {node.op}'s output type "
                                 f"from {old.type} to {new.type}")
