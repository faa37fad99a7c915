"""The nsfw package's ResNet-50-1by2 (deploy.prototxt + caffemodel, Yahoo's open_nsfw) imported
by theon against OpenCV's Caffe importer (cv2.dnn.readNetFromCaffe, fusion off so every layer
keeps its own output): the output and the outputs of a convolution, a residual block and the
last pooling, within 1e-4 relative; and what a user does with the imported model."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import theon as th
from theon import nn

from .caffemodel import nsfw_files

# (theon/Caffe layer, what it is)
PROBES = ["conv_1", "bn_1", "scale_1", "relu_1", "pool1", "eltwise_stage0_block0", "relu_stage0_block0",
          "eltwise_stage2_block3", "pool", "fc_nsfw", "prob"]


@pytest.fixture(scope="module")
def files():
    return nsfw_files()


@pytest.fixture(scope="module")
def model(files):
    return th.caffe.load(*files)


@pytest.fixture(scope="module")
def images():
    """Two 224x224 BGR images with the model's mean subtracted, as the nsfw package feeds it."""
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0, 255, (2, 3, 224, 224)).astype(np.float32)
    return pixels - np.array([104, 117, 123], np.float32)[None, :, None, None]


@pytest.fixture(scope="module")
def theirs(files, images):
    net = cv2.dnn.readNetFromCaffe(str(files[0]), str(files[1]))
    net.enableFusion(False)
    net.setInput(images)
    return dict(zip(PROBES, net.forward(PROBES)))


@pytest.fixture(scope="module")
def ours(model, images):
    f = th.function(model.inputs, [model.get_layer(n).output for n in PROBES])
    return dict(zip(PROBES, f(images)))


def _close(got, want, rtol=1e-4):
    assert got.shape == want.shape
    scale = np.abs(want).max()
    assert scale > 0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("name", PROBES)
def test_layer_outputs_match_opencv(name, ours, theirs):
    _close(ours[name], theirs[name])


def test_probabilities_are_the_models(ours, theirs):
    prob = ours["prob"]
    np.testing.assert_allclose(prob.sum(1), 1.0, rtol=1e-6)
    assert np.argmax(prob, 1).tolist() == np.argmax(theirs["prob"], 1).tolist()


def test_in_place_layers_keep_each_layers_own_output(ours):
    """conv_1, bn_1, scale_1 and relu_1 all write the blob 'conv_1' in Caffe; in theon each
    layer's output is its own."""
    conv, bn, scale, relu = (ours[n] for n in ("conv_1", "bn_1", "scale_1", "relu_1"))
    assert conv.min() < 0 and relu.min() == 0
    np.testing.assert_array_equal(relu, np.maximum(scale, 0))
    assert not np.allclose(conv, bn) and not np.allclose(bn, scale)


def test_first_convolution_against_torch_from_the_raw_weights(model, images, ours):
    layer = model.get_layer("conv_1")
    w, b = (torch.from_numpy(layer.param(k).get_value()) for k in ("kernel", "bias"))
    want = F.conv2d(torch.from_numpy(images), w, b, stride=2, padding=3).numpy()
    _close(ours["conv_1"], want, rtol=1e-5)


def test_model_structure_names_and_weights(model):
    assert model.name == "ResNet_50_1by2_nsfw"
    assert [v.name for v in model.inputs] == ["data"] and model.input_shape == (3, 224, 224)
    assert model.output_shape() == (2,)
    names = [layer.name for layer in model.layers]
    assert names[:5] == ["conv_1", "bn_1", "scale_1", "relu_1", "pool1"] and names[-1] == "prob"
    assert len(names) == 228  # every layer of the prototxt but the Input
    conv = model.get_layer("conv_1")
    assert isinstance(conv, nn.Conv2D) and conv.kernel.type.shape == (64, 3, 7, 7)
    assert [p.name for p in model.get_layer("bn_1").params] == ["bn_1/running_mean", "bn_1/running_var"]
    fc = model.get_layer("fc_nsfw")
    assert fc.kernel.type.shape == (1024, 2)  # theon's (in, out), the transpose of Caffe's blob
    assert 5_000_000 < model.count_params() < 7_000_000


def test_predict_cut_and_freeze(model, images, ours):
    np.testing.assert_allclose(model.predict(images), ours["prob"], rtol=1e-5, atol=1e-6)
    trunk = nn.Model(model.inputs, model.get_layer("pool").output)
    assert trunk.output_shape() == (1024, 1, 1)
    np.testing.assert_allclose(trunk.predict(images), ours["pool"], rtol=1e-5, atol=1e-6)
    trunk.trainable = False
    assert trunk.trainable_params == [] and not model.get_layer("conv_1").trainable
    model.trainable = True
    assert model.get_layer("conv_1").trainable
