"""`theon bench` and the harness under it. No timing is asserted here, ever: what is checked
is that every contender computes the same thing from the same weights, that the
measurement runs each contender as it says, and that the command reports it."""
import importlib.util
import json
import mmap
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import theon.cli
import theon_cli
from benchmarks import bench, child, harness, torch_steps, workloads
from benchmarks.workloads import REFERENCE, WORKLOADS

ROOT = Path(__file__).resolve().parents[1]


def test_the_command_line_knows_the_workloads_and_peers_the_benchmarks_have():
    assert theon_cli.BENCH_WORKLOADS == tuple(WORKLOADS)
    assert theon_cli.BENCH_PEERS == workloads.PEERS


def test_workloads_are_selected_by_name_or_prefix():
    def names(patterns):
        return [w.name for w in workloads.select(patterns)]

    assert names(["lenet"]) == ["lenet-train-64", "lenet-train-256", "lenet-infer-256"]
    assert names(["lstm", "lenet-train"]) == ["lenet-train-64", "lenet-train-256", "lstm-lm"]  # table order
    assert names(["mlp-adam-128"]) == ["mlp-adam-128"]
    with pytest.raises(ValueError, match="unknown workload 'len'"):
        workloads.select(["len"])


def _contenders(workload):
    return ["theon-model", "theon-function", REFERENCE] + (["torch-lstmcell"] if workload.model == "lstm" else [])


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_every_contender_starts_from_the_same_weights_and_agrees_with_torch(name, tmp_path):
    """The timing process itself (child.timing, in this process): each contender's first
    losses (or first outputs) and weight updates against torch eager's, on the same batches."""
    w = WORKLOADS[name]
    settings = {**bench.QUICK, "rounds": 2, "window_s": 1e-4, "warmup": 0}
    bench._write_inputs(tmp_path, w, settings)
    spec = {"workload": name, "device": "cpu", "threads": 0, "folder": str(tmp_path),
            "frameworks": _contenders(w), **settings}
    timed = child.timing(spec)
    assert timed["errors"] == {}
    for fw in _contenders(w):
        assert len(timed["times"][fw]) == 2 and all(t > 0 for t in timed["times"][fw])
        check = bench._agreement(timed, fw, settings, w.train)
        assert check["agrees"], (fw, check)
    reference = np.array(timed["checks"][REFERENCE])
    assert reference.size == (settings["check_steps"] if w.train else w.batch * w.classes)
    if w.train:  # the steps train: the losses move, and every contender's updates were compared
        assert reference[0] != reference[1]
        assert set(timed["update_differences"]) == set(_contenders(w))


def _updates(name, weights, mapping=lambda w: w):
    """torch eager's weight updates over 3 steps from `mapping(weights)`, read back through
    the inverse of the same mapping (as a contender whose weight copy is wrong both ways)."""
    w = WORKLOADS[name]
    start = mapping(dict(weights))
    runner = torch_steps.build(REFERENCE, w, start, "cpu")
    batches = [tuple(torch.from_numpy(a) for a in b) for b in workloads.make_batches(w, 3)]
    runner.first(*batches[0])
    for b in batches[1:]:
        runner.step(*b)
    after = runner.weights()
    return {k: after[k] - start[k] for k in start}


def _swap_gates(weights):  # LSTM gates i, f, g, o read as f, i, g, o
    for key in ("lstm/weight_ih", "lstm/weight_hh"):
        v = weights[key]
        weights[key] = np.concatenate([v[128:256], v[:128], v[256:]])
    return weights


@pytest.mark.parametrize("name, mapping", [
    ("lenet-train-64", lambda w: {**w, "dense2/kernel": w["dense2/kernel"] * 1.01}),
    ("lenet-train-64", lambda w: {**w, "conv1/kernel": w["conv1/kernel"][:, :, ::-1, ::-1].copy()}),
    ("mlp-adam-128", lambda w: {**w, "dense2/kernel": w["dense2/kernel"].T.copy()}),
    ("lstm-lm", _swap_gates),
], ids=["weight-1%-off", "kernel-flipped", "kernel-transposed", "lstm-gates-swapped"])
def test_the_update_check_catches_a_wrong_weight(name, mapping):
    weights = bench.theon_steps.initial_weights(WORKLOADS[name])
    right = _updates(name, weights)
    assert harness.update_difference(_updates(name, weights), right) < 1e-6  # repeatable
    assert harness.update_difference(_updates(name, weights, mapping), right) > bench.AGREE_UPDATES


