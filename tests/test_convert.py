"""`theon convert`: describe, check and convert ONNX files, as a user runs it."""
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import theon as th
import theon.cli
import theon_cli
from theon import nn

from .test_cli import ROOT, run_main


@pytest.fixture(scope="module")
def small_cnn(tmp_path_factory):
    """(model, path of its ONNX export)."""
    model = nn.Sequential([nn.Conv2D(4, 3, activation="relu"), nn.MaxPool2D(2), nn.Flatten(), nn.Dense(5)],
                          input_shape=(2, 10, 10), seed=0, name="cnn")
    path = tmp_path_factory.mktemp("convert") / "cnn.onnx"
    th.onnx.export(model, path, None)
    return model, path


def test_check_reports_the_model_and_its_differences(small_cnn, capsys):
    model, path = small_cnn
    code, out, err = run_main(capsys, "convert", path, "--check", "--dim", "batch=3")
    assert code == 0, err
    assert "input: float32[batch, 2, 10, 10]" in out and "output: float32[batch, 5]" in out
    assert "ops (" in out and "Conv 1" in out and "MaxPool 1" in out and "unsupported ops: none" in out
    assert f"parameters: {model.count_params():,}" in out
    assert "memory for inputs input (3, 2, 10, 10):" in out and "peak of intermediates" in out
    assert f"check against onnxruntime {ort.__version__}" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("output: float32[3, 5]"))
    assert line.endswith(": ok") and float(line.split("relative ")[1].split(")")[0]) <= 1e-4


def test_given_inputs_and_both_writers(small_cnn, tmp_path, capsys):
    model, path = small_cnn
    x = np.random.default_rng(1).normal(size=(2, 2, 10, 10)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    weights, again = tmp_path / "w.safetensors", tmp_path / "again.onnx"
    code, out, err = run_main(capsys, "convert", path, "--input", f"input={tmp_path / 'x.npy'}", "--to",
                              "safetensors", weights)
    assert code == 0, err
    assert "memory for inputs input (2, 2, 10, 10)" in out and f"wrote {weights}" in out
    stored = th.io.load_file(weights)
    assert sorted(stored) == sorted(p.name for p in model.params)
    for p in model.params:
        np.testing.assert_array_equal(stored[p.name], p.get_value())
    code, out, err = run_main(capsys, "convert", path, "--to", "onnx", "--out", again)
    assert code == 0, err
    session = ort.InferenceSession(str(again))
    np.testing.assert_allclose(session.run(None, {"input": x})[0], model.predict(x), rtol=1e-5, atol=1e-6)


def test_unsupported_ops_are_listed_before_anything_is_built(tmp_path, capsys):
    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("Wobble", ["a"], ["b"], domain="example.custom"),
             helper.make_node("Wobble", ["b"], ["c"], domain="example.custom"),
             helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("example.custom", 1)])
    onnx.save(proto, tmp_path / "custom.onnx")
    code, out, _ = run_main(capsys, "convert", tmp_path / "custom.onnx", "--check")
    assert code == 1
    assert "x: float32[n, 3]" in out and "Relu 2, example.custom.Wobble 2" in out
    assert "unsupported ops (theon cannot build this model): example.custom.Wobble (2 nodes)" in out
    assert "parameters" not in out


def test_without_onnxruntime_check_runs_theon_only(small_cnn, capsys, monkeypatch):
    _, path = small_cnn
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # find_spec then says it is missing
    code, out, err = run_main(capsys, "convert", path, "--check")
    assert code == 0, err
    assert "check: ran theon only: onnxruntime is not installed" in out and "output: float32[1, 5]" in out


def test_bad_files_and_inputs_are_one_line(small_cnn, tmp_path, capsys):
    _, path = small_cnn
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(path.read_bytes()[:200])
    code, out, err = run_main(capsys, "convert", broken)
    assert code == 1 and out == "" and "not a valid ONNX model" in err and err.count("\n") == 1
    np.save(tmp_path / "wrong.npy", np.ones((2, 3), np.float32))
    code, _, err = run_main(capsys, "convert", path, "--input", f"input={tmp_path / 'wrong.npy'}")
    assert code == 1 and "--input input: shape (2, 3) does not fit input: float32[batch, 2, 10, 10]" in err
    code, _, err = run_main(capsys, "convert", path, "--input", f"image={tmp_path / 'wrong.npy'}")
    assert code == 1 and "--input names ['image'], which are not inputs" in err


BAD_COMMAND_LINES = [
    (["convert", "README.md"], "README.md: not a model file theon converts (by its extension: .onnx, .prototxt"),
    (["convert", "no/such.onnx"], "no/such.onnx: no such file"),
    (["convert", "tests"], "tests: is a folder, not a file"),
    (["convert", "{model}", "{model}"], "onnx takes MODEL.onnx, got 2 file(s)"),
    (["convert", "{model}", "--to", "keras"], "--to keras: expected one of safetensors, onnx"),
    (["convert", "{model}", "--to", "onnx", "a.onnx", "b.onnx"], "--to takes FORMAT and at most one OUT"),
    (["convert", "{model}", "--to", "onnx", "{model}"], "would overwrite the file being converted"),
    (["convert", "{model}", "--out", "w.safetensors"], "--out is where --to writes: give --to FORMAT"),
    (["convert", "{model}", "--to", "onnx", "README.md/x.onnx"], "--to README.md: is a file"),
    (["convert", "{model}", "--input", "x"], "--input: expected NAME=VALUE, got 'x'"),
    (["convert", "{model}", "--input", "x=README.md"], "--input x=README.md: expected a NumPy .npy file"),
    (["convert", "{model}", "--input", "x=no.npy"], "--input x=no.npy: no such file"),
    (["convert", "{model}", "--dim", "batch=0"], "--dim: expected a whole number >= 1 for batch, got 0"),
]


@pytest.mark.parametrize("argv, message", BAD_COMMAND_LINES, ids=[" ".join(a) for a, _ in BAD_COMMAND_LINES])
def test_each_bad_convert_argument_is_one_line_and_exit_status_2(argv, message, small_cnn, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)  # README.md is a file there, tests a folder
    monkeypatch.setattr(theon.cli, "run", lambda args: pytest.fail("started work on a bad command line"))
    _, path = small_cnn
    code, out, err = run_main(capsys, *[a.replace("{model}", str(path)) for a in argv])
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1, err


def test_convert_help_answers_without_importing_torch():
    code = ("import sys, theon_cli\n"
            "codes = [theon_cli.main(a) for a in (['convert', '--help'], ['convert', 'x.caffemodel'])]\n"
            "print(codes, 'torch' in sys.modules, 'theon' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip().splitlines()[-1] == "[0, 2] False False"
    assert "--to FORMAT [OUT ...]" in out and theon_cli.CONVERT_FORMATS["onnx"][2] in out
