"""Keras models in theon: `th.keras.load("model.h5")` is an `nn.Model` whose layers carry
the Keras layers' names.

Reads HDF5 full models (Keras 2's `model.save`, Keras 3's legacy .h5: the config and the
weights) and Keras 3 `.keras` files, Sequential and functional, without Keras: the config
is JSON and the weights are read with h5py (the `keras` extra). Nothing in a file is
executed; a Lambda layer (Python code) is refused.

Keras is channels-last and theon channels-first: the model is converted once, at import
(kernels transposed; a KerasPermute layer only where a channels-first tensor meets a
layer that needs Keras' order, such as Flatten). So the imported model takes and gives
images channels-first, (N, C, H, W) for Keras' (N, H, W, C); inputs and outputs of lower
rank ((N, steps, features), (N, features)) keep Keras' shape. Intermediate outputs of
convolution-like layers are channels-first too.

Imported layers: InputLayer, Conv1D/2D (strides, dilation, groups, 'valid'/'same'),
SeparableConv2D, DepthwiseConv2D, Dense, BatchNormalization (over the channels),
Activation, ReLU, LeakyReLU, ELU, PReLU (shared_axes), Softmax, MaxPooling2D,
AveragePooling2D, MaxPooling1D, AveragePooling1D, Global{Average,Max}Pooling{1,2}D,
ZeroPadding2D, Add, Concatenate,
Multiply, Subtract, Average, Maximum, Minimum, Dropout (and SpatialDropout, noise layers:
identities at inference), Flatten, Reshape, Permute, Embedding, LSTM, GRU (reset_after)
and SimpleRNN.
"""
from __future__ import annotations

from pathlib import Path

from . import convert_layers  # noqa: F401  (registers the layer converters)
from .convert import build_model, unsupported_layers
from .errors import KerasError, KerasFormatError, UnsupportedLayersError
from .model_config import model_spec
from .reader import KerasFile, read_keras_file

__all__ = ["load", "read_keras_file", "KerasFile", "KerasError", "KerasFormatError", "UnsupportedLayersError",
           "unsupported_layers"]

# the most bytes one weight array may declare, beyond the file's own size: a hostile file
# declaring a huge compressed dataset fails before anything is allocated
MIN_ARRAY_LIMIT = 256 * 2**20


def load(path):
    """The Keras model in `path` (.h5/.hdf5 written by model.save, or .keras) as a
    functional `nn.Model` (see the module docstring for layouts and layers).

    Raises UnsupportedLayersError listing every layer theon cannot import, and
    KerasError naming the file and layer for anything else (KerasFormatError for a file
    that is not a well-formed Keras file). A failed load changes nothing.
    """
    with read_keras_file(path) as f:
        spec = model_spec(f.path, f.config)
        limit = max(MIN_ARRAY_LIMIT, 16 * Path(f.path).stat().st_size)
        return build_model(f.path, spec, f.weights, limit)
