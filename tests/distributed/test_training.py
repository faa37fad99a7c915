"""Data-parallel training is the same training: 2 gloo processes with a global batch of 64
(32 each) end a 20-step epoch with the weights one process reaches with batch 64 (an MLP
with SGD and with Adam, an LSTM with Adam), and rank 0's checkpoint resumes in one process."""
import numpy as np
import pytest

from tests.distributed import harness, workers


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_two_ranks_match_one_process(optimizer, tmp_path):
    ranks = harness.run(f"train_{optimizer}", tmp_path)
    reference = workers.make_model(optimizer)
    history = workers.fit(reference)
    for name, value in reference.get_weights().items():
        for r, saved in enumerate(ranks):
            # rank 1 started from other weights: the broadcast from rank 0 replaced them
            np.testing.assert_allclose(saved[f"w/{name}"], value, rtol=0, atol=1e-10,
                                       err_msg=f"rank {r}, {name}")
    for r, saved in enumerate(ranks):  # the logged loss and accuracy are the global batch's
        np.testing.assert_allclose(saved["loss"], history.history["loss"], rtol=1e-10)
        np.testing.assert_allclose(saved["accuracy"], history.history["accuracy"], rtol=1e-10)

    # the step holds the bucketed all-reduces: each launched before the backward pass ends,
    # waited for after it, before the optimiser's step
    lines = str(ranks[0]["source"]).splitlines()
    starts = [i for i, line in enumerate(lines) if "all_reduce_start(" in line]
    waits = [i for i, line in enumerate(lines) if "all_reduce_wait(" in line]
    step = next(i for i, line in enumerate(lines) if f"# {optimizer}_step(" in line)
    backward = [i for i, line in enumerate(lines) if "(gradient of" in line]
    assert len(starts) == len(waits) == 4   # bucket_bytes=300 puts each parameter alone
    assert starts[0] < backward[-1] and max(starts) < min(waits) and max(waits) < step

    if optimizer == "adam":   # an LSTM too (Adam, default buckets)
        lstm = workers.make_model(optimizer, kind="lstm")
        workers.fit(lstm)
        for name, value in lstm.get_weights().items():
            for r, saved in enumerate(ranks):
                np.testing.assert_allclose(saved[f"lstm/{name}"], value, rtol=0, atol=1e-10,
                                           err_msg=f"LSTM, rank {r}, {name}")

    if optimizer == "sgd":
        # rank 0's checkpoint resumes in one process: epoch 2 as a 2-epoch run has it
        resumed = workers.make_model(optimizer, init_seed=5)
        workers.fit(resumed, epochs=2, resume_from=tmp_path / "checkpoint")
        straight = workers.make_model(optimizer)
        workers.fit(straight, epochs=2)
        for name, value in straight.get_weights().items():
            np.testing.assert_allclose(resumed.get_weights()[name], value, rtol=0, atol=1e-10)


def test_sync_batch_norm_normalises_over_the_global_batch(tmp_path):
    # 2 ranks of 32 with SyncBatchNorm end where one process of 64 ends (running statistics
    # included); with BatchNorm each rank normalises over its own 32 and they do not
    ranks = harness.run("sync_batch_norm", tmp_path)
    reference = workers.make_model("sgd", kind="syncbn")
    workers.fit(reference)
    for name, value in reference.get_weights().items():
        for r, saved in enumerate(ranks):
            np.testing.assert_allclose(saved[f"syncbn/{name}"], value, rtol=0, atol=1e-10,
                                       err_msg=f"rank {r}, {name}")
    per_rank = workers.make_model("sgd", kind="bn")
    workers.fit(per_rank)
    differs = [np.abs(ranks[0][f"bn/{k}"] - v).max() for k, v in per_rank.get_weights().items()]
    assert max(differs) > 1e-4
