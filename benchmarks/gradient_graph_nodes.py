"""Nodes in the op table's compiled gradient graphs with and without the gradient clean-up
rules of canonicalize (x * ones broadcast, pow(x, 1), pow(x, 2), transposes of
transposes, broadcasts of broadcasts), first-order and (where the row checks them)
second-order. Run from the repository root: `python -m benchmarks.gradient_graph_nodes`."""
import numpy as np

import theon as th
from theon.compile.passes.canonicalize import CANONICALIZE
from theon.compile.pipeline import PASSES, RewritePass, optimize
from theon.graph import is_float, toposort
from theon.rewrite import RuleSet
from tests.ops.optable import ROWS
from tests.ops.test_optable import _as_list, _symbolic
from tests.ops.test_optable_coverage import _float_sum

NEW = {"multiply_broadcast_one", "power_one", "power_two", "transpose_of_transpose", "broadcast_of_broadcast"}


def _without_new_rules():
    out = []
    for p in PASSES:
        if isinstance(p, RewritePass):
            p = RewritePass(p.name, RuleSet([r for r in p.rules.rules if r.name not in NEW]))
        out.append(p)
    return out


def gradient_graphs():
    for row in ROWS:
        for s in row.samples(np.random.default_rng(0)):
            inputs, sym, arrays = _symbolic(s.args)
            try:
                outs = _as_list(row.op(*sym, **s.kwargs))
            except th.errors.TheonError:
                continue
            wrt = [v for v in inputs if is_float(v.dtype)]
            cost = _float_sum(outs)
            if row.grad and s.grad and wrt and cost is not None:
                grads = th.grad(cost, wrt, disconnected="zero")
                yield row.name, grads
                if row.second_order:
                    yield row.name, th.grad(_float_sum(grads), wrt, disconnected="zero")


def main():
    old_passes = _without_new_rules()
    before = after = graphs = changed = 0
    for name, grads in gradient_graphs():
        a = len(toposort(optimize(grads, {}, old_passes)[0]))
        b = len(toposort(optimize(grads, {})[0]))
        graphs += 1
        before, after, changed = before + a, after + b, changed + (b != a)
    print(f"{graphs} gradient graphs: {before} nodes without the rules, {after} with them "
          f"({before - after} fewer; {changed} graphs changed)")


if __name__ == "__main__":
    main()
