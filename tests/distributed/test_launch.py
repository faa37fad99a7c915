"""`theon train --nproc 2`: two local processes through torch.distributed.run; rank 0 alone
prints and writes the run folder."""
import os
import subprocess
import sys
from pathlib import Path

import theon as th

ROOT = Path(__file__).resolve().parents[2]


def test_theon_train_nproc_2_trains_one_run(tmp_path):
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT), THEON_DEVICE="cpu", THEON_DIST_TIMEOUT="60")
    proc = subprocess.run([sys.executable, "-m", "theon", "train", "mlp", "--dataset", "digits",
                           "--epochs", "1", "--batch-size", "32", "--limit", "512", "--nproc", "2",
                           "--out", str(run)], capture_output=True, text=True, env=env, timeout=400,
                          cwd=ROOT)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = proc.stdout
    assert out.count("(512 examples, batch 32), saving to") == 1 and "(2 processes)" in out
    assert out.count("test accuracy") == 2, out   # the epoch's line and the final one, rank 0 only
    _, meta = th.io.load_checkpoint(run)
    assert meta["epoch"] == 1 and meta["loader"]["batch_size"] == 32 and meta["user"]["model"] == "mlp"
    assert (run / "history.csv").read_text().count("\n") == 2   # header and one epoch


def test_the_multi_node_example_runs_as_one_process_without_a_launcher(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), THEON_DEVICE="cpu")
    for key in ("RANK", "WORLD_SIZE"):
        env.pop(key, None)
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "distributed_train.py"), "--epochs", "2",
                           "--out", str(tmp_path / "run")], capture_output=True, text=True, env=env,
                          timeout=400, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    accuracy = float(proc.stdout.split("1 process(es): test accuracy ")[1].split("%")[0])
    assert accuracy > 80
    _, meta = th.io.load_checkpoint(tmp_path / "run")
    assert meta["epoch"] == 2
