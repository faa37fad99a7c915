"""Neural networks: the functional operators (th.nn.conv2d, th.nn.cross_entropy, ...), and
layers and models (nn.Dense, nn.Conv2D, nn.Sequential, nn.Model, ...).

Layouts are channels first (NCHW), as th.nn.conv2d. Dense kernels are (in, out); convolution
kernels are torch's (out, in / groups, *kernel).
"""
from ..ops.nn import *  # noqa: F401,F403
from ..ops.nn import __all__ as _functional
from ..ops.elementwise import elu, gelu, leaky_relu, relu, sigmoid, silu, softplus, tanh  # noqa: F401
from . import activations, initializers  # noqa: F401
from .layer import Input, Layer, layer_from_config  # noqa: F401
from .layers_core import (Activation, Add, Concatenate, Dense, Dropout, Embedding, Flatten,  # noqa: F401
                          Reshape)
from .layers_conv import Conv1D, Conv2D, Conv2DTranspose, Conv3D, DepthwiseConv2D  # noqa: F401
from .layers_norm import BatchNorm, LayerNorm  # noqa: F401
from .layers_sync_norm import SyncBatchNorm  # noqa: F401
from .layers_pool import AvgPool2D, GlobalAvgPool2D, MaxPool2D  # noqa: F401
from .layers_rnn import GRU, LSTM, Bidirectional, SimpleRNN  # noqa: F401
from .layers_activation import ELU, PReLU, ReLU, Softmax  # noqa: F401
from .layers_attention import MultiHeadAttention  # noqa: F401
from .layers_channel_norm import GroupNorm, LocalResponseNormalization  # noqa: F401
from .layers_conv_separable import SeparableConv2D  # noqa: F401
from .layers_pool_global import GlobalAvgPool1D, GlobalMaxPool1D, GlobalMaxPool2D  # noqa: F401
from .layers_spatial import Cropping2D, UpSampling2D, ZeroPadding2D  # noqa: F401
from .model import Model, ModelLayer, Sequential, load_model, model_from_config  # noqa: F401
from .trainer import Trainer  # noqa: F401
from . import callbacks, losses, metrics  # noqa: F401
from .dbn import DBN, RBM  # noqa: F401  (dbn.py takes RBM from rbm.py)

_activations = ["elu", "gelu", "leaky_relu", "relu", "sigmoid", "silu", "softplus", "tanh"]
_layers = ["Layer", "Input", "Dense", "Flatten", "Reshape", "Activation", "Dropout", "Embedding", "Add",
           "Concatenate", "Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "DepthwiseConv2D", "MaxPool2D",
           "AvgPool2D", "GlobalAvgPool2D", "BatchNorm", "LayerNorm", "Model", "ModelLayer", "Sequential",
           "SimpleRNN", "LSTM", "GRU", "Bidirectional",
           "ReLU", "ELU", "Softmax", "PReLU", "SeparableConv2D", "GlobalMaxPool1D", "GlobalMaxPool2D",
           "GlobalAvgPool1D", "GroupNorm", "LocalResponseNormalization", "UpSampling2D", "ZeroPadding2D",
           "Cropping2D", "MultiHeadAttention",
           "model_from_config", "load_model", "layer_from_config", "Trainer", "activations", "initializers",
           "callbacks", "losses", "metrics"]

__all__ = [*_functional, *_activations, *_layers, "RBM", "DBN"]

