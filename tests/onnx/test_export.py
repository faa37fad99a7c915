"""th.onnx.export on models and functions: each file passes onnx.checker's full check, runs in
onnxruntime with theon's numbers (1e-5 in float32, 1e-10 in float64) and loads back into
theon with the same results (1e-6)."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest

import theon as th
from theon import nn
from theon.onnx import OnnxExportError, UnexportableOpsError

TOL = {np.dtype("float32"): (1e-5, 1e-6), np.dtype("float64"): (1e-10, 1e-12)}


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _close(got, want, scale=1.0):
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        rtol, atol = TOL.get(w.dtype, (0, 0))
        np.testing.assert_allclose(g, w, rtol=rtol * scale, atol=atol * scale)


def _exported(target, path, examples, **kwargs):
    """Export, check fully, and return (model proto, onnxruntime session)."""
    th.onnx.export(target, path, examples, **kwargs)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    return model, ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _ort(session, *arrays):
    return session.run(None, {i.name: a for i, a in zip(session.get_inputs(), arrays)})


def _dims(info):
    return [d.dim_param or d.dim_value for d in info.type.tensor_type.shape.dim]


def _ops(model) -> set:
    return {n.op_type for n in model.graph.node}


def _reloaded_matches(path, model, *arrays):
    """th.onnx.load of the exported file gives the model's results (1e-6)."""
    back = th.onnx.load(path)
    for g, w in zip(_as_list(back.predict(list(arrays) if len(arrays) > 1 else arrays[0])),
                    _as_list(model.predict(list(arrays) if len(arrays) > 1 else arrays[0]))):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


def lenet():
    return nn.Sequential([
        nn.Conv2D(6, 5, padding="same", activation="relu"), nn.MaxPool2D(2),
        nn.Conv2D(16, 5, activation="relu"), nn.MaxPool2D(2), nn.Flatten(),
        nn.Dense(120, activation="relu"), nn.Dense(84, activation="relu"), nn.Dense(10)],
        input_shape=(1, 28, 28), seed=0)


def test_lenet_cnn_keeps_a_symbolic_batch(tmp_path):
    model = lenet()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 1, 28, 28)).astype(np.float32)
    proto, session = _exported(model, tmp_path / "lenet.onnx", [x])
    assert _dims(proto.graph.input[0]) == ["batch", 1, 28, 28] and _dims(proto.graph.output[0]) == ["batch", 10]
    assert {"Conv", "MaxPool", "MatMul", "Relu"} <= _ops(proto)
    # weights are initializers under their theon names
    assert {"conv2d_1/kernel", "dense_3/bias"} <= {t.name for t in proto.graph.initializer}
    for batch in (x, rng.normal(size=(7, 1, 28, 28)).astype(np.float32)):
        _close(_ort(session, batch), [model.predict(batch)])
    _reloaded_matches(tmp_path / "lenet.onnx", model, x)


def test_mlp_in_float64(tmp_path):
    model = nn.Sequential([nn.Flatten(), nn.Dense(32, activation="tanh"), nn.Dense(16, activation="elu"),
                           nn.Dense(3, activation="softmax")], input_shape=(4, 5), dtype="float64", seed=1)
    x = np.random.default_rng(1).normal(size=(6, 4, 5))
    proto, session = _exported(model, tmp_path / "mlp.onnx", [x])
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    _close(_ort(session, x), [model.predict(x)])
    _reloaded_matches(tmp_path / "mlp.onnx", model, x)


def test_batch_norm_and_dropout_export_in_inference_mode(tmp_path):
    model = nn.Sequential([nn.Conv2D(4, 3, activation="relu"), nn.BatchNorm(), nn.Dropout(0.5), nn.Flatten(),
                           nn.Dense(8), nn.BatchNorm(), nn.Dropout(0.3), nn.Dense(3)], input_shape=(2, 6, 6), seed=2)
    rng = np.random.default_rng(2)
    model.compile(optimizer=th.optim.SGD(0.05), loss="cross_entropy")
    model.fit(rng.normal(size=(32, 2, 6, 6)).astype(np.float32), rng.integers(0, 3, 32), epochs=2, batch_size=8,
              verbose=0)
    stats = model.get_layer("batch_norm_1").running_var.get_value()
    assert not np.allclose(stats, 1)  # trained: the running statistics are the model's own
    x = rng.normal(size=(5, 2, 6, 6)).astype(np.float32)
    proto, session = _exported(model, tmp_path / "bn.onnx", [x])
    assert "BatchNormalization" in _ops(proto) and "Dropout" not in _ops(proto)
    _close(_ort(session, x), [model.predict(x)])
    _reloaded_matches(tmp_path / "bn.onnx", model, x)


