"""The imported model as a theon model: names, symbolic dims, values by ONNX name, cutting,
freezing and fine-tuning its weights; control flow and recurrent ops against onnxruntime."""
import numpy as np
import pytest
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import theon as th
import theon.onnx  # noqa: F401
import theon.onnx.backend as theon_backend

from .models import ppocr


def _run_ort(model, feeds):
    return ort.InferenceSession(model.SerializeToString()).run(None, feeds)


def test_names_dims_values_and_cut():
    m = th.onnx.load(ppocr("ch_ppocr_mobile_v2.0_cls_infer.onnx"))
    assert [v.name for v in m.inputs] == ["x"] and m.inputs[0].type.shape == (None, 3, None, None)
    feat = m.tensor("linear_1.tmp_1")  # the logits, before the softmax
    trunk = th.nn.Model(m.inputs, feat)
    assert trunk.params and len(trunk.params) <= len(m.params)
    x = np.random.default_rng(0).normal(size=(2, 3, 48, 192)).astype(np.float32)
    probs = m.predict(x)
    logits = trunk.predict(x)
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), probs, rtol=1e-4, atol=1e-6)


def test_weights_are_trainable_layers_and_freezing_removes_them():
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4) / 10, "w")
    b = numpy_helper.from_array(np.ones(4, np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="/fc/MatMul"),
             helper.make_node("Add", ["h", "b"], ["y"], name="/fc/Add")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], [w, b])
    m = th.onnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert m.input_dims["x"] == ["batch", 3]
    assert sorted(p.name for p in m.trainable_params) == ["b", "w"]
    layer = m.get_layer("fc.MatMul")
    assert [p.name for p in layer.params] == ["w"]
    layer.trainable = False
    assert [p.name for p in m.trainable_params] == ["b"]
    # a gradient step through the imported graph changes only what is trainable
    x = th.tensor("xx", (None, 3))
    loss = th.sum(m(x) ** 2)
    (gb,) = th.grad(loss, m.trainable_params)
    step = th.function([x], [], updates=[(m.params[1], m.params[1] - 0.1 * gb)])
    before = m.get_weights()
    step(np.ones((2, 3), np.float32))
    after = m.get_weights()
    np.testing.assert_array_equal(before["w"], after["w"])
    assert not np.allclose(before["b"], after["b"])


