"""A rank that dies or hangs stops the other within the timeout, with a message that names
the collective and the rank at fault, never a silent hang; a rank killed while writing a
checkpoint leaves the previous one whole."""
import time

import numpy as np
import pytest

from theon.io import load_checkpoint
from tests.distributed import harness, workers

TIMEOUT_S = 4


@pytest.mark.parametrize("how, blame", [("die", "rank 1 (no heartbeat for"),
                                         ("hang", "rank 1 (alive but at collective")])
def test_the_surviving_rank_stops_and_names_the_rank_and_collective(how, blame, tmp_path):
    procs = harness.start(f"fault_{how}", tmp_path, timeout_s=TIMEOUT_S)
    try:
        out, _ = procs[0].communicate(timeout=180)
    finally:
        procs[1].kill()
        procs[1].communicate()
    assert procs[0].returncode == 3, out
    line = next(line for line in out.splitlines() if line.startswith("DistributedError at"))
    assert "rank 0: collective all_reduce" in line and blame in line, out
    # it stopped within the timeout, plus the seconds the heartbeats are watched and slack
    # for a loaded machine, after rank 1 failed
    failed_at = float((tmp_path / "fault_time").read_text())
    stopped_at = float(line.split("at ")[1].split(":")[0])
    assert 0 < stopped_at - failed_at < TIMEOUT_S + 15, out


def test_a_writer_killed_mid_checkpoint_leaves_the_last_checkpoint_whole(tmp_path):
    # rank 0 dies half-way through writing epoch 2's weights; rank 1 stops and blames it,
    # and the checkpoint directory still holds epoch 1's checkpoint, which resumes exactly
    procs = harness.start("checkpoint_kill", tmp_path, timeout_s=TIMEOUT_S)
    results = harness.finish(procs, wait_s=240)
    (code0, out0), (code1, out1) = results
    assert code0 == -9, out0                       # killed, not exited
    assert code1 == 3, out1
    # rank 0 also hosted the rendezvous store, so rank 1 learns of it through the store
    line = next(line for line in out1.splitlines() if line.startswith("DistributedError at"))
    assert "rank 1: collective all_reduce" in line and "rank(s) 0 unreachable" in line, out1
    directory = tmp_path / "checkpoint"
    assert any(p.name.startswith(".tmp-") for p in directory.iterdir())  # the half-written file
    tensors, meta = load_checkpoint(directory)     # verified against its hashes
    resumed = workers.make_model("sgd", init_seed=5)
    workers.fit(resumed, epochs=2, resume_from=directory)
    straight = workers.make_model("sgd")
    workers.fit(straight, epochs=2)
    for name, value in straight.get_weights().items():
        np.testing.assert_allclose(resumed.get_weights()[name], value, rtol=0, atol=1e-10)
