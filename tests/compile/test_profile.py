"""`f.profile`: per-instruction time, calls and bytes, nested loop bodies, a Chrome trace,
and predicted against measured memory. (Timings are never compared with numbers here:
only their structure, which holds on any machine.)"""
import json

import numpy as np
import pytest

import theon as th
from theon import nn

RNG = np.random.default_rng(0)


def _train_step():
    model = nn.Sequential([nn.Dense(64, activation="relu"), nn.Dense(10)], input_shape=(32,), seed=0)
    x, y = th.tensor("x", (None, 32)), th.tensor("y", (None,), "int64")
    loss = th.nn.cross_entropy(model(x), y).mean()
    grads = th.grad(loss, model.params)
    f = th.function([x, y], loss, updates=[(p, p - 0.1 * g) for p, g in zip(model.params, grads)])
    return f, model


def _batch(n=16):
    return RNG.random((n, 32)).astype("float32"), RNG.integers(0, 10, n)


def test_every_instruction_is_a_row_with_its_op_layer_line_calls_and_bytes():
    f, model = _train_step()
    a, b = _batch()
    before = model.get_weights()
    table = f.profile(a, b, repeat=3)
    schedule = f.last_program.schedule
    assert len(table.rows) == len(schedule)
    assert {(r.program, r.index) for r in table.rows} == {(f.last_program.name, i) for i in range(len(schedule))}
    assert all(r.calls == 3 for r in table.rows)
    totals = [r.total_s for r in table.rows]
    assert totals == sorted(totals, reverse=True) and all(t > 0 for t in totals)
    assert sum(r.share for r in table.rows) == pytest.approx(1.0)
    # the first layer's forward matmul: its layer, the user's line, and 3 x its output's bytes
    (linear,) = [r for r in table.rows if r.op == "linear" and r.scope == "dense_1"]
    assert linear.line == f"test_profile.py:{_train_step.__code__.co_firstlineno + 1}"
    assert linear.bytes_allocated == 3 * 16 * 64 * 4
    assert any("gradient of" in r.line for r in table.rows)
    views = [r for r in table.rows if r.node.op.view]
    assert views and all(r.bytes_allocated == 0 for r in views)
    # profiling applies no update, and the program a call runs has no profiling in it
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(value, before[name])
    assert "_theon_profile" not in f.source and "_theon_profile" not in f.last_program.run.__globals__


def test_records_and_printed_table():
    f, _ = _train_step()
    table = f.profile(*_batch(), repeat=2)
    records = table.records
    assert set(records[0]) >= {"op", "attributes", "scope", "line", "calls", "total_s", "mean_s",
                               "share", "bytes_allocated", "depth"}
    assert records[0]["mean_s"] == pytest.approx(records[0]["total_s"] / 2)
    text = str(table)
    assert text.startswith("profile of theon_function on cpu: 2 run(s)")
    assert "predicted peak" in text and "measured" in text
    assert "cross_entropy" in text and "mean(axes=(0,))" in text and "dense_1" in text and "test_profile.py:" in text


def test_loop_body_instructions_are_nested_under_the_loop():
    xs = th.tensor("xs", (None, 8))

    def step(carry, row):
        new = th.tanh(carry * 0.5 + row)
        return new, new * 2

    final, ys = th.scan(step, th.zeros((8,)), xs)
    f = th.function([xs], [final, ys])
    table = f.profile(RNG.random((20, 8)).astype("float32"), repeat=2)
    (loop,) = [r for r in table.rows if r.op == "scan"]
    assert loop.calls == 2 and loop.children
    assert all(c.calls == 2 * 20 and c.depth == 1 and c.parent is loop for c in loop.children)
    assert {c.op for c in loop.children} >= {"tanh", "multiply", "add"}
    assert sum(c.total_s for c in loop.children) <= loop.total_s  # inside the loop's time
    order = [r["op"] for r in table.records]
    assert order.index("scan") < order.index("tanh")


def test_a_subgraph_op_lists_its_instructions_under_it():
    x = th.tensor("x", (None, 4))
    W = th.shared(RNG.random((4, 4)).astype("float32"), name="W")
    block = th.op_from_graph([x], [th.tanh(x @ W)], name="block")
    f = th.function([x], block(x))
    table = f.profile(RNG.random((3, 4)).astype("float32"), repeat=1)
    (row,) = [r for r in table.rows if r.op == "block"]
    assert {c.op for c in row.children} == {"matmul", "tanh"}


def test_chrome_trace_reads_back_with_nested_calls(tmp_path):
    xs = th.tensor("xs", (None, 3))
    final, _ = th.scan(lambda c, r: (c + r, c * r), th.zeros((3,)), xs)
    f = th.function([xs], final)
    table = f.profile(RNG.random((5, 3)).astype("float32"), repeat=2)
    path = table.export_chrome_trace(tmp_path / "trace.json")
    trace = json.loads(path.read_text())
    events = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    total_calls = sum(r.calls for r in table.walk())
    assert len(events) == total_calls
    assert all({"name", "ts", "dur", "pid", "tid", "args"} <= set(e) for e in events)
    loops = [e for e in events if e["name"] == "scan"]
    inner = [e for e in events if e["args"]["depth"] == 1]
    assert len(loops) == 2 and len(inner) == 2 * 5 * len([r for r in table.walk() if r.depth == 1])
    for e in inner:  # each body call lies inside one of the loop's calls
        assert any(l["ts"] <= e["ts"] and e["ts"] + e["dur"] <= l["ts"] + l["dur"] + 1e-3 for l in loops)
    assert trace["otherData"]["runs"] == 2


def test_measured_peak_memory_against_the_prediction():
    x = th.tensor("x", (None, 256))
    W = th.shared(RNG.random((256, 256)).astype("float32"), name="W")
    h = th.exp(th.tanh(x @ W))
    f = th.function([x], (h @ W).sum())
    a = RNG.random((64, 256)).astype("float32")
    table = f.profile(a, repeat=1)
    estimate = f.estimate_memory(a)
    assert table.memory["predicted_peak"] == estimate["intermediate_peak"]
    assert table.memory["measured_peak"] == estimate["intermediate_peak"] == 2 * 64 * 256 * 4
    # a training step: the plan is conservative (ops of unknown aliasing keep inputs alive)
    f, _ = _train_step()
    a, b = _batch(64)
    m = f.profile(a, b, repeat=1).memory
    assert 0.8 * m["predicted_peak"] <= m["measured_peak"] <= m["predicted_peak"]


def test_bad_arguments():
    f, _ = _train_step()
    with pytest.raises(ValueError, match="repeat must be a whole number >= 1"):
        f.profile(*_batch(), repeat=0)
    with pytest.raises(th.errors.InputError):
        f.profile(np.zeros((2, 5), "float32"), np.zeros(2, "int64"))
