"""benchmarks/gpu_check.py, the one command a lent GPU machine runs: its arguments, its
steps' deadlines, and what it leaves in $OUT. No timing is asserted; the steps' programs
themselves are run by `--device cpu` (the dry run)."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from benchmarks import gpu_check
from benchmarks.workloads import WORKLOADS


def test_workloads_run_most_telling_first_and_tests_default_to_the_quick_set():
    args = gpu_check.parse(["--workloads", "lenet,lstm"])
    assert args.workloads == ["lenet-train-64", "lstm-lm", "lenet-infer-256", "lenet-train-256"]
    assert gpu_check.parse([]).workloads == list(gpu_check.ORDER)
    assert sorted(gpu_check.ORDER) == sorted(WORKLOADS)
    assert gpu_check.parse([]).tests == list(gpu_check.QUICK_TESTS)
    assert gpu_check.parse(["--full"]).tests == ["tests"]
    assert gpu_check.parse([]).steps == ["build", "tests", "overhead", "cuda-graph", "bench"]
    assert gpu_check.parse(["--tests", "tests/ops,tests/test_imports.py"]).tests == ["tests/ops", "tests/test_imports.py"]


@pytest.mark.parametrize("argv, message", [
    (["--workloads", "resnet"], "--workloads: unknown workload 'resnet'"),
    (["--device", "gpu"], "--device: expected cuda, cuda:N or cpu, got 'gpu'"),
    (["--steps", "tests,lint"], "--steps: unknown step 'lint'; choose from build, tests, overhead, cuda-graph, bench"),
    (["--budget-s", "0"], "--budget-s: expected seconds > 0, got 0.0"),
])
def test_bad_arguments_are_one_line_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        gpu_check.parse(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


def test_a_missing_cuda_device_exits_2_before_any_step(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("OUT", str(tmp_path))
    monkeypatch.setattr(gpu_check, "run_step", lambda *a: pytest.fail("ran a step"))
    missing = f"cuda:{torch.cuda.device_count()}"  # one past the last, or cuda:0 without CUDA
    assert gpu_check.main(["--device", missing]) == 2
    assert "no CUDA device" in capsys.readouterr().out and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from Linux's /proc")
def test_a_step_past_its_deadline_is_stopped_with_its_children(tmp_path):
    # the step starts a grandchild that would outlive a plain kill of the step
    code = ("import subprocess, sys, time; print('started', flush=True);"
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
            "print(p.pid, flush=True); time.sleep(60)")
    with open(tmp_path / "log.txt", "w") as log:
        start = time.monotonic()
        step = gpu_check.run_step("sleepy", [sys.executable, "-c", code], {}, 2.0, log)
    assert time.monotonic() - start < 30
    assert step["step"] == "sleepy" and step["status"] == "timed out"
    text = (tmp_path / "log.txt").read_text()
    assert "gpu_check [sleepy]:" in text and "started" in text and "timed out after" in text
    grandchild = Path(f"/proc/{int(text.splitlines()[2])}/stat")
    time.sleep(0.5)
    # gone, or a zombie (dead, waiting for whoever adopted it to reap it)
    assert not grandchild.exists() or grandchild.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_failing_step_is_recorded_with_its_exit_status(tmp_path):
    with open(tmp_path / "log.txt", "w") as log:
        ok = gpu_check.run_step("ok", [sys.executable, "-c", "print('fine')"], {}, 30, log)
        bad = gpu_check.run_step("bad", [sys.executable, "-c", "raise SystemExit(3)"], {}, 30, log)
    assert ok["status"] == "passed" and bad["status"] == "failed (exit 3)"


def test_every_step_runs_and_bench_results_are_gathered_in_out(monkeypatch, tmp_path):
    """The wiring, with each step's process replaced: which commands run, on which device,
    and what lands in $OUT, including a workload the budget no longer allows."""
    out = tmp_path / "out"
    monkeypatch.setenv("OUT", str(out))
    ran = []

    def fake_step(name, cmd, env, timeout, log):
        ran.append((name, [str(c) for c in cmd], env["THEON_DEVICE"]))
        if name.startswith("bench"):
            saved = cmd[cmd.index("--save") + 1]
            saved.write_text(json.dumps({"runs": [{"workloads": [{"name": cmd[cmd.index("--workloads") + 1]}]}]}))
            clock[0] += 100  # each workload takes 100 s of the budget
        return {"step": name, "status": "passed" if name != "tests" else "failed (exit 1)", "seconds": 1}

    clock = [0.0]
    monkeypatch.setattr(gpu_check.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(gpu_check, "run_step", fake_step)
    code = gpu_check.main(["--device", "cpu", "--budget-s", "220", "--workloads", "mlp,lenet-train-64,lstm"])
    assert code == 1  # the tests step failed
    names = [name for name, _, _ in ran]
    assert names == ["build", "tests", "overhead", "scan-overhead", "cuda-graph", "bench lenet-train-64",
                     "bench mlp-adam-128"]
    assert all(device == "cpu" for _, _, device in ran)
    assert ran[2][1][-4:] == ["--device", "cpu", "--rounds", "7"]  # overhead: short unless --full
    assert ran[4][1][1:] == ["-m", "benchmarks.cuda_graph", "--device", "cpu", "--rounds", "5"]
    bench_cmd = ran[5][1]
    assert bench_cmd[1:5] == ["-m", "theon", "bench", "--device"] and "--quick" in bench_cmd
    summary = json.loads((out / "summary.json").read_text())
    assert summary["device"] == "cpu" and [s["step"] for s in summary["steps"]][-1] == "bench lstm-lm"
    assert summary["steps"][-1]["status"] == "not started: the budget ran out"
    gathered = json.loads((out / "bench.json").read_text())["workloads"]
    assert list(gathered) == ["lenet-train-64", "mlp-adam-128"]
    assert sorted(p.name for p in out.iterdir()) == ["bench.json", "bench.txt", "build.txt", "cuda-graph.txt",
                                                      "overhead.txt", "scan-overhead.txt", "summary.json",
                                                      "tests.txt"]


def test_steps_pick_what_runs(monkeypatch, tmp_path):
    """A second device call can run the bench's remaining workloads alone."""
    monkeypatch.setenv("OUT", str(tmp_path))
    ran = []

    def fake_step(name, cmd, env, timeout, log):
        ran.append(name)
        return {"step": name, "status": "passed", "seconds": 1}

    monkeypatch.setattr(gpu_check, "run_step", fake_step)
    assert gpu_check.main(["--device", "cpu", "--steps", "bench", "--workloads", "lstm,lenet-infer"]) == 0
    assert ran == ["bench lstm-lm", "bench lenet-infer-256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.txt", "summary.json"]
    ran.clear()
    assert gpu_check.main(["--device", "cpu", "--steps", "build,overhead"]) == 0
    assert ran == ["build", "overhead", "scan-overhead"]


