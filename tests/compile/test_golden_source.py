"""Reference programs: the generated code of a few graphs is kept in golden/ and compared,
so any change to what the compiler emits shows up in review.

After an intended change, regenerate them with
    THEON_UPDATE_GOLDEN=1 python -m pytest tests/compile/test_golden_source.py
and read the diff. The annotations name lines of this file: edit it at its end.
"""
import os
from pathlib import Path

import numpy as np
import pytest

import theon as th
from theon import nn

GOLDEN = Path(__file__).parent / "golden"


def logistic_regression_step():
    x = th.tensor("x", (64, 784))
    y = th.tensor("y", (64,), "int64")
    W = th.shared(np.zeros((784, 10), "float32"), name="W")
    b = th.shared(np.zeros(10, "float32"), name="b")
    loss = th.nn.cross_entropy(x @ W + b, y).mean()
    gW, gb = th.grad(loss, [W, b])
    return th.function([x, y], loss, updates=[(W, W - 0.1 * gW), (b, b - 0.1 * gb)],
                       name="logistic_step")


def loop_and_branch():
    seq = th.tensor("seq", (5, 3), "float64")
    w = th.shared(np.ones((3, 3)), name="w")
    h, hs = th.scan(lambda c, x: (th.tanh(c @ w + x), c.sum()), init=th.zeros(3, "float64"), xs=seq)
    out = th.cond(h.sum() > 0, lambda v: v * 2.0, lambda v: -v, h)
    return th.function([seq], [out, hs], name="loop_and_branch")


def dense_model_prediction():
    model = nn.Sequential([nn.Dense(8, activation="relu"), nn.Dropout(0.5), nn.Dense(3)],
                          input_shape=(4,))
    x = th.tensor("x", (2, 4))
    return th.function([x], model(x), name="dense_predict")


CASES = {"logistic_step": logistic_regression_step, "loop_and_branch": loop_and_branch,
         "dense_predict": dense_model_prediction}


@pytest.mark.parametrize("name", sorted(CASES))
def test_generated_source_matches_the_reference(name):
    source = CASES[name]().source
    path = GOLDEN / f"{name}.py.txt"
    if os.environ.get("THEON_UPDATE_GOLDEN") == "1":
        path.write_text(source)
    assert source == path.read_text(), f"generated code changed: see {path.name} (regenerate as the module docstring says)"


def test_dense_model_program_has_no_layer_bookkeeping_and_names_each_layer():
    source = dense_model_prediction().source
    assert "layer_output" not in source
    assert "[dense_1]" in source and "[dense_2]" in source
    assert "test_golden_source.py:" in source
