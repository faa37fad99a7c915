"""theon.io.checkpoint: round trip, checksums, atomic saves under simulated crashes."""

import hashlib
import json
import os

import numpy as np
import pytest

import theon.io.checkpoint as ckpt
from theon.io import (CHECKPOINT_JSON, CheckpointError, load_checkpoint, load_file,
                      save_checkpoint, weights_path)


def tensors(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "dense_1/kernel": rng.standard_normal((4, 3)).astype(np.float32),
        "dense_1/bias": np.zeros(3, np.float32),
        "bn/mean": np.float64(seed),  # 0-d
        "opt/iterations": np.array(17 + seed, np.int64),
        "empty": np.zeros((0, 2), np.float16),
        "mask": np.array([True, False, True]),
    }


META = {
    "model": {"class": "Sequential", "layers": [{"class": "Dense", "units": 3, "activation": None}]},
    "optimizer": {"class": "SGD", "lr": 0.01, "momentum": 0.9, "nesterov": False},
    "step": 1234,
    "epoch": 3,
    "rng": {"seed": 2**62 + 1, "counter": np.int64(99)},
    "data": {"epoch": 3, "position": 128, "seed": 0},
    "history": {"loss": [2.3, 1.1, 0.7], "accuracy": (0.5, 0.75, 0.875)},
    "note": "ünïcode ✓",
}


def assert_same(got, want):
    assert got.keys() == want.keys()
    for k in want:
        w = np.asarray(want[k])
        assert got[k].dtype == w.dtype and got[k].shape == w.shape, k
        np.testing.assert_array_equal(got[k], w)


def files(d):
    return sorted(p.name for p in d.iterdir())


def test_round_trip(tmp_path):
    d = save_checkpoint(tmp_path / "run" / "ckpt", tensors(), META)
    assert d == tmp_path / "run" / "ckpt"
    got, meta = load_checkpoint(d)
    assert_same(got, tensors())
    assert meta == json.loads(json.dumps(META, default=int))  # tuples -> lists, np ints -> int
    assert isinstance(meta["rng"]["counter"], int) and meta["history"]["accuracy"] == [0.5, 0.75, 0.875]
    assert files(d) == [CHECKPOINT_JSON, weights_path(d).name]
    record = json.loads((d / CHECKPOINT_JSON).read_text())
    assert record["format"] == "theon-checkpoint" and record["version"] == 1
    assert record["weights"]["sha256"] == hashlib.sha256(weights_path(d).read_bytes()).hexdigest()


def test_weights_file_is_plain_safetensors(tmp_path):
    save_checkpoint(tmp_path, tensors(), {})
    assert_same(load_file(weights_path(tmp_path)), tensors())
    stn = pytest.importorskip("safetensors.numpy")
    assert_same(stn.load_file(weights_path(tmp_path)), {k: np.asarray(v) for k, v in tensors().items()})


def test_meta_defaults_and_special_floats(tmp_path):
    save_checkpoint(tmp_path, {}, None)
    assert load_checkpoint(tmp_path) == ({}, {})
    save_checkpoint(tmp_path, {"x": np.ones(1)}, {"loss": [float("nan"), float("inf"), -0.0]})
    loss = load_checkpoint(tmp_path)[1]["loss"]
    assert np.isnan(loss[0]) and loss[1] == float("inf") and str(loss[2]) == "-0.0"


def test_overwrite_keeps_one_consistent_pair(tmp_path):
    save_checkpoint(tmp_path, tensors(0), {"epoch": 0})
    save_checkpoint(tmp_path, tensors(1), {"epoch": 1})
    got, meta = load_checkpoint(tmp_path)
    assert_same(got, tensors(1)) and meta == {"epoch": 1}
    assert len(files(tmp_path)) == 2
    # Same tensors again: same weights name, still loadable.
    save_checkpoint(tmp_path, tensors(1), {"epoch": 2})
    assert load_checkpoint(tmp_path)[1] == {"epoch": 2} and len(files(tmp_path)) == 2


