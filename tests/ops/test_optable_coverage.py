"""Every operator class has a row in the op table, or is built by one (gradient-only ops
appear in the gradient graphs of the rows that check gradients). The few ops tested
elsewhere are listed here with where and why."""
import importlib
import pkgutil

import numpy as np

import theon as th
from theon.graph import is_float, toposort
from theon.ops.base import Op

from .optable import ROWS
from .test_optable import _as_list, _symbolic

# op class name -> where it is tested instead of the op table
TESTED_ELSEWHERE = {
    "Scan": "tests/control: against Python loops, gradients by finite differences",
    "Cond": "tests/control: both branches, gradients by finite differences",
    "While": "tests/control: against Python loops, gradients through max_iters",
    "Uniform": "tests/ops/test_random.py: distributions, reproducibility, out=",
    "Normal": "tests/ops/test_random.py",
    "Bernoulli": "tests/ops/test_random.py",
    "Categorical": "tests/ops/test_random.py",
    "Permutation": "tests/ops/test_random.py",
    "ConvBackward": "made only by the compiler's combine_siblings pass from the two conv "
                    "gradients: tests/compile/test_passes.py checks its values",
    "ConvReluPoolBackward": "made only by the compiler's fuse_conv_pool pass from a first layer's "
                            "weight gradients: tests/compile/test_fuse_conv_pool.py (against the "
                            "unfused program) and tests/codegen/test_conv_pool.py (generated kernel)",
    "ConvReluPoolBackwardWithInput": "made only by the compiler's fuse_conv_pool pass from a later "
                                     "layer's gradients: the same two test files",
    "GeneratedPointwiseConv": "made only by the compiler's formulate pass (PointwiseConv, its bias and "
                              "activation in a generated pass): tests/codegen/test_pointwise_conv.py, "
                              "against PointwiseConv's ATen calls and torch's conv2d",
    "LayerOutput": "layer bookkeeping, removed by the compiler: tests/nn",
    "GraphOp": "th.op_from_graph: tests/ops/test_graph_op.py, values against the expression "
               "and gradients by finite differences, compiled and inlined",
    "CustomOp": "the base of th.op's classes: tests/ops/test_user_op.py",
    "RecurrentLayerOp": "made and consumed only by the ONNX exporter (no kernel): tests/onnx export "
                        "tests of recurrent layers against onnxruntime",
    "Empty": "values unspecified by definition: tests/ops/test_default_dtype.py checks shapes and dtypes",
    # collectives need several processes: tests/distributed spawns 2 gloo ranks
    "AllReduce": "tests/distributed/test_collectives.py: values and gradients on 2 ranks "
                 "against NumPy; one process (identity) by finite differences",
    "Broadcast": "tests/distributed/test_collectives.py",
    "Reduce": "tests/distributed/test_collectives.py",
    "AllGather": "tests/distributed/test_collectives.py",
    "ReduceScatter": "tests/distributed/test_collectives.py",
    "AllReduceStart": "the gradient buckets of data-parallel training: "
                      "tests/distributed/test_training.py (weights of 2 ranks = 1 process)",
    "AllReduceWait": "tests/distributed/test_training.py, and the schedule in "
                     "tests/distributed/test_data_and_buckets.py",
}


def _all_op_classes() -> dict:
    for mod in pkgutil.walk_packages(th.__path__, "theon."):
        if mod.name != "theon.__main__":
            importlib.import_module(mod.name)
    found, todo = {}, list(Op.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        # leaves among theon's own classes (test modules subclass th.op's base, CustomOp)
        own = [c for c in cls.__subclasses__() if c.__module__.startswith("theon.")]
        if cls.__module__.startswith("theon.") and not own:
            found[cls.__name__] = cls
    return found


def _float_sum(outs):
    """A scalar through every float output; squared, so the gradients depend on the
    inputs and a second derivative reaches the gradient ops' own gradients."""
    total = None
    for o in outs:
        if o.dtype.startswith("float"):  # complex outputs: their rows check gradients themselves
            term = (o * o).sum()
            total = term if total is None else total + term
    return total


def _classes_built_by_the_table() -> set:
    """Op classes in the forward graphs of every sample (dims known, and unknown where the
    op allows), in first-order gradient graphs, and in second-order ones where the row
    checks them."""
    seen = set()
    samples = [(row, s, shapes) for row in ROWS for s in row.samples(np.random.default_rng(0))
               for shapes in (None, lambda shape: (None,) * len(shape))]
    for row, s, shapes in samples:
        inputs, sym, _ = _symbolic(s.args, shapes)
        try:
            outs = _as_list(row.op(*sym, **s.kwargs))
        except th.errors.TheonError:  # some ops need known dims; the known-dims build counts
            continue
        seen.update(type(n.op).__name__ for n in toposort(outs))
        wrt = [v for v in inputs if is_float(v.dtype)]
        cost = _float_sum(outs)
        if not (row.grad and s.grad and wrt and cost is not None):
            continue
        grads = th.grad(cost, wrt, disconnected="zero")
        seen.update(type(n.op).__name__ for n in toposort(grads))
        if row.second_order:
            again = th.grad(_float_sum(grads), wrt, disconnected="zero")
            seen.update(type(n.op).__name__ for n in toposort(again))
    return seen


def test_every_op_class_is_exercised_by_the_op_table():
    classes = _all_op_classes()
    covered = _classes_built_by_the_table()
    missing = sorted(set(classes) - covered - set(TESTED_ELSEWHERE))
    assert not missing, f"op classes with no op-table row: {missing}"
    stale = sorted(set(TESTED_ELSEWHERE) - set(classes))
    assert not stale, f"TESTED_ELSEWHERE names classes that no longer exist: {stale}"