def test_the_first_layer_kernel_check_passes_in_the_interpreter():
    """The build step's check of the generated conv+ReLU+max-pool kernel, as `--device cpu`
    runs it: the Triton source in Triton's interpreter against the float64 reference."""
    pytest.importorskip("triton", reason="Triton has wheels for Linux x86-64 only")
    root = Path(gpu_check.__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "benchmarks.conv_pool_check", "--device", "cpu"], cwd=root,
                          env=dict(os.environ, PYTHONPATH=str(root)), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "equal the float64 reference" in proc.stdout and "conv_pool: ok" in proc.stdout


def test_the_cuda_graph_step_runs_its_dry_run_on_the_cpu():
    """benchmarks.cuda_graph as `--device cpu` runs it: the captured and plain steps'
    losses compared, every contender timed (nothing is captured on the CPU)."""
    root = Path(gpu_check.__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "benchmarks.cuda_graph", "--device", "cpu", "--rounds", "1",
                           "--window-s", "0.01", "--workloads", "mlp-adam-128"], cwd=root,
                          env=dict(os.environ, PYTHONPATH=str(root)), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "captured against plain: relative difference 0.0e+00" in proc.stdout
    assert "not captured: the function runs on cpu" in proc.stdout and "cuda_graph: ok" in proc.stdout
    assert "theon captured" in proc.stdout and "torch eager" in proc.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_the_cuda_graph_step_without_cuda_exits_2(capsys):
    from benchmarks import cuda_graph
    assert cuda_graph.main(["--device", "cuda"]) == 2
    assert "no CUDA device here" in capsys.readouterr().out
