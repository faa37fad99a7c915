"""What a Caffe net file may look like beyond a modern deploy.prototxt: legacy V1 `layers`
(text and binary), net-level inputs, legacy 4-d and double-precision blobs, weights inline
in the prototxt, train_val files with data, loss and accuracy layers and phase rules, layer
names with '/', and nets without a caffemodel."""
import logging

import cv2
import numpy as np
import pytest

import theon as th
from theon import nn
from theon.caffe import CaffeError

from . import caffemodel as cm

RNG = np.random.default_rng(3)

V1_NET = """name: "legacy"
input: "data"
input_dim: 1
input_dim: 3
input_dim: 8
input_dim: 8
layers {
  name: "conv1"
  type: CONVOLUTION
  bottom: "data"
  top: "conv1"
  blobs_lr: 1
  blobs_lr: 2
  convolution_param { num_output: 4 kernel_size: 3 stride: 1 }
}
layers { name: "relu1" type: RELU bottom: "conv1" top: "conv1" }
layers {
  name: "pool1" type: POOLING bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 }
}
layers { name: "fc" type: INNER_PRODUCT bottom: "pool1" top: "fc" inner_product_param { num_output: 5 } }
layers { name: "prob" type: SOFTMAX bottom: "fc" top: "prob" }
"""


def _v1_weights():
    return {"conv1": [RNG.standard_normal((4, 3, 3, 3)), RNG.standard_normal(4)],
            "fc": [RNG.standard_normal((5, 36)), RNG.standard_normal(5)]}


def _opencv(proto, model, x, names):
    net = cv2.dnn.readNetFromCaffe(str(proto), str(model))
    net.enableFusion(False)
    net.setInput(x)
    return net.forward(names)