def _graph_model(nodes, inputs, outputs, opset=17, inits=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_loop_and_scan_match_onnxruntime():
    # Loop: v <- v * 2 + i for M steps, collecting v each step
    body = helper.make_graph(
        [helper.make_node("Cast", ["i"], ["fi"], to=TensorProto.FLOAT),
         helper.make_node("Mul", ["v_in", "two"], ["v2"]),
         helper.make_node("Add", ["v2", "fi"], ["v_out"]),
         helper.make_node("Identity", ["c_in"], ["c_out"]),
         helper.make_node("Identity", ["v_out"], ["scan_v"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [2]),
         helper.make_tensor_value_info("scan_v", TensorProto.FLOAT, [2])],
        initializer=[numpy_helper.from_array(np.array(2, np.float32), "two")])
    m_init = numpy_helper.from_array(np.array(5, np.int64), "M")
    c_init = numpy_helper.from_array(np.array(True), "cond")
    model = _graph_model([helper.make_node("Loop", ["M", "cond", "v0"], ["v_final", "vs"], body=body)],
                         [helper.make_tensor_value_info("v0", TensorProto.FLOAT, [2])],
                         [helper.make_tensor_value_info("v_final", TensorProto.FLOAT, [2]),
                          helper.make_tensor_value_info("vs", TensorProto.FLOAT, [5, 2])], inits=[m_init, c_init])
    v0 = np.array([1.0, -2.0], np.float32)
    ours = th.onnx.load(model).predict({"v0": v0})
    for a, b in zip(ours, _run_ort(model, {"v0": v0})):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_loop_with_scan_outputs_and_a_trip_count_from_inputs():
    # M = ceil(limit - start) from float inputs; the loop collects start + i
    f = TensorProto.FLOAT
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]),
         helper.make_node("Cast", ["i"], ["fi"], to=f),
         helper.make_node("Add", ["s_in", "fi"], ["y"]),
         helper.make_node("Identity", ["s_in"], ["s_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_in", f, [])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("s_out", f, []),
         helper.make_tensor_value_info("y", f, [])])
    nodes = [helper.make_node("Sub", ["limit", "start"], ["span"]),
             helper.make_node("Ceil", ["span"], ["up"]),
             helper.make_node("Cast", ["up"], ["M"], to=TensorProto.INT64),
             helper.make_node("Loop", ["M", "", "start"], ["s_final", "ys"], body=body)]
    model = _graph_model(nodes, [helper.make_tensor_value_info(n, f, []) for n in ("start", "limit")],
                         [helper.make_tensor_value_info("s_final", f, []),
                          helper.make_tensor_value_info("ys", f, ["n"])], opset=13)
    # loading alone cannot know the scan outputs' length: the error names the trip count
    with pytest.raises(th.onnx.OnnxImportError, match="trip count of a Loop with scan outputs"):
        th.onnx.load(model)
    # the conformance backend imports once per value of the inputs it must fix
    rep = theon_backend.prepare(model)
    for start, limit in ((1.5, 5.2), (-2.0, 0.5)):
        feeds = {"start": np.array(start, np.float32), "limit": np.array(limit, np.float32)}
        ours = rep.run([feeds["start"], feeds["limit"]])
        for a, b in zip(ours, _run_ort(model, feeds)):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_loop_body_slicing_at_the_iteration_count_matches_onnxruntime():
    # each step i reads rows i:i+2 of the outer x (a Slice whose bounds come from the data)
    f, i64 = TensorProto.FLOAT, TensorProto.INT64
    body = helper.make_graph(
        [helper.make_node("Identity", ["c_in"], ["c_out"]),
         helper.make_node("Unsqueeze", ["i", "zero"], ["start"]),
         helper.make_node("Add", ["start", "two"], ["end"]),
         helper.make_node("Slice", ["x", "start", "end"], ["rows"]),
         helper.make_node("ReduceSum", ["rows", "zero"], ["row_sum"], keepdims=0),
         helper.make_node("Add", ["acc_in", "row_sum"], ["acc_out"]),
         helper.make_node("Identity", ["acc_out"], ["acc_t"])],
        "body",
        [helper.make_tensor_value_info("i", i64, []),
         helper.make_tensor_value_info("c_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", f, [3])],
        [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", f, [3]),
         helper.make_tensor_value_info("acc_t", f, [3])],
        initializer=[numpy_helper.from_array(np.array([0], np.int64), "zero"),
                     numpy_helper.from_array(np.array([2], np.int64), "two")])
    inits = [numpy_helper.from_array(np.array(4, np.int64), "M"),
             numpy_helper.from_array(np.zeros(3, np.float32), "acc0")]
    model = _graph_model([helper.make_node("Loop", ["M", "", "acc0"], ["acc", "accs"], body=body)],
                         [helper.make_tensor_value_info("x", f, [5, 3])],
                         [helper.make_tensor_value_info("acc", f, [3]),
                          helper.make_tensor_value_info("accs", f, [4, 3])],
                         opset=13, inits=inits)
    x = np.random.default_rng(2).normal(size=(5, 3)).astype(np.float32)
    ours = th.onnx.load(model).predict({"x": x})
    for a, b in zip(ours, _run_ort(model, {"x": x})):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_batched_scan_of_opset_8_matches_onnxruntime():
    # per batch element: s <- s * x_t + y_t, scanning x forward and y backward; outputs s_t
    f = TensorProto.FLOAT
    body = helper.make_graph(
        [helper.make_node("Mul", ["s_in", "x_t"], ["sx"]),
         helper.make_node("Add", ["sx", "y_t"], ["s_out"]),
         helper.make_node("Identity", ["s_out"], ["s_t"])],
        "body",
        [helper.make_tensor_value_info(n, f, [2]) for n in ("s_in", "x_t", "y_t")],
        [helper.make_tensor_value_info(n, f, [2]) for n in ("s_out", "s_t")])
    node = helper.make_node("Scan", ["", "s0", "x", "y"], ["s_final", "ss"], body=body, num_scan_inputs=2,
                            directions=[0, 1])
    model = _graph_model([node], [helper.make_tensor_value_info("s0", f, [3, 2]),
                                  helper.make_tensor_value_info("x", f, [3, 4, 2]),
                                  helper.make_tensor_value_info("y", f, [3, 4, 2])],
                         [helper.make_tensor_value_info("s_final", f, [3, 2]),
                          helper.make_tensor_value_info("ss", f, [3, 4, 2])], opset=8)
    rng = np.random.default_rng(1)
    shapes = {"s0": (3, 2), "x": (3, 4, 2), "y": (3, 4, 2)}
    feeds = {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
    ours = th.onnx.load(model).predict(feeds)
    for a, b in zip(ours, _run_ort(model, feeds)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_lstm_gru_match_onnxruntime():
    rng = np.random.default_rng(0)
    seq, batch, inp, hid = 5, 2, 3, 4
    for op, gates in (("LSTM", 4), ("GRU", 3), ("RNN", 1)):
        inits = [numpy_helper.from_array(rng.normal(size=(2, gates * hid, inp)).astype(np.float32), "W"),
                 numpy_helper.from_array(rng.normal(size=(2, gates * hid, hid)).astype(np.float32), "R"),
                 numpy_helper.from_array(rng.normal(size=(2, 2 * gates * hid)).astype(np.float32), "B")]
        node = helper.make_node(op, ["X", "W", "R", "B"], ["Y", "Y_h"], hidden_size=hid, direction="bidirectional")
        model = _graph_model([node], [helper.make_tensor_value_info("X", TensorProto.FLOAT, [seq, batch, inp])],
                             [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None),
                              helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, None)], inits=inits)
        x = rng.normal(size=(seq, batch, inp)).astype(np.float32)
        ours = th.onnx.load(model).predict({"X": x})
        for a, b in zip(ours, _run_ort(model, {"X": x})):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        # the recurrent weights are trainable: a gradient reaches them through the scan
        m = th.onnx.load(model)
        g = th.grad(th.sum(m.outputs[0]), [m.tensor("W")])[0]
        assert np.abs(th.function(m.inputs, g)(x)).sum() > 0
