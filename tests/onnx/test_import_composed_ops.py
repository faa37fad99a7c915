"""ONNX converters composed from theon ops (DFT/STFT, MaxPool's Indices, MaxUnpool,
RoiAlign, DeformConv, TensorScatter, NonZero, FlexAttention, TreeEnsemble, the
preview-training optimisers) against ONNX's reference evaluator on batches, channels and
attributes the node cases do not use; gradients through the differentiable ones by finite
differences in float64."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import theon as th
import theon.onnx  # noqa: F401
import theon.onnx.backend as theon_backend
from theon.testing import verify_grad

F32, F64, I64 = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64


def _model(op, inputs, outputs, attrs=None, opset=22, domain="", inits=None):
    """One `op` node; inputs/outputs: [(name, elem_type, shape or None)]; inits: the node's
    constant inputs {name: array}, after its graph inputs."""
    inits = inits or {}
    names = [n for n, _, _ in inputs] + list(inits)
    node = helper.make_node(op, names, [n for n, _, _ in outputs], domain=domain, **(attrs or {}))
    vi = helper.make_tensor_value_info
    graph = helper.make_graph([node], "g", [vi(n, t, s) for n, t, s in inputs],
                              [vi(n, t, s) for n, t, s in outputs],
                              initializer=[numpy_helper.from_array(v, n) for n, v in inits.items()])
    opsets = [helper.make_opsetid("", opset)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 1))
    return helper.make_model(graph, opset_imports=opsets)


def _dims(rank):
    """An output shape of known rank whose dims are left to the importer."""
    return [f"d{k}" for k in range(rank)]


def _check(model, feeds, rtol=1e-5, atol=1e-6):
    expected = ReferenceEvaluator(model).run(None, feeds)
    for info, e in zip(model.graph.output, expected):   # the checker wants each output's rank
        if not info.type.tensor_type.HasField("shape"):
            elem = info.type.tensor_type.elem_type
            info.CopyFrom(helper.make_tensor_value_info(info.name, elem, _dims(e.ndim)))
    got = theon_backend.prepare(model).run(list(feeds.values()))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert np.asarray(g).dtype == e.dtype and np.asarray(g).shape == e.shape
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
    return got


rng = np.random.default_rng(0)


@pytest.mark.parametrize("shape,attrs", [
    ((2, 3, 7), {"kernel_shape": [3], "strides": [2], "pads": [1, 2]}),
    ((2, 3, 6, 7), {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [1, 0, 2, 1]}),
    ((2, 3, 6, 7), {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [0, 1, 1, 0], "storage_order": 1}),
    ((1, 2, 7, 8), {"kernel_shape": [2, 2], "dilations": [2, 1], "ceil_mode": 1, "strides": [2, 2]}),
    ((2, 2, 4, 5, 6), {"kernel_shape": [2, 3, 2], "strides": [2, 1, 2], "pads": [1, 0, 1, 0, 1, 1]}),
])
def test_max_pool_indices_match_the_reference(shape, attrs):
    model = _model("MaxPool", [("x", F32, shape)], [("y", F32, None), ("i", I64, None)], attrs)
    x = rng.permutation(np.prod(shape)).reshape(shape).astype(np.float32)   # no ties
    _check(model, {"x": x})


def test_max_unpool_undoes_max_pool_over_batches_and_channels():
    shape, attrs = (2, 3, 6, 6), {"kernel_shape": [2, 2], "strides": [2, 2]}
    vi = helper.make_tensor_value_info
    nodes = [helper.make_node("MaxPool", ["x"], ["y", "i"], **attrs),
             helper.make_node("MaxUnpool", ["y", "i"], ["z"], **attrs)]
    graph = helper.make_graph(nodes, "g", [vi("x", F32, shape)], [vi("z", F32, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 22)])
    x = rng.normal(size=shape).astype(np.float32)
    (z,) = _check(model, {"x": x})
    kept = z != 0   # each window's maximum at its own place, zeros elsewhere
    assert kept.sum() == 2 * 3 * 9
    np.testing.assert_array_equal(z[kept], x[kept])


def test_max_unpool_gradient():
    attrs = {"kernel_shape": [2, 2], "strides": [2, 2]}
    idx = np.array([[[[0, 2], [8, 10]], [[17, 19], [25, 27]]]], np.int64)   # planes of 4 x 4
    m = th.onnx.load(_model("MaxUnpool", [("x", F64, (1, 2, 2, 2)), ("i", I64, (1, 2, 2, 2))],
                            [("z", F64, _dims(4))], attrs))
    i = th.constant(idx)
    verify_grad(lambda x: m([x, i]), [rng.normal(size=(1, 2, 2, 2))])


@pytest.mark.parametrize("attrs,last,length", [
    ({"axis": 2}, 2, None),
    ({"axis": 1, "onesided": 1}, 2, 6),                    # complex in, half spectrum out
    ({"axis": 1, "inverse": 1}, 2, 12),
    ({"axis": 2, "inverse": 1, "onesided": 1}, 2, 10),     # half spectrum in, real out
    ({"axis": 1}, 1, 7),                                   # real in, cropped
])
def test_dft_attributes_and_lengths_match_the_reference(attrs, last, length):
    x = rng.normal(size=(2, 8, 6, last))
    inputs = [("x", F64, x.shape)] + ([("n", I64, ())] if length else [])
    model = _model("DFT", inputs, [("y", F64, None)], attrs, opset=19)
    feeds = {"x": x} | ({"n": np.array(length, np.int64)} if length else {})
    _check(model, feeds, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("attrs,last", [({"axis": 1}, 2), ({"axis": 1, "onesided": 1}, 1),
                                        ({"axis": 1, "inverse": 1, "onesided": 1}, 2)])
def test_dft_gradient(attrs, last):
    m = th.onnx.load(_model("DFT", [("x", F64, (2, 6, last))], [("y", F64, _dims(3))], attrs, opset=19))
    verify_grad(lambda x: m(x), [rng.normal(size=(2, 6, last))])


def test_stft_of_a_complex_signal_with_a_window_and_its_gradient():
    signal, window = rng.normal(size=(2, 40, 2)), np.hanning(12)
    model = _model("STFT", [("s", F64, signal.shape), ("w", F64, (12,))], [("y", F64, None)],
                   {"onesided": 0}, opset=17, inits={"step": np.array(5, np.int64)})
    model.graph.node[0].input[:] = ["s", "step", "w"]
    _check(model, {"s": signal, "w": window}, rtol=1e-9, atol=1e-9)
    m = th.onnx.load(model)
    verify_grad(lambda s, w: m([s, w]), [signal, window])


def test_roi_align_matches_the_reference_on_several_images():
    x = rng.normal(size=(2, 3, 9, 11)).astype(np.float32)
    rois = np.array([[0.5, 1.0, 6.0, 7.5], [-2.0, -1.0, 4.0, 3.0], [3.0, 2.0, 21.0, 17.0],
                     [5.0, 5.0, 5.2, 5.1]], np.float32)
    batch = np.array([1, 0, 1, 0], np.int64)
    for attrs in ({"spatial_scale": 0.5, "sampling_ratio": 3, "output_height": 3, "output_width": 4},
                  {"coordinate_transformation_mode": "output_half_pixel", "sampling_ratio": 2,
                   "output_height": 2, "output_width": 2, "mode": "max"}):
        model = _model("RoiAlign", [("x", F32, x.shape), ("r", F32, rois.shape), ("b", I64, (4,))],
                       [("y", F32, None)], attrs)
        _check(model, {"x": x, "r": rois, "b": batch}, rtol=1e-4, atol=1e-5)


def test_roi_align_gradient_reaches_the_image_and_the_boxes():
    attrs = {"sampling_ratio": 2, "output_height": 2, "output_width": 3}
    m = th.onnx.load(_model("RoiAlign", [("x", F64, (2, 2, 6, 7)), ("r", F64, (2, 4)), ("b", I64, (2,))],
                            [("y", F64, _dims(4))], attrs))
    b = th.constant(np.array([1, 0], np.int64))
    rois = np.array([[0.7, 1.3, 4.6, 5.2], [1.9, 0.4, 5.3, 3.1]])   # no sample on a pixel edge
    verify_grad(lambda x, r: m([x, r, b]), [rng.normal(size=(2, 2, 6, 7)), rois])


def test_nonzero_of_a_3d_int_tensor():
    x = rng.integers(-1, 2, size=(3, 4, 5)).astype(np.int32)
    (got,) = _check(_model("NonZero", [("x", TensorProto.INT32, x.shape)], [("y", I64, None)], opset=13),
                    {"x": x})
    np.testing.assert_array_equal(got, np.stack(np.nonzero(x)))


@pytest.mark.parametrize("op,attrs,n_states", [
    ("Adam", {"alpha": 0.8, "beta": 0.9, "epsilon": 1e-3, "norm_coefficient": 0.01,
              "norm_coefficient_post": 0.02}, 2),
    ("Adagrad", {"decay_factor": 0.2, "epsilon": 1e-4, "norm_coefficient": 0.05}, 1),
    ("Momentum", {"alpha": 0.9, "beta": 0.3, "mode": "nesterov", "norm_coefficient": 0.01}, 1),
    ("Momentum", {"alpha": 0.9, "beta": 0.3, "mode": "standard", "norm_coefficient": 0.0}, 1),
])
@pytest.mark.parametrize("step", [0, 3])
def test_training_optimisers_at_the_first_and_a_later_step(op, attrs, n_states, step):
    shapes = [(3,), (2, 2)]
    groups = ["X", "G"] + [f"S{k}" for k in range(n_states)]
    inputs = [("R", F32, ()), ("T", I64, ())]
    inputs += [(f"{g}{i}", F32, s) for g in groups for i, s in enumerate(shapes)]
    outputs = [(f"{g}{i}_new", F32, s) for g in ["X"] + groups[2:] for i, s in enumerate(shapes)]
    model = _model(op, inputs, outputs, attrs, domain="ai.onnx.preview.training")
    feeds = {"R": np.array(0.1, np.float32), "T": np.array(step, np.int64)}
    for name, _, shape in inputs[2:]:
        v = rng.normal(size=shape).astype(np.float32)
        feeds[name] = np.abs(v) if name.startswith("S") else v   # squared-gradient states are >= 0
    _check(model, feeds, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode,axis,indices", [("circular", 2, [3, 0]), ("linear", -2, [1, 2]),
                                               ("linear", 1, None)])
def test_tensor_scatter_writes_each_rows_sequence_and_its_gradient(mode, axis, indices):
    cache, update = rng.normal(size=(2, 4, 5, 3)), rng.normal(size=(2, 4, 2, 3))
    if axis == 1:
        update = rng.normal(size=(2, 2, 5, 3))
    inputs = [("c", F64, cache.shape), ("u", F64, update.shape)]
    inits = {} if indices is None else {"w": np.array(indices, np.int64)}
    model = _model("TensorScatter", inputs, [("y", F64, _dims(4))], {"mode": mode, "axis": axis},
                   opset=24, inits=inits)
    _check(model, {"c": cache, "u": update}, rtol=0, atol=0)
    m = th.onnx.load(model)
    verify_grad(lambda c, u: m([c, u]), [cache, update])


DEFORM_ATTRS = {"group": 2, "offset_group": 2, "strides": [2, 1], "dilations": [1, 2], "pads": [1, 0, 2, 1]}


def _deform_inputs(dtype, n=2, h=7, w=6, oc=6, kernel=(2, 3)):
    kh, kw = kernel
    oh = (h + 1 + 2 - ((kh - 1) * 1 + 1)) // 2 + 1      # DEFORM_ATTRS' pads, strides, dilations
    ow = (w + 0 + 1 - ((kw - 1) * 2 + 1)) // 1 + 1
    x = rng.normal(size=(n, 4, h, w))
    wt = rng.normal(size=(oc, 2, kh, kw))
    offset = rng.uniform(-2.3, 2.3, size=(n, 2 * kh * kw * 2, oh, ow))   # taps moved partly off the image
    bias, mask = rng.normal(size=(oc,)), rng.uniform(size=(n, 2 * kh * kw, oh, ow))
    return [a.astype(dtype) for a in (x, wt, offset, bias, mask)]


def test_deform_conv_with_groups_offset_groups_stride_dilation_and_pads_matches_the_reference():
    x, w, offset, bias, mask = _deform_inputs(np.float32)
    names = ["x", "w", "o", "b", "m"]
    model = _model("DeformConv", [(n, F32, a.shape) for n, a in zip(names, (x, w, offset, bias, mask))],
                   [("y", F32, None)], DEFORM_ATTRS, opset=19)
    _check(model, dict(zip(names, (x, w, offset, bias, mask))), rtol=1e-4, atol=1e-5)


def test_deform_conv_gradient_reaches_input_weights_offsets_and_mask():
    arrays = _deform_inputs(np.float64, n=1, h=4, w=4, oc=2, kernel=(2, 2))
    names = ["x", "w", "o", "b", "m"]
    m = th.onnx.load(_model("DeformConv", [(n, F64, a.shape) for n, a in zip(names, arrays)],
                            [("y", F64, _dims(4))], DEFORM_ATTRS, opset=19))
    verify_grad(lambda *vs: m(list(vs)), arrays)


def test_flex_attention_expanded_from_its_onnx_function_and_its_gradient():
    q, k, v = rng.normal(size=(2, 4, 3, 5)), rng.normal(size=(2, 2, 6, 5)), rng.normal(size=(2, 2, 6, 3))
    model = _model("FlexAttention", [("q", F64, q.shape), ("k", F64, k.shape), ("v", F64, v.shape)],
                   [("y", F64, _dims(4))], {"scale": 0.3}, opset=26, domain="ai.onnx.preview")
    (y,) = _check(model, {"q": q, "k": k, "v": v}, rtol=1e-9, atol=1e-9)
    assert y.shape == (2, 4, 3, 3)   # grouped heads: each K/V head serves two query heads
    m = th.onnx.load(model)
    verify_grad(lambda *xs: m(list(xs)), [q, k, v])


@pytest.mark.parametrize("aggregate", [0, 1, 2, 3])
def test_tree_ensemble_of_two_trees_with_each_comparison_and_missing_values(aggregate):
    tensor = helper.make_tensor
    attrs = {
        "nodes_featureids": [0, 1, 2, 1], "nodes_truenodeids": [1, 1, 3, 4], "nodes_trueleafs": [0, 1, 1, 1],
        "nodes_falsenodeids": [0, 2, 3, 5], "nodes_falseleafs": [1, 1, 0, 1],
        "nodes_missing_value_tracks_true": [0, 0, 1, 0], "leaf_targetids": [0, 1, 0, 2, 1, 0],
        "tree_roots": [0, 2], "n_targets": 3, "aggregate_function": aggregate, "post_transform": 0,
        "nodes_modes": tensor("m", TensorProto.UINT8, [4], [1, 2, 3, 5]),          # LT, GTE, GT, NEQ
        "nodes_splits": tensor("s", TensorProto.FLOAT, [4], [0.5, -0.2, 0.1, 0.0]),
        "leaf_weights": tensor("w", TensorProto.FLOAT, [6], [1.5, -2.0, 3.25, 0.5, -1.0, 4.0]),
    }
    node = helper.make_node("TreeEnsemble", ["x"], ["y"], domain="ai.onnx.ml", **attrs)
    vi = helper.make_tensor_value_info
    graph = helper.make_graph([node], "g", [vi("x", F32, (8, 3))], [vi("y", F32, (8, 3))])
    opsets = [helper.make_opsetid("", 21), helper.make_opsetid("ai.onnx.ml", 5)]
    model = helper.make_model(graph, opset_imports=opsets)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    x[[1, 4], 2] = np.nan     # tracks the true branch at node 2
    x[[2, 5], 1] = 0.0        # NEQ 0 false
    x[3, 1] = -0.2            # GTE's boundary
    _check(model, {"x": x}, rtol=0, atol=0)