@pytest.mark.parametrize("legacy_blobs", [False, True])
def test_v1_layers_in_text_and_binary_against_opencv(tmp_path, legacy_blobs):
    proto = tmp_path / "v1.prototxt"
    proto.write_text(V1_NET)
    types = {"conv1": "Convolution", "fc": "InnerProduct"}
    model = cm.caffemodel(_v1_weights(), tmp_path / "v1.caffemodel", v1=True, types=types, legacy=legacy_blobs)
    m = th.caffe.load(proto, model)
    assert [layer.name for layer in m.layers] == ["conv1", "relu1", "pool1", "fc", "prob"]
    assert m.input_shape == (3, 8, 8) and m.output_shape() == (5,)
    x = RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)
    names = ["conv1", "pool1", "prob"]
    got = th.function(m.inputs, [m.get_layer(n).output for n in names])(x)
    for a, b in zip(got, _opencv(proto, model, x, names)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_net_level_input_shape_and_double_blobs(tmp_path):
    proto = tmp_path / "net.prototxt"
    proto.write_text('input: "img"\ninput_shape { dim: 2 dim: 3 dim: 5 dim: 5 }\n'
                     'layer { name: "conv" type: "Convolution" bottom: "img" top: "conv" '
                     'convolution_param { num_output: 2 kernel_size: 1 } }\n')
    w = [RNG.standard_normal((2, 3, 1, 1)), RNG.standard_normal(2)]
    model = cm.caffemodel({"conv": w}, tmp_path / "net.caffemodel", double=True)
    m = th.caffe.load(proto, model)
    assert [v.name for v in m.inputs] == ["img"] and m.input_shape == (3, 5, 5)
    conv = m.get_layer("conv")
    np.testing.assert_array_equal(conv.kernel.get_value(), w[0].astype(np.float32))
    np.testing.assert_array_equal(conv.bias.get_value(), w[1].astype(np.float32))


def test_weights_inline_in_the_prototxt_and_no_caffemodel(tmp_path):
    proto = tmp_path / "inline.prototxt"
    proto.write_text('layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 2 } } }\n'
                     'layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc"\n'
                     '  inner_product_param { num_output: 2 }\n'
                     '  blobs { shape { dim: 2 dim: 2 } data: [1, 2, 3, 4] }\n'
                     '  blobs { shape { dim: 2 } data: 0.5 data: -0.5 } }\n')
    m = th.caffe.load(proto)
    np.testing.assert_allclose(m.predict(np.array([[1.0, 1.0]], np.float32)), [[3.5, 6.5]])
    # without a caffemodel and without blobs, a net still builds, freshly initialised
    plain = tmp_path / "plain.prototxt"
    plain.write_text(V1_NET)
    fresh = th.caffe.load(plain)
    assert fresh.get_layer("conv1").kernel.get_value().std() > 0


TRAIN_VAL = """name: "train_val"
layer {
  name: "data" type: "Data" top: "data" top: "label"
  include { phase: TRAIN }
  transform_param { crop_size: 8 }
  data_param { source: "train_lmdb" batch_size: 32 backend: LMDB }
}
layer {
  name: "data" type: "MemoryData" top: "data" top: "label"
  include { phase: TEST }
  memory_data_param { batch_size: 4 channels: 3 height: 8 width: 8 }
}
layer { name: "conv1/3x3" type: "Convolution" bottom: "data" top: "conv1/3x3"
        convolution_param { num_output: 2 kernel_size: 3 } }
layer { name: "drop" type: "Dropout" bottom: "conv1/3x3" top: "conv1/3x3" exclude { phase: TEST } }
layer { name: "fc" type: "InnerProduct" bottom: "conv1/3x3" top: "fc" inner_product_param { num_output: 3 } }
layer { name: "accuracy" type: "Accuracy" bottom: "fc" bottom: "label" top: "accuracy" include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
"""


def test_train_val_files_keep_the_test_net(tmp_path, caplog):
    proto = tmp_path / "train_val.prototxt"
    proto.write_text(TRAIN_VAL)
    with caplog.at_level(logging.WARNING, logger="theon.caffe"):
        m = th.caffe.load(proto)
    # the TEST-phase data layer gives the input; Dropout (excluded in TEST), the loss and accuracy are out
    assert m.input_shape == (3, 8, 8)
    assert [layer.name for layer in m.layers] == ["conv1.3x3", "fc"]
    assert m.output_shape() == (3,)
    assert "accuracy (Accuracy: training only)" in caplog.text and "loss (SoftmaxWithLoss" in caplog.text
    assert "label" in caplog.text
    net = th.caffe.read_net(proto)
    assert [name for name, _, _ in net.ignored] == ["data", "accuracy", "loss"]


def test_data_layer_without_a_shape_asks_for_one(tmp_path):
    proto = tmp_path / "train.prototxt"
    proto.write_text(TRAIN_VAL.replace("phase: TEST", "phase: TRAIN").replace(
        "include { phase: TRAIN }\n  transform_param", "transform_param"))
    with pytest.raises(CaffeError, match=r"shape of the input 'data' \(layer 'data' \(Data\)\) is not in the "
                                         r"file; give it .*input_shape="):
        th.caffe.load(proto)
    m = th.caffe.load(proto, input_shape=(3, 8, 8))
    assert m.input_shape == (3, 8, 8)
    with pytest.raises(CaffeError, match=r"input_shape names \['image'\], which are not inputs"):
        th.caffe.load(proto, input_shape={"image": (3, 8, 8)})


def test_layer_names_with_slashes_and_several_tops(tmp_path):
    proto = tmp_path / "net.prototxt"
    proto.write_text('layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 6 } } }\n'
                     'layer { name: "split/a" type: "Slice" bottom: "data" top: "p/1" top: "p/2" }\n'
                     'layer { name: "sum" type: "Eltwise" bottom: "p/1" bottom: "p/2" top: "sum" }\n'
                     'layer { name: "out" type: "Power" bottom: "sum" top: "sum" }\n')
    m = th.caffe.load(proto)
    assert [layer.name for layer in m.layers] == ["split.a", "split.a:p.2", "sum", "out"]
    x = np.arange(6, dtype=np.float32)[None]
    np.testing.assert_array_equal(m.predict(x), x[:, :3] + x[:, 3:])
    sliced = th.function(m.inputs, m.get_layer("split.a").output)(x)
    np.testing.assert_array_equal(sliced, x[:, :3])


def test_an_imported_net_fine_tunes_and_its_config_rebuilds_it(tmp_path):
    proto = tmp_path / "v1.prototxt"
    proto.write_text(V1_NET)
    model = cm.caffemodel(_v1_weights(), tmp_path / "v1.caffemodel", v1=True,
                          types={"conv1": "Convolution", "fc": "InnerProduct"})
    m = th.caffe.load(proto, model)
    again = nn.Model.from_config(m.get_config())
    again.set_weights(m.get_weights())
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(again.predict(x), m.predict(x), rtol=1e-6)
    trunk = nn.Model(m.inputs, m.get_layer("pool1").output)
    trunk.trainable = False
    frozen = m.get_layer("conv1").kernel.get_value()
    inp, dense = nn.Input((3, 8, 8)), nn.Dense(2)
    head = nn.Model(inp, dense(nn.Flatten()(trunk(inp))))
    start = dense.kernel.get_value()
    head.compile(th.optim.SGD(0.1), "cross_entropy")
    head.fit(x, np.array([0, 1]), epochs=2, batch_size=2, verbose=0)
    np.testing.assert_array_equal(m.get_layer("conv1").kernel.get_value(), frozen)
    assert not np.array_equal(dense.kernel.get_value(), start)


def test_shared_weights_are_noted(tmp_path, caplog):
    proto = tmp_path / "siamese.prototxt"
    proto.write_text('layer { name: "data" type: "Input" top: "a" top: "b" input_param { shape { dim: 1 dim: 2 } } }\n'
                     'layer { name: "fa" type: "InnerProduct" bottom: "a" top: "fa" param { name: "w" } '
                     'inner_product_param { num_output: 2 } }\n'
                     'layer { name: "fb" type: "InnerProduct" bottom: "b" top: "fb" param { name: "w" } '
                     'inner_product_param { num_output: 2 } }\n')
    with caplog.at_level(logging.WARNING, logger="theon.caffe"):
        m = th.caffe.load(proto)
    assert "weights shared in Caffe are separate copies in theon: 'w' of fa, fb" in caplog.text
    assert len(m.inputs) == 2 and len(m.outputs) == 2
