"""`theon convert model.h5 --check`: a Keras model written as a theon model file that
th.nn.load_model reads, checked against Keras; mistakes are one line."""
from __future__ import annotations

import numpy as np

import theon_cli

from .kerasmodels import channels_first, fer_model_path, th


def run(capsys, *args):
    code = theon_cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_convert_the_fer_model_with_check(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "convert", fer_model_path(), "--check")
    assert code == 0, err
    path = tmp_path / "emotion_model.safetensors"
    assert f"-> {path.name}: " in out and "58,423 parameters" in out
    assert f"check: {path.name} reads back into the same model: ok" in out
    line = next(l for l in out.splitlines() if "against Keras" in l)
    assert line.startswith("check: output 'predictions' against Keras 3.") and line.endswith("(limit 0.0001): ok")
    x = channels_first(np.random.default_rng(0).random((2, 64, 64, 1), dtype=np.float32))
    np.testing.assert_array_equal(th.nn.load_model(path).predict(x), th.keras.load(fer_model_path()).predict(x))


def test_mistakes_are_one_line(tmp_path, capsys):
    model = tmp_path / "m.h5"
    model.write_bytes(b"")
    code, _, err = run(capsys, "convert", model, model)
    assert code == 2 and "a Keras model is one file" in err
    code, _, err = run(capsys, "convert", model, "--input-shape", "3,4,4")
    assert code == 2 and "--input-shape is for Caffe models" in err
