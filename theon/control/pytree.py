"""Nested tuples, lists and dicts of tensors ("pytrees"), flattened to leaves and back."""
from __future__ import annotations


def flatten(tree) -> tuple:
    """(leaves, treedef): leaves in a fixed order; dict keys sorted."""
    leaves: list = []
    return leaves, _flatten(tree, leaves)


def _flatten(tree, leaves):
    if isinstance(tree, tuple) and not hasattr(tree, "_fields"):
        return ("tuple", tuple(_flatten(t, leaves) for t in tree))
    if isinstance(tree, list):
        return ("list", tuple(_flatten(t, leaves) for t in tree))
    if isinstance(tree, dict):
        keys = sorted(tree)
        return ("dict", tuple(keys), tuple(_flatten(tree[k], leaves) for k in keys))
    if tree is None:
        return ("none",)
    leaves.append(tree)
    return ("leaf",)


def unflatten(treedef, leaves):
    """The tree of `treedef` with `leaves` put back in order."""
    it = iter(leaves)
    tree = _build(treedef, it)
    rest = list(it)
    if rest:
        raise ValueError(f"{len(rest)} leaves left over when rebuilding a tree")
    return tree


def _build(td, it):
    kind = td[0]
    if kind == "leaf":
        return next(it)
    if kind == "none":
        return None
    if kind == "tuple":
        return tuple(_build(t, it) for t in td[1])
    if kind == "list":
        return [_build(t, it) for t in td[1]]
    return {k: _build(t, it) for k, t in zip(td[1], td[2])}


def describe(treedef) -> str:
    """A short structural description for error messages: (*, [*, *])."""
    kind = treedef[0]
    if kind == "leaf":
        return "*"
    if kind == "none":
        return "None"
    if kind == "tuple":
        return "(" + ", ".join(describe(t) for t in treedef[1]) + ("," if len(treedef[1]) == 1 else "") + ")"
    if kind == "list":
        return "[" + ", ".join(describe(t) for t in treedef[1]) + "]"
    return "{" + ", ".join(f"{k!r}: {describe(t)}" for k, t in zip(treedef[1], treedef[2])) + "}"
