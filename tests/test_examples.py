"""The examples run as a user runs them (small settings, so the tests stay quick)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_example(name, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_logistic_regression_example_learns_digits():
    out = run_example("logistic_regression.py")
    accuracy = float(out.split("test accuracy")[-1].split()[0])
    assert accuracy > 0.9 and "def " in out  # prints the generated training step


def test_rbm_example_reconstruction_error_falls_and_filters_are_saved(tmp_path):
    png = tmp_path / "filters.png"
    out = run_example("rbm_fashion_mnist.py", "--n", 2000, "--epochs", 3, "--hidden", 64, "--out", png)
    errors = [float(line.split("reconstruction error ")[1].split()[0])
              for line in out.splitlines() if line.startswith("epoch")]
    assert len(errors) == 3 and errors[2] < errors[0]
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_finetune_example_keeps_the_frozen_trunk_and_beats_scratch():
    out = run_example("finetune_lenet.py", "--pretrain", 2000, "--labels", 300)
    percent = {key: float(out.split(key)[1].split("%")[0].split()[-1]) for key in
               ("classes 5-9:", "from scratch on the same 300 images:")}
    assert "trunk weights unchanged: True" in out
    assert percent["classes 5-9:"] > percent["from scratch on the same 300 images:"]


def test_mini_xception_finetune_example_keeps_the_imported_trunk_and_learns():
    out = run_example("finetune_mini_xception.py", "--labels", 200, "--epochs", 2)
    assert "trunk weights unchanged: True" in out, out
    accuracy = float(out.split("test accuracy")[-1].split()[0])
    assert accuracy > 0.4, out   # ten classes: chance is 0.1