@pytest.mark.parametrize("layer, onnx_op", [
    (lambda: nn.LSTM(6), "LSTM"),
    (lambda: nn.LSTM(5, return_sequences=True, reverse=True), "LSTM"),
    (lambda: nn.Bidirectional(nn.LSTM(4, return_sequences=True)), "LSTM"),
    (lambda: nn.LSTM(6, mask_value=0.0), "Scan"),  # a mask: ONNX's LSTM cannot skip steps
], ids=["lstm", "lstm-reverse-sequences", "bidirectional", "lstm-masked"])
def test_lstm_models(tmp_path, layer, onnx_op):
    model = nn.Sequential([layer(), nn.Dense(3)], input_shape=(7, 5), seed=3)
    x = np.random.default_rng(3).normal(size=(4, 7, 5)).astype(np.float32)
    x[0, 5:] = 0.0  # padding, for the masked layer
    proto, session = _exported(model, tmp_path / "lstm.onnx", [x])
    assert onnx_op in _ops(proto)
    _close(_ort(session, x), [model.predict(x)])
    _reloaded_matches(tmp_path / "lstm.onnx", model, x)


@pytest.mark.parametrize("layer, onnx_op", [
    (lambda: nn.GRU(4, return_sequences=True), "GRU"),
    (lambda: nn.GRU(6, use_bias=False, reverse=True), "GRU"),
    (lambda: nn.SimpleRNN(5, activation="relu"), "RNN"),
    (lambda: nn.SimpleRNN(5, activation="softplus"), "Scan"),  # not an activation ONNX's RNN has
], ids=["gru", "gru-nobias-reverse", "rnn-relu", "rnn-softplus"])
def test_gru_and_rnn_models(tmp_path, layer, onnx_op):
    model = nn.Sequential([layer(), nn.Dense(2)], input_shape=(6, 3), seed=4)
    x = np.random.default_rng(4).normal(size=(3, 6, 3)).astype(np.float32)
    proto, session = _exported(model, tmp_path / "gru.onnx", [x])
    assert onnx_op in _ops(proto)
    _close(_ort(session, x), [model.predict(x)])
    _reloaded_matches(tmp_path / "gru.onnx", model, x)


def test_lstm_states_and_initial_states_of_a_functional_model(tmp_path):
    x_in, h0, c0 = nn.Input((7, 5), name="x"), nn.Input((6,), name="h0"), nn.Input((6,), name="c0")
    y, h, c = nn.LSTM(6, return_sequences=True, return_state=True)(x_in, initial_state=[h0, c0])
    model = nn.Model([x_in, h0, c0], [y, h, c])
    rng = np.random.default_rng(5)
    args = [rng.normal(size=s).astype(np.float32) for s in ((2, 7, 5), (2, 6), (2, 6))]
    proto, session = _exported(model, tmp_path / "states.onnx", args)
    assert "LSTM" in _ops(proto) and [i.name for i in proto.graph.input] == ["x", "h0", "c0"]
    _close(_ort(session, *args), model.predict(args))


