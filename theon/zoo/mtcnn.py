"""MTCNN's three face-detection stages (Zhang et al. 2016), layer for layer as the
`facenet-pytorch` package defines them, so its `pnet.pt`, `rnet.pt` and `onet.pt` state
dicts load by name. Each model returns what facenet-pytorch's nets return: (box
regression, face probability) for P- and R-Net, (box regression, landmarks, face
probability) for O-Net. Inputs are (N, 3, H, W) images scaled to [-1, 1]."""
from __future__ import annotations

from .. import nn
from .layers import CeilMaxPool2D, Permute
from .weights import apply_weights

__all__ = ["pnet", "rnet", "onet"]


def _conv_prelu(h, filters, kernel, index):
    h = nn.Conv2D(filters, kernel, name=f"conv{index}")(h)
    return nn.PReLU(name=f"prelu{index}")(h)


def pnet(weights=None, input_shape=(3, None, None)) -> nn.Model:
    """The proposal net: fully convolutional, any image size of at least 12x12; outputs
    (N, 4, h, w) box offsets and (N, 2, h, w) face probabilities (softmax over axis 1)."""
    x = nn.Input(input_shape, name="image")
    h = _conv_prelu(x, 10, 3, 1)
    h = CeilMaxPool2D(2, 2, name="pool1")(h)
    h = _conv_prelu(h, 16, 3, 2)
    h = _conv_prelu(h, 32, 3, 3)
    prob = nn.Softmax(axis=1, name="softmax4_1")(nn.Conv2D(2, 1, name="conv4_1")(h))
    box = nn.Conv2D(4, 1, name="conv4_2")(h)
    return apply_weights(nn.Model(x, [box, prob], name="pnet"), weights)


def _dense_trunk(h, units, dense_index):
    """torch's x.permute(0, 3, 2, 1) and flatten (facenet's channels-last order), then
    Dense + PReLU."""
    h = nn.Flatten()(Permute((3, 2, 1), name="permute")(h))
    h = nn.Dense(units, name=f"dense{dense_index}")(h)
    return nn.PReLU(name=f"prelu{dense_index}")(h)


def rnet(weights=None) -> nn.Model:
    """The refinement net on (N, 3, 24, 24) crops: (N, 4) box offsets, (N, 2) probabilities."""
    x = nn.Input((3, 24, 24), name="image")
    h = _conv_prelu(x, 28, 3, 1)
    h = CeilMaxPool2D(3, 2, name="pool1")(h)
    h = _conv_prelu(h, 48, 3, 2)
    h = CeilMaxPool2D(3, 2, name="pool2")(h)
    h = _conv_prelu(h, 64, 2, 3)
    h = _dense_trunk(h, 128, 4)
    prob = nn.Softmax(axis=1, name="softmax5_1")(nn.Dense(2, name="dense5_1")(h))
    box = nn.Dense(4, name="dense5_2")(h)
    return apply_weights(nn.Model(x, [box, prob], name="rnet"), weights)


def onet(weights=None) -> nn.Model:
    """The output net on (N, 3, 48, 48) crops: (N, 4) box offsets, (N, 10) landmarks (five
    x then five y), (N, 2) probabilities."""
    x = nn.Input((3, 48, 48), name="image")
    h = _conv_prelu(x, 32, 3, 1)
    h = CeilMaxPool2D(3, 2, name="pool1")(h)
    h = _conv_prelu(h, 64, 3, 2)
    h = CeilMaxPool2D(3, 2, name="pool2")(h)
    h = _conv_prelu(h, 64, 3, 3)
    h = CeilMaxPool2D(2, 2, name="pool3")(h)
    h = _conv_prelu(h, 128, 2, 4)
    h = _dense_trunk(h, 256, 5)
    prob = nn.Softmax(axis=1, name="softmax6_1")(nn.Dense(2, name="dense6_1")(h))
    box = nn.Dense(4, name="dense6_2")(h)
    landmarks = nn.Dense(10, name="dense6_3")(h)
    return apply_weights(nn.Model(x, [box, landmarks, prob], name="onet"), weights)
