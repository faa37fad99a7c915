"""ai.onnx.ml TreeEnsemble as comparisons and sums: each leaf's path through its tree is a
conjunction of node tests on X's columns, and a tree's output for a target is the weight
of the leaf whose path holds. The trees are unrolled when importing (one test per node
visit), so this suits the ensembles of ordinary size.

As ONNX's reference does: set-membership nodes take their value sets from
membership_values in the order the trees are walked (roots in order, true branch first),
comparisons are made in float64, and a missing value (NaN) takes the true branch where
nodes_missing_value_tracks_true says so."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from . import converter

LEQ, LT, GTE, GT, EQ, NEQ, MEMBER = range(7)
SUM_, AVERAGE, MIN_, MAX_ = 1, 0, 2, 3


def _test(column, mode, value):
    if mode == MEMBER:
        hit = None
        for v in value:
            eq = T.equal(column, np.float64(v))
            hit = eq if hit is None else T.logical_or(hit, eq)
        return hit if hit is not None else T.zeros_like(column) > 1
    compare = {LEQ: T.less_equal, LT: T.less, GTE: T.greater_equal, GT: T.greater,
               EQ: T.equal, NEQ: T.not_equal}[mode]
    return compare(column, np.float64(value))


@converter("TreeEnsemble", domain="ai.onnx.ml")
def tree_ensemble(ctx):
    x = T.cast_to(ctx.x(0), "float64")
    a = ctx.attr
    if a("post_transform", 0) != 0:
        ctx.fail("TreeEnsemble with a post_transform is not supported (ONNX's reference has none)")
    splits = np.asarray(a("nodes_splits")).astype(np.float64).reshape(-1)
    modes = np.asarray(a("nodes_modes")).reshape(-1).astype(int)
    features = a("nodes_featureids")
    true_ids, false_ids = a("nodes_truenodeids"), a("nodes_falsenodeids")
    true_leaf, false_leaf = a("nodes_trueleafs"), a("nodes_falseleafs")
    weights = np.asarray(a("leaf_weights")).astype(np.float64).reshape(-1)
    targets, roots, n_targets = a("leaf_targetids"), a("tree_roots"), a("n_targets")
    missing = a("nodes_missing_value_tracks_true") or [0] * len(modes)
    members = iter(np.asarray(a("membership_values", np.zeros(0))).astype(np.float64).reshape(-1))
    aggregate = a("aggregate_function", SUM_)
    if aggregate not in (SUM_, AVERAGE, MIN_, MAX_):
        ctx.fail(f"aggregate_function {aggregate} is not one of ONNX's 0-3")

    def member_set():
        values = []
        for v in members:
            if np.isnan(v) or not v:   # a NaN ends each set (the reference also stops at 0)
                break
            values.append(v)
        return values

    def leaves(index, is_leaf, path, out):
        """(path condition or None, leaf index) of every leaf under node `index`."""
        if is_leaf:
            out.append((path, index))
            return
        value = member_set() if modes[index] == MEMBER else splits[index]
        column = x[:, features[index]]
        test = _test(column, modes[index], value)
        if missing[index]:
            test = T.logical_or(test, T.isnan(column))
        for cond, child, child_leaf in ((test, true_ids[index], true_leaf[index]),
                                        (T.logical_not(test), false_ids[index], false_leaf[index])):
            leaves(child, child_leaf, cond if path is None else T.logical_and(path, cond), out)

    per_target = [[] for _ in range(n_targets)]   # per target: (value, hit) of each tree reaching it
    for root in roots:
        degenerate = true_leaf[root] and false_leaf[root] and true_ids[root] == false_ids[root]
        found = []
        leaves(root, degenerate, None, found)
        for t in range(n_targets):
            value = hit = None
            for path, leaf in found:
                if targets[leaf] != t:
                    continue
                on = T.cast_to(path, "float64") if path is not None else T.ones_like(x[:, 0])
                value = on * weights[leaf] if value is None else value + on * weights[leaf]
                hit = on if hit is None else hit + on
            if value is not None:
                per_target[t].append((value, hit))

    dtype = ctx.x(0).dtype
    zero = T.zeros_like(x[:, 0])
    columns = []
    for contributions in per_target:
        if aggregate in (SUM_, AVERAGE):
            col = zero
            for value, _ in contributions:
                col = col + value
            if aggregate == AVERAGE:
                col = col / np.float64(len(roots))
        else:
            info = np.finfo(dtype)
            col = zero + np.float64(info.max if aggregate == MIN_ else info.min)
            pick = T.minimum if aggregate == MIN_ else T.maximum
            for value, hit in contributions:
                col = T.where(T.greater(hit, 0.0), pick(col, value), col)
        columns.append(col)
    return T.cast_to(T.stack(columns, axis=1), dtype)