@pytest.mark.parametrize("meta, match", [
    ({"w": np.ones(2)}, r"meta\['w'\] is a ndarray.*belong in the tensors"),
    ({"a": {1: "x"}}, r"meta\['a'\] has key 1"),
    ({"s": {1, 2}}, "is a set"),
    ({"o": [object()]}, r"meta\['o'\]\[0\] is a object"),
    ({"bad": "\ud800"}, "not valid Unicode"),
    ([1], "meta must be a dict, got list"),
])
def test_bad_meta_rejected_before_writing(tmp_path, meta, match):
    with pytest.raises(CheckpointError, match=match):
        save_checkpoint(tmp_path / "c", tensors(), meta)
    assert not (tmp_path / "c").exists()


def test_bad_tensors_rejected_before_writing(tmp_path):
    with pytest.raises(CheckpointError, match="complex"):
        save_checkpoint(tmp_path / "c", {"z": np.ones(2, np.complex128)}, {})
    assert not (tmp_path / "c").exists()


# ---------------------------------------------------------------- corruption


@pytest.fixture
def saved(tmp_path):
    save_checkpoint(tmp_path, tensors(), META)
    return tmp_path


def flip(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", [0, 9, 100, -1, -5])
def test_flipped_weights_byte(saved, where):
    w = weights_path(saved)
    flip(w, where % w.stat().st_size)
    with pytest.raises(CheckpointError, match=f"{w.name} is corrupt or does not belong"):
        load_checkpoint(saved)


def test_flipped_json_value(saved):
    j = saved / CHECKPOINT_JSON
    text = j.read_text()
    j.write_text(text.replace('"step": 1234', '"step": 1235'))
    with pytest.raises(CheckpointError, match="checkpoint.json is corrupt: its contents hash"):
        load_checkpoint(saved)


def test_every_json_byte_flip_detected_or_harmless(saved):
    """Flipping any bit of any byte of checkpoint.json gives CheckpointError or, if it only
    touched whitespace that is still whitespace, the unchanged checkpoint."""
    j = saved / CHECKPOINT_JSON
    good = j.read_bytes()
    for i in range(len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x04
        j.write_bytes(bytes(bad))
        try:
            _, meta = load_checkpoint(saved)
        except CheckpointError:
            continue
        assert meta == load_checkpoint_meta_reference(), i
    j.write_bytes(good)


def load_checkpoint_meta_reference():
    return json.loads(json.dumps(META, default=int))


def test_truncated_weights(saved):
    w = weights_path(saved)
    w.write_bytes(w.read_bytes()[:-3])
    with pytest.raises(CheckpointError, match=rf"{w.name} is \d+ bytes but .*checkpoint.json records \d+"):
        load_checkpoint(saved)


def test_truncated_or_garbled_json(saved):
    j = saved / CHECKPOINT_JSON
    j.write_bytes(j.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="checkpoint.json is corrupt: not valid UTF-8 JSON"):
        load_checkpoint(saved)
    j.write_bytes(b"\xff\xfe")
    with pytest.raises(CheckpointError, match="not valid UTF-8 JSON"):
        load_checkpoint(saved)
    j.write_text('{"hello": 1}')
    with pytest.raises(CheckpointError, match="not a theon checkpoint"):
        load_checkpoint(saved)


def test_missing_weights(saved):
    w = weights_path(saved)
    w.unlink()
    with pytest.raises(CheckpointError, match=f"{w.name} is missing, but .*checkpoint.json names it"):
        load_checkpoint(saved)


def test_mismatched_weights_from_another_checkpoint(tmp_path, saved):
    other = save_checkpoint(tmp_path / "other", tensors(5), META)
    weights_path(saved).write_bytes(weights_path(other).read_bytes())
    with pytest.raises(CheckpointError, match="corrupt or does not belong|bytes but"):
        load_checkpoint(saved)


def rewrite_record(d, change):
    """Edit checkpoint.json and re-seal its checksum, as a hostile writer could."""
    j = d / CHECKPOINT_JSON
    record = json.loads(j.read_text())
    record.pop("sha256")
    change(record)
    record["sha256"] = hashlib.sha256(ckpt._canonical(record)).hexdigest()
    j.write_text(json.dumps(record))


def test_weights_name_cannot_escape_directory(saved):
    rewrite_record(saved, lambda r: r["weights"].update(file="../../etc/passwd"))
    with pytest.raises(CheckpointError, match="malformed"):
        load_checkpoint(saved)


def test_newer_version_rejected(saved):
    rewrite_record(saved, lambda r: r.update(version=99))
    with pytest.raises(CheckpointError, match="version 99.*newer theon"):
        load_checkpoint(saved)


def test_no_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at .*does not exist"):
        load_checkpoint(tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(CheckpointError, match="is not a directory"):
        load_checkpoint(tmp_path / "f")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"no checkpoint in .*empty: checkpoint.json is missing$"):
        load_checkpoint(tmp_path / "empty")
    (tmp_path / "empty" / "weights-0123456789abcdef.safetensors").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="interrupted first save"):
        load_checkpoint(tmp_path / "empty")


# ---------------------------------------------------------------- crashes


def crash_on(monkeypatch, predicate):
    real = os.replace

    def replace(src, dst, *a, **k):
        if predicate(os.fspath(dst)):
            raise OSError("simulated crash")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("target", ["checkpoint.json", ".safetensors"])
def test_crash_at_rename_keeps_previous(saved, monkeypatch, target):
    before = files(saved)
    json_before = (saved / CHECKPOINT_JSON).read_bytes()
    crash_on(monkeypatch, lambda dst: dst.endswith(target))
    with pytest.raises(OSError, match="simulated crash"):
        save_checkpoint(saved, tensors(7), {"epoch": 99})
    monkeypatch.undo()
    assert files(saved) == before  # temporary and orphan files cleaned up
    assert (saved / CHECKPOINT_JSON).read_bytes() == json_before
    got, meta = load_checkpoint(saved)
    assert_same(got, tensors()) and meta == load_checkpoint_meta_reference()


def test_crash_inside_weights_writer_keeps_previous(saved, monkeypatch):
    before = files(saved)
    real = ckpt._write

    def half_write(write, prepared):
        write(b"\x10\x00\x00\x00\x00\x00\x00\x00{partial")
        raise KeyboardInterrupt  # even a BaseException cleans up

    monkeypatch.setattr(ckpt, "_write", half_write)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(saved, tensors(7), {"epoch": 99})
    monkeypatch.setattr(ckpt, "_write", real)
    assert files(saved) == before
    assert_same(load_checkpoint(saved)[0], tensors())


def test_crash_in_fsync_keeps_previous(saved, monkeypatch):
    before = files(saved)
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("disk gone")))
    with pytest.raises(OSError, match="disk gone"):
        save_checkpoint(saved, tensors(7), {"epoch": 99})
    monkeypatch.undo()
    assert files(saved) == before
    assert load_checkpoint(saved)[1] == load_checkpoint_meta_reference()


def test_debris_of_a_hard_crash_is_ignored_then_removed(saved):
    """A process killed mid-save (no cleanup) leaves temporary files and an orphan weights
    file; the committed checkpoint still loads, and the next save removes the debris."""
    (saved / ".tmp-abc123").write_bytes(b"half a file")
    (saved / "weights-00000000deadbeef.safetensors").write_bytes(b"new weights, never committed")
    assert_same(load_checkpoint(saved)[0], tensors())
    save_checkpoint(saved, tensors(2), {"epoch": 4})
    assert files(saved) == [CHECKPOINT_JSON, weights_path(saved).name]
    assert_same(load_checkpoint(saved)[0], tensors(2))
