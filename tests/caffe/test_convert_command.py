"""`theon convert deploy.prototxt weights.caffemodel --check --to safetensors`: the model file
it writes is one th.nn.load_model reads, its check compares against OpenCV, and mistakes are
one line."""
import numpy as np
import pytest

import theon as th
import theon_cli

from . import caffemodel as cm
from .caffemodel import nsfw_files
from .test_bad_files import NET, TYPES, weights


def run(capsys, *args):
    code = theon_cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_convert_the_nsfw_resnet_with_check(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    proto, model = nsfw_files()
    code, out, err = run(capsys, "convert", proto, model, "--check", "--to", "safetensors")
    assert code == 0, err
    path = tmp_path / "resnet_50_1by2_nsfw.safetensors"
    assert f"-> {path.name}: 228 layers, 5,944,514 parameters" in out
    assert f"check: {path.name} reads back into the same model: ok" in out
    line = next(l for l in out.splitlines() if "against OpenCV" in l)
    assert line.startswith("check: output 'prob' against OpenCV 4.") and line.endswith("(limit 0.0001): ok")
    assert float(line.split("difference ")[1].split()[0]) < 1e-4
    saved, original = th.nn.load_model(path), th.caffe.load(proto, model)
    assert saved.name == "ResNet_50_1by2_nsfw" and [a.name for a in saved.layers] == [b.name for b in original.layers]
    for a, b in zip(saved.params, original.params):
        assert a.name == b.name
        np.testing.assert_array_equal(a.get_value(), b.get_value())


def test_convert_a_small_net_to_a_chosen_file(tmp_path, capsys):
    proto = tmp_path / "small.prototxt"
    proto.write_text(NET)
    model = cm.caffemodel(weights(), tmp_path / "small.caffemodel", types=TYPES)
    out_path = tmp_path / "models" / "small.safetensors"
    out_path.parent.mkdir()
    code, out, err = run(capsys, "convert", proto, model, "--out", out_path, "--check")
    assert code == 0, err
    assert "max relative difference" in out and "FAILED" not in out
    rebuilt = th.nn.load_model(out_path)
    x = np.random.default_rng(0).standard_normal((3, 3, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(rebuilt.predict(x), th.caffe.load(proto, model).predict(x))


def test_a_check_that_fails_says_so_with_exit_status_1(tmp_path, capsys, monkeypatch):
    proto = tmp_path / "small.prototxt"
    proto.write_text(NET)
    model = cm.caffemodel(weights(), tmp_path / "small.caffemodel", types=TYPES)
    # a reference that disagrees: OpenCV's outputs, perturbed
    import theon.cli
    real = theon.cli.opencv_outputs

    def off(*args):
        version, outs = real(*args)
        return version, [o + 1.0 for o in outs]

    monkeypatch.setattr(theon.cli, "opencv_outputs", off)
    code, out, _ = run(capsys, "convert", proto, model, "--out", tmp_path / "x.safetensors", "--check")
    assert code == 1 and "(limit 0.0001): FAILED" in out


@pytest.mark.parametrize("args,message", [
    (["convert"], "the following arguments are required: FILE"),
    (["convert", "{proto}", "{model}", "{model}"], "takes a prototxt and a caffemodel, got 3 files"),
    (["convert", "{tmp}/none.prototxt"], "none.prototxt: no such file"),
    (["convert", "{model}", "{proto}"], "expected a Caffe .prototxt first"),
    (["convert", "{proto}", "--to", "onnx"], "argument --to: invalid choice: 'onnx'"),
    (["convert", "{proto}", "--out", "{tmp}"], "is a folder; give a file name"),
    (["convert", "{proto}", "--input-shape", "3,x"], "expected whole numbers joined by commas"),
])
def test_bad_command_lines_are_one_line_and_exit_status_2(args, message, tmp_path, capsys):
    proto = tmp_path / "small.prototxt"
    proto.write_text(NET)
    model = cm.caffemodel(weights(), tmp_path / "small.caffemodel", types=TYPES)
    args = [a.format(proto=proto, model=model, tmp=tmp_path) for a in args]
    code, _, err = run(capsys, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_bad_files_are_one_line_and_exit_status_1(tmp_path, capsys):
    proto = tmp_path / "small.prototxt"
    proto.write_text(NET)
    other = cm.caffemodel({"conv1": [np.zeros((4, 3, 5, 5)), np.zeros(4)]}, tmp_path / "other.caffemodel")
    code, out, err = run(capsys, "convert", proto, other, "--out", tmp_path / "x.safetensors")
    assert code == 1 and err.startswith(f"theon convert: {proto} and {other} do not fit together")
    assert not (tmp_path / "x.safetensors").exists()
    # a prototxt without input shapes takes --input-shape
    (tmp_path / "noshape.prototxt").write_text(NET.replace('input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } }',
                                                           ""))
    code, _, err = run(capsys, "convert", tmp_path / "noshape.prototxt", "--out", tmp_path / "y.safetensors")
    assert code == 2 and err == (f"theon convert: {tmp_path / 'noshape.prototxt'}: the shape of the input 'data' is "
                                 f"not in the file; give it without the batch dim: --input-shape 3,224,224\n")
    code, out, err = run(capsys, "convert", tmp_path / "noshape.prototxt", "--input-shape", "3,8,8",
                         "--out", tmp_path / "y.safetensors")
    assert code == 0 and "(no weights: freshly initialised)" in out
