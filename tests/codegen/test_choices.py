"""Kernel verdicts kept on disk (theon/codegen/choices.py): what one process measured, the
next reads; a missing or damaged record only means measuring again."""
import time

import torch

from theon import config
from theon.codegen import choices, timed


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


def test_only_a_clear_win_is_kept_for_later_processes(monkeypatch, tmp_path):
    # the winner runs in this process either way; a close call is timed again next time
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path))
    x = torch.zeros(1)

    def sleeper(seconds):
        return lambda *args: time.sleep(seconds)

    clear = choices.key("clear")
    choice = timed.TimedChoice(sleeper(0.001), clear)
    assert choice.pick(sleeper(0.02), x) is choice.fn          # first call: the generated kernel
    assert choice.pick(sleeper(0.02), x) is choice.fn          # timed: it won, by far
    assert choices.load(clear) is True and timed.TimedChoice(sleeper(0.001), clear).use is True
    close = choices.key("close")
    choice = timed.TimedChoice(sleeper(0.01), close)
    choice.pick(sleeper(0.01), x)
    choice.pick(sleeper(0.01), x)                              # timed: a tie, whichever won
    assert choice.use is not None and choices.load(close) is None
    assert timed.TimedChoice(sleeper(0.01), close).use is None  # the next process times again