def test_alternate_rotates_the_order_and_cycles_the_batches():
    calls = []
    def recorder(name):
        return lambda x, y: calls.append((name, x))

    steps = {n: recorder(n) for n in "abc"}
    times = harness.alternate(steps, batches=[(i, None) for i in range(5)], rounds=4, per_round=2)
    assert all(len(t) == 4 and min(t) >= 0 for t in times.values())
    windows = [calls[i:i + 2] for i in range(0, len(calls), 2)]
    order = [win[0][0] for win in windows]
    assert order == list("abc" "bca" "cab" "abc")  # each round starts one further on
    for r in range(4):  # within a round every contender sees the same batches
        batches = {tuple(x for _, x in win) for win in windows[3 * r:3 * r + 3]}
        assert batches == {((2 * r) % 5, (2 * r + 1) % 5)}


def test_ratios_and_their_spread():
    ratios = harness.round_ratios([1.0, 2.0, 4.0, 1.0], reference=[2.0, 2.0, 2.0, 2.0])
    assert ratios == [2.0, 1.0, 0.5, 2.0]
    s = harness.spread(ratios)
    assert (s["median"], s["min"], s["max"], s["n"]) == (1.5, 0.5, 2.0, 4)
    assert s["q1"] == pytest.approx(0.875) and s["q3"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="3 rounds against 2"):
        harness.round_ratios([1, 1, 1], [1, 1])
    assert harness.steps_per_round(0.01, 0.25) == 25 and harness.steps_per_round(3.0, 0.25) == 1


def test_relative_difference():
    assert harness.relative_difference([2.0, 4.0], [2.0, 4.0]) == 0.0
    assert harness.relative_difference([2.0, 4.4], [2.0, 4.0]) == pytest.approx(0.1)
    assert harness.relative_difference([float("nan")], [1.0]) == float("inf")
    with pytest.raises(ValueError, match="shape"):
        harness.relative_difference([1.0, 2.0], [1.0])


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="peak RSS reset is Linux's")
def _touched(block):
    for i in range(0, len(block), mmap.PAGESIZE):   # one byte a page: every page resident
        block[i] = 1
    return block


def test_peak_memory_sees_an_allocation_made_after_the_start():
    # fresh anonymous mappings, touched: malloc could hand back pages an earlier test freed
    # but left resident, which the resident set would not see grow
    before = _touched(mmap.mmap(-1, 16 * 2**20))  # before the measurement: not counted
    baseline = harness.peak_memory_start("cpu")
    block = _touched(mmap.mmap(-1, 48 * 2**20))  # 48 MiB
    block.close()
    grown = harness.peak_memory_mib("cpu", baseline)
    assert 46 <= grown < 16 + 46, grown
    before.close()


