"""Kernel verdicts kept on disk (theon/codegen/choices.py): what one process measured, the
next reads; a missing or damaged record only means measuring again."""
import torch

from theon import config
from theon.codegen import choices


def test_a_saved_verdict_is_read_back_and_a_damaged_one_is_not_trusted(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    won, lost = choices.key("source a", (8, 1, 28, 28)), choices.key("source b", (8, 1, 28, 28))
    assert choices.load(won) is None
    choices.save(won, True)
    choices.save(lost, False)
    assert (choices.load(won), choices.load(lost)) == (True, False)
    (tmp_path / "choices" / f"{won}.json").write_text("tru")
    assert choices.load(won) is None


def test_the_verdict_depends_on_the_thread_count(monkeypatch):
    threads = torch.get_num_threads()
    one = choices.key("source", (8, 1, 28, 28))
    try:
        torch.set_num_threads(threads + 1)
        assert choices.key("source", (8, 1, 28, 28)) != one
    finally:
        torch.set_num_threads(threads)
    assert choices.key("source", (8, 1, 28, 28)) == one
