"""Quantized and reduction converters against ONNX's reference evaluator: ConvInteger with
per-output-channel weight zero points, blocked QuantizeLinear/DequantizeLinear, uint16
quantization's saturation, and ReduceMax/ReduceMin of an empty axis of bools."""
import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import theon.onnx.backend as theon_backend

rng = np.random.default_rng(0)


def _run_both(node, inputs, feeds, out_type, out_rank, opset):
    vi = helper.make_tensor_value_info
    graph = helper.make_graph([node], "g", [vi(n, t, s) for n, t, s in inputs],
                              [vi("y", out_type, [f"d{k}" for k in range(out_rank)])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    (expected,) = ReferenceEvaluator(model).run(None, feeds)
    (got,) = theon_backend.prepare(model).run([feeds[n] for n, _, _ in inputs])
    return np.asarray(got), expected


@pytest.mark.parametrize("attrs", [{"pads": [1, 0, 2, 1]}, {"strides": [2, 1], "group": 2}])
def test_conv_integer_with_a_zero_point_per_output_channel(attrs):
    x = rng.integers(0, 255, size=(2, 4, 6, 5)).astype(np.uint8)
    w = rng.integers(0, 255, size=(6, 4 // attrs.get("group", 1), 3, 2)).astype(np.uint8)
    zx, zw = np.array(7, np.uint8), rng.integers(0, 255, size=(6,)).astype(np.uint8)
    u8 = TensorProto.UINT8
    node = helper.make_node("ConvInteger", ["x", "w", "zx", "zw"], ["y"], **attrs)
    specs = [("x", u8, x.shape), ("w", u8, w.shape), ("zx", u8, ()), ("zw", u8, (6,))]
    got, expected = _run_both(node, specs,
                              {"x": x, "w": w, "zx": zx, "zw": zw}, TensorProto.INT32, 4, opset=10)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
def test_reducing_an_empty_axis_of_bools_gives_the_identity(op):
    x = np.zeros((2, 0, 3), bool)
    node = helper.make_node(op, ["x", "axes"], ["y"], keepdims=1)
    got, expected = _run_both(node, [("x", TensorProto.BOOL, x.shape), ("axes", TensorProto.INT64, (1,))],
                              {"x": x, "axes": np.array([1], np.int64)}, TensorProto.BOOL, 3, opset=20)
    assert got.dtype == bool and got.shape == (2, 1, 3)
    np.testing.assert_array_equal(got, expected)
    assert got.all() == (op == "ReduceMin")


@pytest.mark.parametrize("axis", [1, -1])
def test_blocked_quantize_and_dequantize_with_a_partial_last_block(axis):
    x = rng.normal(size=(2, 5, 5)).astype(np.float32) * 20
    blocks = [2, 5, 5]
    blocks[axis] = 3   # ceil(5 / 2): the last block covers one element
    scale = rng.uniform(0.1, 0.5, size=blocks).astype(np.float32)
    zero = rng.integers(-20, 20, size=blocks).astype(np.int8)
    f32, i8 = TensorProto.FLOAT, TensorProto.INT8
    specs = [("x", f32, x.shape), ("s", f32, blocks), ("z", i8, blocks)]
    q = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], axis=axis, block_size=2)
    got_q, expected_q = _run_both(q, specs, {"x": x, "s": scale, "z": zero}, i8, 3, opset=21)
    assert got_q.dtype == np.int8
    np.testing.assert_array_equal(got_q, expected_q)
    d = helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"], axis=axis, block_size=2)
    got_d, expected_d = _run_both(d, [("x", i8, x.shape)] + specs[1:],
                                  {"x": expected_q, "s": scale, "z": zero}, f32, 3, opset=21)
    np.testing.assert_allclose(got_d, expected_d, rtol=1e-6)


def test_quantize_to_uint16_saturates_to_its_own_range():
    x = np.array([-1e6, -3.0, 0.0, 2.5, 7.0, 1e6, 30000.0, -30000.0], np.float32)
    u16 = TensorProto.UINT16
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])
    inputs = [("x", TensorProto.FLOAT, x.shape), ("s", TensorProto.FLOAT, ()), ("z", u16, ())]
    feeds = {"x": x, "s": np.array(0.5, np.float32), "z": np.array(1000, np.uint16)}
    got, expected = _run_both(node, inputs, feeds, u16, 1, opset=21)
    assert got.dtype == np.uint16 and expected.dtype == np.uint16
    np.testing.assert_array_equal(got, expected)
    assert got.min() == 0 and got.max() == 65535