def test_missing_peers_are_skipped_with_a_note(monkeypatch):
    installed = {p: importlib.util.find_spec(p) is not None for p in ("tensorflow", "jax")}
    run, notes = bench.contenders(None, "cpu")
    assert run == ["torch-compile", "torch-lstmcell"]  # reduce-overhead is for CUDA
    for peer, name in (("tensorflow", "TensorFlow"), ("jax", "JAX")):
        if not installed[peer]:
            assert f"{name}: not installed, skipped" in notes
    monkeypatch.setattr(bench.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
    run, notes = bench.contenders(["torch-compile", "jax", "torch-compile-reduce-overhead"], "cpu")
    assert run == []
    assert notes == ["torch.compile: on the CPU it needs a C++ compiler (g++, clang++ or $CXX); none found, skipped",
                     "JAX: installed, but theon bench has no JAX contender yet, skipped",
                     "torch.compile reduce-overhead: CUDA graphs, on CUDA only, skipped"]
    assert bench.contenders(["torch-compile-reduce-overhead"], "cuda")[0] == ["torch-compile-reduce-overhead"]


def test_theon_bench_quick_json(tmp_path, capsys):
    """The command end to end: a timing process and a fresh process per contender."""
    saved = tmp_path / "out" / "bench.json"
    code = theon_cli.main(["bench", "--quick", "--workloads", "mlp", "--peers", "none", "--threads", "1",
                           "--json", "--save", str(saved)])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert json.loads(saved.read_text()) == result
    assert result["machine"]["theon"] == theon.__version__ and result["machine"]["device"] == "cpu"
    assert [run["threads"] for run in result["runs"]] == [1]
    (w,) = result["runs"][0]["workloads"]
    assert w["name"] == "mlp-adam-128" and w["rounds"] == 5 and w["per_round"] >= 1
    assert [e["id"] for e in w["frameworks"]] == ["theon-model", "theon-function", REFERENCE]
    for e in w["frameworks"]:
        assert e["error"] is None
        assert e["examples_per_s"] > 0 and len(e["window_s"]) == 5
        r = e["ratio"]
        assert r["min"] <= r["q1"] <= r["median"] <= r["q3"] <= r["max"]
        assert e["first_step_s"] > 0 and np.isfinite(e["peak_mib"])
        assert e["check"]["agrees"] is True and e["check"]["what"] == "first 2 losses"
        assert len(e["check"]["losses"]) == 2 and e["check"]["update_diff"] < bench.AGREE_UPDATES
    assert w["frameworks"][2]["ratio"]["median"] == 1.0
    table = bench.format_table(result)
    for text in ("== torch threads: 1", "MLP 784-512-512-10 training", "theon Model.fit step",
                 "theon th.function (by hand)", "1 (reference)", "agree (losses "):
        assert text in table
    assert "mlp-adam-128: timing 3 contenders" in err


BAD_BENCH_LINES = [
    (["--workloads", "lenet,resnet"], "--workloads: unknown workload 'resnet'; choose from lenet-train-64"),
    (["--peers", "caffe"], "--peers: unknown peer 'caffe'; choose from torch-compile"),
    (["--threads", "0"], "--threads: expected a whole number >= 1, got 0"),
    (["--threads", "2,many"], "--threads: expected a whole number >= 1, got 'many'"),
    (["--rounds", "0"], "--rounds: expected a whole number >= 1, got 0"),
    (["--repeat", "-1"], "--repeat: expected a whole number >= 1, got -1"),
    (["--device", "tpu"], "--device: expected cpu, cuda or cuda:N, got 'tpu'"),
    (["--save", "README.md/bench.json"], "--save README.md/bench.json: README.md is a file, not a folder"),
    (["--save", "tests"], "--save tests: is a folder, not a file"),
]


def test_bad_bench_arguments_are_one_line_exit_2_without_importing_torch():
    code = ("import sys, theon_cli\n"
            f"for argv in {[a for a, _ in BAD_BENCH_LINES]!r}:\n"
            "    print(theon_cli.main(['bench', *argv]))\n"
            "print('torch' in sys.modules, 'theon' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT,
                          check=False)
    assert proc.stdout.split() == ["2"] * len(BAD_BENCH_LINES) + ["False", "False"], proc.stdout + proc.stderr
    errors = proc.stderr.splitlines()
    assert len(errors) == len(BAD_BENCH_LINES)
    for line, (_, message) in zip(errors, BAD_BENCH_LINES):
        assert line.startswith("theon bench: ") and message in line, line


def test_a_missing_cuda_device_is_one_line_before_anything_runs(capsys, monkeypatch):
    missing = "cuda" if not torch.cuda.is_available() else f"cuda:{torch.cuda.device_count()}"
    monkeypatch.setattr(theon.cli, "load_benchmarks", lambda: pytest.fail("started the benchmarks"))
    assert theon_cli.main(["bench", "--device", missing]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("theon bench: --device: device ")


def test_a_failed_measuring_process_reports_its_own_error():
    with pytest.raises(harness.ChildFailed, match=r"failed \(exit 1\):\n.*No module named '?benchmarks.no_such_module"):
        harness.run_fresh("benchmarks.no_such_module", [])
