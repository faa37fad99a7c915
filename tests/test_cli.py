"""The `theon` command, run as a user would: in subprocesses."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib import image as plt_image

import theon as th

ROOT = Path(__file__).resolve().parents[1]


def theon_cmd(*args, module="theon.cli"):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def test_info_prints_versions_devices_and_data_sets():
    out = theon_cmd("info")
    for word in ("theon", "python", "torch", "numpy", "devices:", "cpu", "cuda", "data sets:", "fashion-mnist"):
        assert word in out
    where = th.data.find_dataset("fashion-mnist", missing_ok=True)
    assert (str(where) if where else "fashion-mnist: not found") in out


def test_train_resume_evaluate_mlp_on_digits(tmp_path):
    run = tmp_path / "run"
    out = theon_cmd("train", "mlp", "--dataset", "digits", "--epochs", 1, "--batch-size", 32, "--lr", 0.05,
                    "--out", run, module="theon")  # `python -m theon` works too
    assert "epoch 1/1: test accuracy" in out and "epoch 1/1 - " in out
    png = plt_image.imread(run / "curves.png")
    assert png.shape[0] > 300 and png.shape[1] > 800  # two panels, drawn by matplotlib
    _, meta = th.io.load_checkpoint(run)
    assert meta["epoch"] == 1 and meta["user"]["model"] == "mlp" and meta["user"]["dataset"] == "digits"

    out = theon_cmd("train", "--resume", run, "--epochs", 2)
    assert "epoch 2/2: test accuracy" in out and "epoch 1/" not in out
    _, meta = th.io.load_checkpoint(run)
    assert meta["epoch"] == 2 and len(meta["history"]["loss"]) == 2
    rows = list(csv.reader(open(run / "history.csv")))
    assert [r[0] for r in rows] == ["epoch", "1", "2"]
    # resumed in a new process, the run repeats the uninterrupted one exactly
    theon_cmd("train", "mlp", "--dataset", "digits", "--epochs", 2, "--batch-size", 32, "--lr", 0.05,
              "--out", tmp_path / "straight", "--quiet")
    _, straight = th.io.load_checkpoint(tmp_path / "straight")
    assert straight["history"] == meta["history"]

    out = theon_cmd("evaluate", "--checkpoint", run)
    accuracy = float(out.split("accuracy: ")[1].split()[0])
    assert accuracy == pytest.approx(meta["history"]["val_accuracy"][-1], abs=1e-4)
    assert accuracy > 0.8


def test_train_lstm_reads_images_row_by_row_and_resumes(tmp_path):
    run = tmp_path / "lstm"
    out = theon_cmd("train", "lstm", "--dataset", "digits", "--epochs", 1, "--out", run)
    assert "lstm_1 (LSTM)" in out and "epoch 1/1: test accuracy" in out
    out = theon_cmd("train", "--resume", run, "--epochs", 2)
    _, meta = th.io.load_checkpoint(run)
    assert meta["epoch"] == 2 and meta["user"]["model"] == "lstm"
    assert meta["history"]["val_accuracy"][-1] > 0.5  # 8 rows of 8 pixels, two short epochs


def test_errors_are_one_line_not_a_traceback(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "theon", "evaluate", "--checkpoint", tmp_path / "none"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1
    assert "no checkpoint" in proc.stderr and "Traceback" not in proc.stderr