def test_hand_written_scan_cond_and_while_loop(tmp_path):
    rng = np.random.default_rng(6)
    W = th.shared(rng.normal(size=(3, 3)) * 0.5, name="W")
    x = th.tensor("x", (None, 3), "float64")
    p = th.tensor("p", (), "float64")
    h, hs = th.scan(lambda c, xt: (th.tanh(c @ W + xt), c * 2), th.zeros(3, "float64"), x)
    _, back = th.scan(lambda c, xt: (c + xt, c), th.zeros(3, "float64"), x, reverse=True)
    _, powers = th.scan(lambda c, _: (c @ W, c), th.ones(3, "float64"), None, length=4)
    branch = th.cond(p > 0, lambda a: th.sum(a @ W, axis=0), lambda a: a[0] - 1.0, x)
    n, v = th.while_loop(lambda i, v: th.logical_and(i < 20, th.sum(v * v) < 1e4),
                         lambda i, v: (i + 1, v * 1.7 + th.sum(W)), (th.constant(np.int64(0)), x[0]))
    f = th.function([x, p], [h, hs, back, powers, branch, n, v])
    proto, session = _exported(f, tmp_path / "control.onnx", [rng.normal(size=(5, 3)), np.array(1.0)],
                               dynamic_axes={"x": {0: "time"}})
    assert {"Scan", "Loop", "If"} <= _ops(proto)
    for steps, pv in ((5, 1.0), (2, -1.0)):
        args = [rng.normal(size=(steps, 3)), np.array(pv)]
        _close(_ort(session, *args), f(*args))
    back_in = th.onnx.load(tmp_path / "control.onnx")
    args = [rng.normal(size=(4, 3)), np.array(-2.0)]
    for g, w in zip(back_in.predict(args), f(*args)):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-9)


def test_opsets_17_and_20(tmp_path):
    model = nn.Sequential([nn.Dense(8, activation="gelu"), nn.LayerNorm(), nn.Dense(2)], input_shape=(4,), seed=7)
    x = np.random.default_rng(7).normal(size=(3, 4)).astype(np.float32)
    for opset in (17, 20):
        proto, session = _exported(model, tmp_path / f"op{opset}.onnx", [x], opset=opset)
        assert proto.opset_import[0].version == opset and ("Gelu" in _ops(proto)) == (opset >= 20)
        _close(_ort(session, x), [model.predict(x)])


def test_unexportable_ops_are_listed_at_once_and_nothing_is_written(tmp_path):
    x = th.tensor("x", (3, 3), "float64")
    a = th.inv(x)                                  # line of the first inverse
    b = th.inv(x.T)
    c = th.cumprod(x, axis=0)
    y = th.relu(a + b + c)
    path = tmp_path / "bad.onnx"
    path.write_bytes(b"an older file")
    with pytest.raises(UnexportableOpsError) as info:
        th.onnx.export([y], path, [np.eye(3)])
    text = str(info.value)
    assert info.value.problems == {"inv": 2, "cumprod (ONNX has CumProd from opset 26)": 1}
    assert "inv: 2 nodes" in text and "test_export.py" in text and "a = th.inv(x)" in text
    assert path.read_bytes() == b"an older file"  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["bad.onnx"]  # no temporary file left


def test_dynamic_axes_and_names(tmp_path):
    x = th.tensor("x", (None, None), "float32")
    y = th.tensor("y", (None, 4), "float32")
    f = th.function([x, y], [th.sum(x, axis=1), x @ y])
    ex = [np.ones((2, 4), np.float32), np.ones((4, 4), np.float32)]
    # torch's default: dims not named in dynamic_axes take the examples' sizes
    proto, _ = _exported(f, tmp_path / "fixed.onnx", ex)
    assert [_dims(i) for i in proto.graph.input] == [[2, 4], [4, 4]]
    proto, session = _exported(f, tmp_path / "dyn.onnx", ex, input_names=["a", "b"], output_names=["s", "m"],
                               dynamic_axes={"a": {0: "n", 1: "k"}, "b": [0], "s": {0: "n"}})
    assert [i.name for i in proto.graph.input] == ["a", "b"] and [o.name for o in proto.graph.output] == ["s", "m"]
    assert [_dims(i) for i in proto.graph.input] == [["n", "k"], ["b_dim0", 4]]
    assert _dims(proto.graph.output[0]) == ["n"]
    args = [np.random.default_rng(8).normal(size=(3, 5)).astype(np.float32), np.ones((5, 4), np.float32)]
    _close(_ort(session, *args), f(*args))


