"""Bad ONNX files give a clear OnnxImportError naming the file (and the node at fault),
never a crash and never a read outside the model's folder; fuzzed real models too."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import theon as th
import theon.onnx  # noqa: F401
from theon.onnx import OnnxImportError, UnsupportedOpsError

from .models import ppocr, silero


def _model(nodes, inputs, outputs, inits=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])


def _external(name):
    w = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[2, 3])
    return w


def _save(tmp_path, model, name="m.onnx"):
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return str(path)


def test_truncated_file_names_the_file(tmp_path):
    data = open(ppocr("ch_ppocr_mobile_v2.0_cls_infer.onnx"), "rb").read()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(OnnxImportError, match="cut.onnx"):
        th.onnx.load(str(path))


def test_opset_newer_than_supported(tmp_path):
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [X], [Y], opset=onnx.defs.onnx_opset_version() + 5)
    with pytest.raises(OnnxImportError, match="opset"):
        th.onnx.load(_save(tmp_path, model))


def test_cycle_names_the_nodes():
    nodes = [helper.make_node("Relu", ["b"], ["a"], name="first"),
             helper.make_node("Relu", ["a"], ["b"], name="second"),
             helper.make_node("Add", ["x", "b"], ["y"], name="out")]
    with pytest.raises(OnnxImportError, match="cycle.*(first|second)"):
        th.onnx.load(_model(nodes, [X], [Y]).SerializeToString())


def test_undefined_value_names_the_node():
    nodes = [helper.make_node("Add", ["x", "nowhere"], ["y"], name="adder")]
    with pytest.raises(OnnxImportError, match="adder.*nowhere"):
        th.onnx.load(_model(nodes, [X], [Y]).SerializeToString())


def test_tensor_size_disagrees_with_data():
    w = numpy_helper.from_array(np.ones(6, np.float32), "w")
    del w.dims[:]
    w.dims.extend([4, 4])
    nodes = [helper.make_node("Add", ["x", "w"], ["y"], name="adder")]
    with pytest.raises(OnnxImportError, match="'w'.*16 elements.*6"):
        th.onnx.load(_model(nodes, [X], [Y], [w]).SerializeToString())


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../secret.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path, location):
    folder = tmp_path / "model"
    folder.mkdir()
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.ones(6, np.float32).tobytes())
    w = _external("w")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value=location)
    nodes = [helper.make_node("Add", ["x", "w"], ["y"])]
    path = _save(folder, _model(nodes, [X], [Y], [w]))
    with pytest.raises(OnnxImportError, match="external"):
        th.onnx.load(path)


def test_external_data_inside_the_folder_loads(tmp_path):
    (tmp_path / "w.bin").write_bytes(np.arange(6, dtype=np.float32).tobytes())
    w = _external("w")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="w.bin")
    model = th.onnx.load(_save(tmp_path, _model([helper.make_node("Add", ["x", "w"], ["y"])], [X], [Y], [w])))
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(model.predict(x), x + np.arange(6).reshape(2, 3))


def test_every_unsupported_op_is_listed_once_with_counts():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("FancyOp", ["a"], ["b"]),
             helper.make_node("FancyOp", ["b"], ["c"]), helper.make_node("OtherOp", ["c"], ["y"])]
    with pytest.raises(UnsupportedOpsError) as info:
        th.onnx.load(_model(nodes, [X], [Y]).SerializeToString())
    assert info.value.missing == {"FancyOp": 2, "OtherOp": 1}
    assert "FancyOp: 2 nodes" in str(info.value) and "OtherOp: 1 node" in str(info.value)


@pytest.mark.parametrize("path", [ppocr("ch_ppocr_mobile_v2.0_cls_infer.onnx"), silero("silero_vad_half.onnx")])
def test_fuzzed_models_fail_cleanly(path):
    """Truncated and bit-flipped copies either load or raise OnnxImportError."""
    data = open(path, "rb").read()
    rng = np.random.default_rng(0)
    for trial in range(12):
        blob = bytearray(data)
        if trial % 2:
            blob = blob[: int(rng.integers(1, len(blob)))]
        else:
            for pos in rng.integers(0, len(blob), size=8):
                blob[pos] ^= 1 << int(rng.integers(0, 8))
        try:
            th.onnx.load(bytes(blob))
        except OnnxImportError:
            pass
