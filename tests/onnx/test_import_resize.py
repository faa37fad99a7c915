"""ONNX Resize against ONNX's reference evaluator where the node cases are thin:
antialiased downsampling (linear and cubic, with exclude_outside), align_corners with
scales that do not give whole lengths, and tf_crop_and_resize over chosen axes."""
import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import theon.onnx.backend as theon_backend

F32, I64 = TensorProto.FLOAT, TensorProto.INT64
rng = np.random.default_rng(0)


def _compare(attrs, x, roi=None, scales=None, sizes=None, axes=None, rtol=1e-5, atol=1e-5):
    names, feeds, specs = ["x"], {"x": x}, [("x", F32, x.shape)]
    for name, value, kind in (("roi", roi, F32), ("scales", scales, F32), ("sizes", sizes, I64)):
        if value is None:
            names.append("")
            continue
        arr = np.asarray(value, np.float32 if kind == F32 else np.int64)
        names.append(name)
        feeds[name] = arr
        specs.append((name, kind, arr.shape))
    if axes is not None:
        attrs = dict(attrs, axes=axes)
    node = helper.make_node("Resize", names, ["y"], **attrs)
    vi = helper.make_tensor_value_info
    graph = helper.make_graph([node], "g", [vi(n, t, s) for n, t, s in specs],
                              [vi("y", F32, [f"d{k}" for k in range(x.ndim)])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    (expected,) = ReferenceEvaluator(model).run(None, feeds)
    (got,) = theon_backend.prepare(model).run([feeds[n] for n, _, _ in specs])
    assert np.asarray(got).shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("exclude", [0, 1])
def test_antialiased_downsampling(mode, exclude):
    x = rng.normal(size=(1, 2, 11, 9)).astype(np.float32)
    attrs = {"mode": mode, "antialias": 1, "exclude_outside": exclude}
    _compare(attrs, x, scales=[1, 1, 0.45, 0.7])
    _compare(dict(attrs, coordinate_transformation_mode="pytorch_half_pixel"), x, sizes=[1, 2, 4, 5])


@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_align_corners_with_scales_that_give_fractional_lengths(mode):
    x = rng.normal(size=(1, 1, 5, 7)).astype(np.float32)
    _compare({"mode": mode, "coordinate_transformation_mode": "align_corners"}, x, scales=[1, 1, 0.7, 0.45])
    _compare({"mode": mode, "coordinate_transformation_mode": "align_corners"}, x, scales=[1, 1, 1.3, 2.2])


def test_tf_crop_and_resize_over_chosen_axes_with_extrapolation():
    x = rng.normal(size=(2, 3, 6, 8)).astype(np.float32)
    attrs = {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize",
             "extrapolation_value": -3.0}
    _compare(attrs, x, roi=[0.6, -0.2, 1.2, 0.9], sizes=[5, 4], axes=[3, 2])
    _compare(dict(attrs, mode="nearest"), x, roi=[0.15, 0.3, 0.85, 1.1], sizes=[7, 3], axes=[2, 3])
