"""Each Caffe layer type theon imports, in small hand-written prototxts with weights in a
caffemodel written by tests/caffe/caffemodel.py, against OpenCV's Caffe importer (fusion off:
every layer's own output) and, where OpenCV departs from Caffe, against Caffe's formula
written with torch."""
import re
from dataclasses import dataclass, field

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import theon as th

from . import caffemodel as cm

RNG = np.random.default_rng(0)


def rand(*shape, low=None):
    a = RNG.standard_normal(shape).astype(np.float32)
    return a if low is None else np.abs(a) + low


@dataclass
class Case:
    id: str
    layers: str             # the prototxt's layers, after an Input layer "data"
    shape: tuple            # the input's shape, batch dim included
    probes: list            # layer names whose outputs are compared
    weights: dict = field(default_factory=dict)  # {layer: [arrays]} for the caffemodel
    ref: object = None      # None: OpenCV; else (input, weights) -> {probe: array}
    inputs: int = 1         # inputs data, data2, ...
    rtol: float = 1e-5


def prototxt(case: Case) -> str:
    extra = "".join(f'  top: "data{i + 1}"\n' for i in range(1, case.inputs))
    shapes = "".join(f"    shape {{ {' '.join(f'dim: {d}' for d in case.shape)} }}\n" for _ in range(case.inputs))
    return (f'name: "{case.id}"\nlayer {{\n  name: "data"\n  type: "Input"\n  top: "data"\n{extra}'
            f'  input_param {{\n{shapes}  }}\n}}\n{case.layers}')


def opencv(case, proto, model, xs):
    net = cv2.dnn.readNetFromCaffe(str(proto), str(model))
    net.enableFusion(False)
    names = ["data"] + [f"data{i + 1}" for i in range(1, case.inputs)]
    if case.inputs > 1:
        net.setInputsNames(names)
    for name, x in zip(names, xs):
        net.setInput(x, name)
    return dict(zip(case.probes, net.forward(case.probes)))


def layer(name, kind, bottom="data", top=None, params="", bottoms=None, tops=None):
    bottoms = bottoms or [bottom]
    tops = tops or [top or name]
    lines = [f'  name: "{name}"', f'  type: "{kind}"', *(f'  bottom: "{b}"' for b in bottoms),
             *(f'  top: "{t}"' for t in tops)]
    if params:
        lines.append("  " + params)
    return "layer {\n" + "\n".join(lines) + "\n}\n"


def _caffe_max_pool(x, k, s, p, ceil=True):
    """Caffe's max pooling as its source writes it: windows clipped to the input, the
    maximum starting from -FLT_MAX."""
    n, c, h, w = x.shape
    rnd = np.ceil if ceil else np.floor
    oh = [int(rnd((d + 2 * p - k) / s)) + 1 for d in (h, w)]
    oh = [o - 1 if p and (o - 1) * s >= d + p else o for o, d in zip(oh, (h, w))]
    out = np.full((n, c, *oh), -np.finfo(np.float32).max, np.float64)
    for i in range(oh[0]):
        for j in range(oh[1]):
            hs, ws = i * s - p, j * s - p
            window = x[:, :, max(hs, 0):min(hs + k, h), max(ws, 0):min(ws + k, w)]
            if window.size:
                out[:, :, i, j] = window.max((2, 3))
    return out


