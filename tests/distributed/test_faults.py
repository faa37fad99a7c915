"""A rank that dies or hangs stops the other within the timeout, with a message that names
the collective and the rank at fault, never a silent hang."""
import time

import pytest

from tests.distributed import harness

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