def test_bad_arguments_are_refused_before_writing(tmp_path):
    x = th.tensor("x", (None, 3))
    f = th.function([x], x * 2)
    path = tmp_path / "m.onnx"
    cases = [
        (dict(example_inputs=None), "dim 0 of input 'x'"),
        (dict(example_inputs=[np.ones((2, 4), np.float32)]), r"shape \(2, 4\)"),
        (dict(example_inputs=[np.ones((2, 3), np.float32)], dynamic_axes={"q": [0]}), "not an input or output"),
        (dict(example_inputs=[np.ones((2, 3), np.float32)], dynamic_axes={"x": [5]}), "out of range"),
        (dict(example_inputs=[np.ones((2, 3), np.float32)], dynamic_axes={"x": [1]}), "built with that dim 3"),
        (dict(example_inputs=[np.ones((2, 3), np.float32)], opset=12), "opset must be"),
        (dict(example_inputs=[np.ones((2, 3), np.float32)], input_names=["a", "b"]), "input_names"),
    ]
    for kwargs, match in cases:
        with pytest.raises(OnnxExportError, match=match):
            th.onnx.export(f, path, **kwargs)
    W = th.shared(np.ones(3, np.float32), name="W")
    step = th.function([x], th.sum(x), updates=[(W, W + 1)])
    with pytest.raises(OnnxExportError, match="updates shared variables"):
        th.onnx.export(step, path, [np.ones((2, 3), np.float32)])
    with pytest.raises(OnnxExportError, match="does not exist"):
        th.onnx.export(f, tmp_path / "no" / "m.onnx", [np.ones((2, 3), np.float32)])
    assert not path.exists()


def test_imported_models_export_again(tmp_path):
    # a model th.onnx.load made exports as any other model, keeping the file's dim names
    model = lenet()
    x = np.random.default_rng(9).normal(size=(2, 1, 28, 28)).astype(np.float32)
    th.onnx.export(model, tmp_path / "a.onnx", [x])
    imported = th.onnx.load(tmp_path / "a.onnx")
    _, session = _exported(imported, tmp_path / "b.onnx", [x])
    proto = onnx.load(tmp_path / "b.onnx")
    assert _dims(proto.graph.input[0]) == ["batch", 1, 28, 28]  # the file's symbolic dims are kept
    _close(_ort(session, x), [model.predict(x)])


def test_external_data_beside_the_file(tmp_path, monkeypatch):
    model = nn.Sequential([nn.Dense(300, activation="relu"), nn.Dense(4)], input_shape=(20,), seed=10)
    x = np.random.default_rng(10).normal(size=(3, 20)).astype(np.float32)
    path = tmp_path / "big.onnx"
    th.onnx.export(model, path, [x], external_data=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.onnx", "big.onnx.data"]  # no temporary files
    assert path.stat().st_size < 2000 and (tmp_path / "big.onnx.data").stat().st_size >= 4 * (20 * 300 + 300 * 4)
    proto = onnx.load(path, load_external_data=False)
    external = {t.name for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL}
    assert external == {"dense_1/kernel", "dense_1/bias", "dense_2/kernel"}  # 16 bytes of bias stay inline
    onnx.checker.check_model(str(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    _close(_ort(session, x), [model.predict(x)])
    _reloaded_matches(path, model, x)
    # past protobuf's 2 GB limit (here made small) the weights go beside the file by default ...
    monkeypatch.setattr("theon.onnx.exporter.api.PROTOBUF_LIMIT", 1000)
    auto = tmp_path / "auto.onnx"
    th.onnx.export(model, auto, [x])
    assert (tmp_path / "auto.onnx.data").exists()
    _close(_ort(ort.InferenceSession(str(auto), providers=["CPUExecutionProvider"]), x), [model.predict(x)])
    # ... and external_data=False is refused before anything is written
    with pytest.raises(OnnxExportError, match="past protobuf's 2 GB limit"):
        th.onnx.export(model, tmp_path / "one.onnx", [x], external_data=False)
    with pytest.raises(OnnxExportError, match="external_data must be"):
        th.onnx.export(model, tmp_path / "one.onnx", [x], external_data="yes")
    assert not (tmp_path / "one.onnx").exists()
