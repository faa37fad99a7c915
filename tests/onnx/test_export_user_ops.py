"""Ops users make, exported: a `th.op` op becomes a node of its own ONNX domain (attributes
and output types written, the domain imported by the model), which th.onnx.load maps back
to the op; an `op_from_graph` block is written as its subgraph's nodes."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper

import theon as th
from theon import nn
from theon.onnx import OnnxImportError, UnsupportedOpsError

DOMAIN = "org.theon.test"


@th.op(domain=DOMAIN)
def scaled_swish(x, beta: float = 1.0, negate: bool = False, axes: tuple = ()):
    y = x * torch.sigmoid(beta * x)
    return -y if negate else y


@scaled_swish.grad
def _(x, y, gy, beta, negate, axes):
    s = th.sigmoid(beta * x)
    g = gy * (s + beta * x * s * (1 - s))
    return [-g if negate else g]


@th.op(domain=DOMAIN, nout=2)
def split_sign(x):
    return torch.clamp(x, min=0), torch.clamp(x, max=0)


def _checked(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    return model


def test_th_op_is_a_custom_domain_node_with_its_attributes_and_types(tmp_path):
    x = th.tensor("x", (None, 4), "float32")
    pos, neg = split_sign(x)
    y = th.tanh(scaled_swish(pos, beta=2.5, negate=True, axes=(0, 1))) + neg
    f = th.function([x], y)
    path = tmp_path / "user.onnx"
    th.onnx.export(f, path, dynamic_axes={"x": {0: "n"}})
    model = _checked(path)
    assert {(o.domain, o.version) for o in model.opset_import} == {("", 18), (DOMAIN, 1)}
    custom = {n.op_type: n for n in model.graph.node if n.domain == DOMAIN}
    assert set(custom) == {"scaled_swish", "split_sign"} and len(custom["split_sign"].output) == 2
    attrs = {a.name: helper.get_attribute_value(a) for a in custom["scaled_swish"].attribute}
    assert attrs == {"beta": 2.5, "negate": 1, "axes": [0, 1]}
    # their outputs' types are declared: no ONNX schema infers them
    typed = {v.name: v.type.tensor_type for v in model.graph.value_info}
    for out in [*custom["split_sign"].output, *custom["scaled_swish"].output]:
        assert typed[out].elem_type == TensorProto.FLOAT and [d.dim_value for d in typed[out].shape.dim] == [0, 4]
    # other runtimes need the op's kernel (a custom-op library): onnxruntime says which
    with pytest.raises(Exception, match="scaled_swish|split_sign"):
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # theon loads it back as the same ops
    back = th.onnx.load(path)
    a = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_allclose(back.predict(a), f(a), rtol=1e-6, atol=1e-7)
    loaded_ops = {n.op.name for n in th.graph.toposort(back.outputs)}
    assert {"scaled_swish", "split_sign"} <= loaded_ops


def test_keras_style_model_with_a_user_op_trained_with_fit_round_trips(tmp_path):
    x_in = nn.Input((6,), name="features")
    h = scaled_swish(nn.Dense(8)(x_in), beta=1.5)
    model = nn.Model(x_in, nn.Dense(3, activation="softmax")(h))
    rng = np.random.default_rng(1)
    x, labels = rng.normal(size=(40, 6)).astype(np.float32), rng.integers(0, 3, 40)
    model.compile(optimizer=th.optim.Adam(0.01), loss="sparse_categorical_crossentropy")
    before = model.predict(x)
    model.fit(x, labels, epochs=3, batch_size=8, verbose=0)
    assert not np.allclose(model.predict(x), before)  # trained: the file holds the new weights
    path = tmp_path / "trained.onnx"
    th.onnx.export(model, path, [x[:2]])
    proto = _checked(path)
    assert [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim][:1] == ["batch"]
    back = th.onnx.load(path)
    np.testing.assert_allclose(back.predict(x), model.predict(x), rtol=1e-6, atol=1e-7)
    # the loaded model fine-tunes through the user op's gradient
    back.compile(optimizer=th.optim.SGD(0.1), loss="sparse_categorical_crossentropy")
    loss = back.fit(x, labels, epochs=2, batch_size=40, verbose=0).history["loss"]
    assert loss[1] < loss[0]


def _custom_node_model(path, op_type, attrs, n_inputs=1):
    inputs = [helper.make_tensor_value_info(f"x{k}", TensorProto.FLOAT, [2]) for k in range(n_inputs)]
    node = helper.make_node(op_type, [i.name for i in inputs], ["y"], domain=DOMAIN, **attrs)
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(DOMAIN, 1)])
    onnx.save(model, path)
    return path


def test_custom_nodes_theon_cannot_map_are_clear_errors(tmp_path):
    with pytest.raises(UnsupportedOpsError, match=f"{DOMAIN}.no_such_op"):
        th.onnx.load(_custom_node_model(tmp_path / "a.onnx", "no_such_op", {}))
    with pytest.raises(OnnxImportError, match=r"\['gamma'\] are not attributes of th.op .*scaled_swish"):
        th.onnx.load(_custom_node_model(tmp_path / "b.onnx", "scaled_swish", {"gamma": 1.0}))
    with pytest.raises(OnnxImportError, match="takes 1 input"):
        th.onnx.load(_custom_node_model(tmp_path / "c.onnx", "scaled_swish", {}, n_inputs=2))
    with pytest.raises(OnnxImportError, match="beta"):
        th.onnx.load(_custom_node_model(tmp_path / "d.onnx", "scaled_swish", {"beta": "large"}))


def test_op_from_graph_blocks_are_written_as_their_nodes(tmp_path):
    rng = np.random.default_rng(2)
    W = th.shared(rng.normal(size=(4, 4)).astype(np.float32), name="W")
    h = th.tensor("h", (None, 4), "float32")
    block = th.op_from_graph([h], [th.tanh(h @ W) + h], name="residual")
    x = th.tensor("x", (None, 4), "float32")
    f = th.function([x], block(block(x)))
    path = tmp_path / "block.onnx"
    th.onnx.export(f, path, dynamic_axes={"x": [0]})
    model = _checked(path)
    assert [n.op_type for n in model.graph.node].count("Tanh") == 2 and [t.name for t in model.graph.initializer] == ["W"]
    a = rng.normal(size=(3, 4)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"x": a})[0], f(a), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(th.onnx.load(path).predict(a), f(a), rtol=1e-6, atol=1e-7)