def _lrn_within(x, size, alpha, beta):
    t = torch.from_numpy(x)
    mean_sq = F.avg_pool2d(t * t, size, 1, (size - 1) // 2, count_include_pad=True)
    return (t * (1 + alpha * mean_sq) ** -beta).numpy()


CONV = dict(w=rand(4, 3, 3, 3), b=rand(4))
CASES = [
    Case("convolution", layer("conv", "Convolution", params="convolution_param { num_output: 4 kernel_size: 3 "
                                                            "stride: 2 pad: 1 }"),
         (2, 3, 7, 8), ["conv"], {"conv": [CONV["w"], CONV["b"]]}),
    Case("convolution_hw_grouped_no_bias",
         layer("conv", "Convolution", params="convolution_param { num_output: 4 kernel_h: 3 kernel_w: 2 stride_h: 2 "
                                            "stride_w: 1 pad_h: 1 pad_w: 0 group: 2 bias_term: false }"),
         (1, 4, 6, 5), ["conv"], {"conv": [rand(4, 2, 3, 2)]}),
    Case("convolution_dilated",
         layer("conv", "Convolution", params="convolution_param { num_output: 2 kernel_size: 3 dilation: 2 pad: 2 "
                                            "group: 2 }"),
         (1, 4, 7, 7), ["conv"], {"conv": [rand(2, 2, 3, 3), rand(2)]}),
    Case("deconvolution",
         layer("up", "Deconvolution", params="convolution_param { num_output: 3 kernel_size: 4 stride: 2 pad: 1 }"),
         (2, 2, 4, 5), ["up"], {"up": [rand(2, 3, 4, 4), rand(3)]}),
    Case("deconvolution_grouped",
         layer("up", "Deconvolution", params="convolution_param { num_output: 4 kernel_size: 3 stride: 2 group: 2 "
                                            "bias_term: false }"),
         (1, 4, 3, 3), ["up"], {"up": [rand(4, 2, 3, 3)]}),
    Case("max_pool_ceil", layer("pool", "Pooling", params="pooling_param { pool: MAX kernel_size: 3 stride: 2 }"),
         (2, 3, 6, 7), ["pool"]),
    Case("max_pool_padded_last_window_clipped",
         layer("pool", "Pooling", params="pooling_param { pool: MAX kernel_size: 2 stride: 2 pad: 1 }"),
         (1, 2, 5, 6), ["pool"]),
    Case("ave_pool_padded", layer("pool", "Pooling", params="pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }"),
         (2, 2, 7, 6), ["pool"]),
    Case("ave_pool_rectangular",
         layer("pool", "Pooling", params="pooling_param { pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 "
                                        "pad_h: 1 pad_w: 1 }"),
         (1, 2, 6, 5), ["pool"]),
    Case("ave_pool_pad_above_half_kernel",
         layer("pool", "Pooling", params="pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 2 }"),
         (1, 2, 6, 7), ["pool"]),
    Case("max_pool_pad_above_half_kernel",
         layer("pool", "Pooling", params="pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 2 }"),
         (1, 2, 6, 7), ["pool"]),
    # Caffe keeps a last window that starts past the input, its max -FLT_MAX (OpenCV gives another value)
    Case("max_pool_stride_above_kernel",
         layer("pool", "Pooling", params="pooling_param { pool: MAX kernel_size: 2 stride: 3 }"),
         (1, 2, 6, 6), ["pool"], ref=lambda xs, w: {"pool": _caffe_max_pool(xs[0], 2, 3, 0)}),
    # OpenCV's importer fails on round_mode
    Case("max_pool_floor", layer("pool", "Pooling", params="pooling_param { pool: MAX kernel_size: 3 stride: 2 "
                                                          "round_mode: FLOOR }"),
         (1, 2, 6, 6), ["pool"], ref=lambda xs, w: {"pool": _caffe_max_pool(xs[0], 3, 2, 0, ceil=False)}),
    Case("global_pooling", layer("gmax", "Pooling", params="pooling_param { pool: MAX global_pooling: true }")
         + layer("gave", "Pooling", params="pooling_param { pool: AVE global_pooling: true }"),
         (2, 3, 5, 4), ["gmax", "gave"]),
    Case("inner_product", layer("fc", "InnerProduct", params="inner_product_param { num_output: 5 }"),
         (2, 3, 2, 2), ["fc"], {"fc": [rand(5, 12), rand(5)]}),
    Case("inner_product_transposed_no_bias",
         layer("fc", "InnerProduct", params="inner_product_param { num_output: 5 transpose: true bias_term: false }"),
         (2, 6), ["fc"], {"fc": [rand(6, 5)]},
         ref=lambda xs, w: {"fc": xs[0] @ w["fc"][0]}),
    Case("inner_product_axis_2", layer("fc", "InnerProduct", params="inner_product_param { num_output: 3 axis: 2 }"),
         (2, 4, 5), ["fc"], {"fc": [rand(3, 5), rand(3)]},
         ref=lambda xs, w: {"fc": xs[0] @ w["fc"][0].T + w["fc"][1]}),
    Case("activations", layer("leaky", "ReLU", params="relu_param { negative_slope: 0.2 }", top="a")
         + layer("sig", "Sigmoid", bottom="a", top="b") + layer("tanh", "TanH", bottom="b", top="c")
         + layer("elu", "ELU", bottom="data", top="d", params="elu_param { alpha: 0.7 }")
         + layer("relu", "ReLU", bottom="d", top="d"),
         (2, 3, 4, 4), ["leaky", "sig", "tanh", "elu", "relu"]),
    Case("prelu", layer("prelu", "PReLU") + layer("prelu_shared", "PReLU", bottom="prelu",
                                                  params="prelu_param { channel_shared: true }"),
         (2, 3, 4, 4), ["prelu", "prelu_shared"], {"prelu": [rand(3)], "prelu_shared": [rand(1)]}),
    Case("batch_norm_scale_in_place",
         layer("conv", "Convolution", params="convolution_param { num_output: 4 kernel_size: 3 }")
         + layer("bn", "BatchNorm", bottom="conv", top="conv", params="batch_norm_param { eps: 0.001 }")
         + layer("scale", "Scale", bottom="conv", top="conv", params="scale_param { bias_term: true }"),
         (2, 3, 5, 5), ["conv", "bn", "scale"],
         {"conv": [CONV["w"], CONV["b"]], "bn": [rand(4) * 9, rand(4, low=0.5) * 9, np.array([9.0])],
          "scale": [rand(4), rand(4)]}),
    Case("scale_without_bias_and_bias_layer",
         layer("scale", "Scale") + layer("bias", "Bias", bottom="scale"),
         (2, 3, 4, 2), ["scale", "bias"], {"scale": [rand(3)], "bias": [rand(3)]},
         ref=lambda xs, w: {"scale": xs[0] * w["scale"][0][:, None, None],
                            "bias": xs[0] * w["scale"][0][:, None, None] + w["bias"][0][:, None, None]}),
    Case("scale_by_a_second_input",
         layer("gate", "Pooling", params="pooling_param { pool: AVE global_pooling: true }")
         + layer("scale", "Scale", bottoms=["data", "gate"], params="scale_param { axis: 0 }"),
         (2, 3, 4, 4), ["scale"]),
    Case("scale_by_a_vector_input",  # the second input (N, C) covers x's axes 0 and 1
         layer("fc", "InnerProduct", params="inner_product_param { num_output: 3 }")
         + layer("scale", "Scale", bottoms=["data", "fc"], params="scale_param { axis: 0 }"),
         (2, 3, 2, 2), ["scale"], {"fc": [rand(3, 12), rand(3)]},
         ref=lambda xs, w: {"scale": xs[0] * (xs[0].reshape(2, -1) @ w["fc"][0].T + w["fc"][1])[:, :, None, None]}),
    Case("eltwise", layer("sum", "Eltwise", bottoms=["data", "data2"], params="eltwise_param { coeff: 1 coeff: -0.5 }")
         + layer("prod", "Eltwise", bottoms=["data", "data2", "sum"], params="eltwise_param { operation: PROD }")
         + layer("max", "Eltwise", bottoms=["data", "data2"], params="eltwise_param { operation: MAX }"),
         (2, 3, 4, 4), ["sum", "prod", "max"], inputs=2),
    Case("concat_slice_split",
         layer("cat", "Concat", bottoms=["data", "data2"])
         + layer("cat2", "Concat", bottoms=["data", "data2"], params="concat_param { axis: 3 }")
         + layer("slice", "Slice", bottom="cat", tops=["s1", "s2", "s3"], params="slice_param { slice_point: 1 "
                                                                                  "slice_point: 4 }")
         + layer("split", "Split", bottom="s3", tops=["t1", "t2"])
         + layer("add", "Eltwise", bottoms=["t1", "t2"]),
         (2, 3, 2, 2), ["cat", "cat2", "slice", "add"], inputs=2),
    Case("flatten_reshape_softmax",
         layer("flat", "Flatten", params="flatten_param { axis: 2 }")
         + layer("reshape", "Reshape", bottom="data", params="reshape_param { shape { dim: 0 dim: -1 dim: 2 } }")
         + layer("soft", "Softmax", bottom="data") + layer("soft3", "Softmax", bottom="data",
                                                           params="softmax_param { axis: 3 }"),
         (2, 3, 2, 4), ["flat", "reshape", "soft", "soft3"]),
    Case("dropout_power", layer("drop", "Dropout", params="dropout_param { dropout_ratio: 0.3 }")
         + layer("pow", "Power", bottom="drop", params="power_param { power: 2 scale: 0.5 shift: 1.5 }"),
         (2, 3, 4), ["drop", "pow"]),
    Case("lrn_across_channels", layer("norm", "LRN", params="lrn_param { local_size: 5 alpha: 0.01 beta: 0.75 }"),
         (2, 7, 3, 3), ["norm"]),
    # OpenCV's importer drops LRN's k (it always adds 1); Caffe's formula is torch's here
    Case("lrn_across_channels_k", layer("norm", "LRN", params="lrn_param { local_size: 3 alpha: 0.5 beta: 0.6 k: 2 }"),
         (2, 5, 3, 3), ["norm"],
         ref=lambda xs, w: {"norm": F.local_response_norm(torch.from_numpy(xs[0]), 3, 0.5, 0.6, 2.0).numpy()}),
    Case("lrn_within_channel",
         layer("norm", "LRN", params="lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 norm_region: WITHIN_CHANNEL }"),
         (2, 2, 5, 4), ["norm"], ref=lambda xs, w: {"norm": _lrn_within(xs[0], 3, 0.5, 0.75)}),
]


def _run(case, tmp_path):
    proto = tmp_path / "net.prototxt"
    proto.write_text(prototxt(case))
    types = dict(re.findall(r'name: "(\w+)"\n  type: "(\w+)"', case.layers))
    model = cm.caffemodel(case.weights, tmp_path / "net.caffemodel", types=types)
    xs = [RNG.standard_normal(case.shape).astype(np.float32) for _ in range(case.inputs)]
    m = th.caffe.load(proto, model)
    f = th.function(m.inputs, [m.get_layer(n).output for n in case.probes])
    got = dict(zip(case.probes, f(*xs)))
    return proto, model, xs, got


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_layer_type_against_reference(case, tmp_path):
    proto, model, xs, got = _run(case, tmp_path)
    want = opencv(case, proto, model, xs) if case.ref is None else case.ref(xs, case.weights)
    for name in case.probes:
        np.testing.assert_allclose(got[name], want[name], rtol=case.rtol, atol=case.rtol, err_msg=name)


@pytest.mark.parametrize("case", [c for c in CASES if c.id in (
    "batch_norm_scale_in_place", "scale_by_a_vector_input", "eltwise", "concat_slice_split", "flatten_reshape_softmax",
    "dropout_power", "inner_product_axis_2", "ave_pool_pad_above_half_kernel", "lrn_within_channel")],
    ids=lambda c: c.id)
def test_imported_models_rebuild_from_their_config(case, tmp_path):
    proto, model, xs, _ = _run(case, tmp_path)
    m = th.caffe.load(proto, model)
    again = th.nn.Model.from_config(m.get_config())
    again.set_weights(m.get_weights())
    assert [type(a) for a in again.layers] == [type(b) for b in m.layers]
    outs = [v if isinstance(v, list) else [v] for v in (again.outputs, m.outputs)]
    got, want = (th.function(model.inputs, out)(*xs) for model, out in zip((again, m), outs))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
