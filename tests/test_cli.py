"""The `theon` command, run as a user would: in subprocesses."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from matplotlib import image as plt_image

import theon as th
import theon.cli
import theon_cli

ROOT = Path(__file__).resolve().parents[1]


def theon_cmd(*args, module="theon.cli"):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def run_main(capsys, *args):
    """`theon ARGS` in this process: (exit status, stdout, stderr)."""
    code = theon_cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_info_prints_versions_devices_and_data_sets(capsys):
    code, out, _ = run_main(capsys, "info")
    assert code == 0
    for word in ("theon", "python", "torch", "numpy", "devices:", "cpu", "cuda", "data sets:", "fashion-mnist"):
        assert word in out
    where = th.data.find_dataset("fashion-mnist", missing_ok=True)
    assert (str(where) if where else "fashion-mnist: not found") in out


def test_train_resume_evaluate_mlp_on_digits(tmp_path, capsys, monkeypatch):
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
    # nothing left to do, or the wrong model: said before any data is loaded
    monkeypatch.setattr(theon.cli, "load_dataset", lambda name: pytest.fail("loaded data for nothing"))
    code, out, _ = run_main(capsys, "train", "--resume", run, "--epochs", 2, "--device", "cpu")
    assert code == 0 and "already has 2 epoch(s)" in out and "--epochs 3" in out
    code, _, err = run_main(capsys, "train", "lenet", "--resume", run, "--epochs", 3, "--device", "cpu")
    assert code == 2 and err == f"theon train: {run} holds a mlp run, not lenet\n"
    monkeypatch.undo()
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


BAD_COMMAND_LINES = [
    (["train", "mlp", "--batch-size", "0"], "--batch-size: expected a whole number >= 1, got 0"),
    (["train", "mlp", "--limit", "0"], "--limit: expected a whole number >= 1, got 0"),
    (["train", "mlp", "--limit", "-600"], "--limit: expected a whole number >= 1, got -600"),
    (["train", "mlp", "--lr", "nan"], "--lr: expected a finite number > 0, got 'nan'"),
    (["train", "mlp", "--lr", "inf"], "--lr: expected a finite number > 0, got 'inf'"),
    (["train", "mlp", "--lr", "-0.1"], "--lr: expected a finite number > 0, got '-0.1'"),
    (["train", "mlp", "--lr", "fast"], "--lr: expected a number > 0, got 'fast'"),
    (["train", "mlp", "--epochs", "0"], "--epochs: expected a whole number >= 1, got 0"),
    (["train", "mlp", "--epochs", "-1"], "--epochs: expected a whole number >= 1, got -1"),
    (["train", "mlp", "--epochs", "2.5"], "--epochs: expected a whole number >= 1, got '2.5'"),
    (["train", "mlp", "--seed", "-3"], "--seed: expected a whole number >= 0, got -3"),
    (["train", "mlp", "--device", "banana"], "--device: expected cpu, cuda or cuda:N, got 'banana'"),
    (["train", "banana"], "argument model: invalid choice: 'banana'"),
    (["train", "mlp", "--dataset", "imagenet"], "argument --dataset: invalid choice: 'imagenet'"),
    (["train"], "name a model (lenet, mlp or lstm), or --resume a run"),
    (["train", "--resume", "no/such/run"], "--resume no/such/run: no such folder"),
    (["train", "mlp", "--out", "README.md"], "--out README.md: is a file, not a folder"),
    (["train", "mlp", "--out", "README.md/run"], "--out README.md/run: README.md is a file"),
    (["train", "mlp", "--tensorboard", "README.md"], "--tensorboard README.md: is a file, not a folder"),
    (["evaluate", "--checkpoint", "no/such/run"], "--checkpoint no/such/run: no such folder"),
    (["evaluate", "--checkpoint", "README.md", "--batch-size", "0"], "--batch-size: expected a whole number >= 1"),
    ([], "the following arguments are required"),
]


@pytest.mark.parametrize("argv, message", BAD_COMMAND_LINES, ids=[" ".join(a) for a, _ in BAD_COMMAND_LINES])
def test_each_bad_argument_is_one_line_and_exit_status_2(argv, message, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)  # README.md is a file there
    monkeypatch.setattr(theon.cli, "run", lambda args: pytest.fail("started work on a bad command line"))
    code, out, err = run_main(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1, err


def test_a_bad_theon_device_is_refused_before_any_work(capsys, monkeypatch):
    monkeypatch.setenv("THEON_DEVICE", "banana")
    monkeypatch.setattr(theon.cli, "run", lambda args: pytest.fail("started work on a bad command line"))
    assert run_main(capsys, "train", "mlp") == (2, "", "theon train: THEON_DEVICE: expected cpu, cuda or cuda:N, got 'banana'\n")


def test_help_and_errors_answer_without_importing_torch():
    """The `theon` console script's module imports no torch for --help or a bad argument."""
    code = ("import sys, theon_cli\n"
            "codes = [theon_cli.main(a) for a in (['--help'], ['train', '--help'], ['train', '--lr', 'nan'])]\n"
            "print(codes, 'torch' in sys.modules, 'theon' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)
    assert proc.stdout.splitlines()[-1] == "[0, 0, 2] False False", proc.stdout + proc.stderr
    assert "usage: theon train" in proc.stdout and "--batch-size" in proc.stdout


def test_a_device_that_is_not_here_is_one_line_before_loading_data(capsys, monkeypatch):
    missing = "cuda" if not torch.cuda.is_available() else f"cuda:{torch.cuda.device_count()}"
    monkeypatch.setattr(theon.cli, "load_dataset", lambda name: pytest.fail("loaded data for a missing device"))
    code, out, err = run_main(capsys, "train", "mlp", "--device", missing)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("theon train: --device: device ") and "CUDA device" in err


def test_a_data_folder_of_garbage_is_one_line_naming_the_file(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name in th.data.DATASETS["fashion-mnist"].files:
        (folder / name).write_bytes(b"this is not an IDX file at all")
    monkeypatch.setenv("THEON_DATA", str(tmp_path))
    code, out, err = run_main(capsys, "train", "mlp", "--device", "cpu", "--out", tmp_path / "run")
    assert code == 1 and out == ""
    assert err.startswith("theon train: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "train-images-idx3-ubyte.gz: not an IDX file" in err
    assert not (tmp_path / "run").exists()


def test_a_folder_without_a_checkpoint_is_one_line(tmp_path, capsys):
    code, out, err = run_main(capsys, "evaluate", "--checkpoint", tmp_path, "--device", "cpu")
    assert code == 1 and out == ""
    assert "no checkpoint" in err and err.count("\n") == 1
