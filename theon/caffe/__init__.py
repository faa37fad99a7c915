"""Caffe models in theon: `th.caffe.load("deploy.prototxt", "weights.caffemodel")` is an
`nn.Model` whose layers carry the Caffe layers' names.

Both files are read by theon itself (no Caffe, no protobuf package, nothing in a file is
ever executed): the text prototxt by a text-format parser and the binary caffemodel by a
wire-format reader, both following a table of Caffe's schema (schema.py). The net is the
TEST-phase one: training-only layers (losses, accuracy) are left out with a logged note,
and a data layer's first top becomes a model input (its labels are dropped).

Imported layer types: Input and data layers (shapes), Convolution (group, dilation, pad,
stride, their _h/_w forms; 1 to 3 spatial axes), Deconvolution, Pooling (MAX/AVE, Caffe's
ceil rounding and last-window clipping, global pooling), InnerProduct (axis, transpose),
ReLU (negative_slope), PReLU, Sigmoid, TanH, ELU, BatchNorm (with its scale-factor blob),
Scale and Bias (one or two bottoms), Eltwise (SUM with coefficients, PROD, MAX), Concat,
Slice, Split, Flatten, Reshape, Softmax, Dropout, LRN (across and within channels),
Power. Layer names with '/' become names with '.', as theon's layer names cannot hold '/'.
"""
from __future__ import annotations

from .convert import build_model, unsupported_layers
from .errors import CaffeError, CaffeFormatError, MissingInputShapeError, UnsupportedLayersError
from .net import CaffeNet, read_caffemodel, read_net, read_prototxt

__all__ = ["load", "read_net", "build_model", "read_prototxt", "read_caffemodel", "CaffeNet", "CaffeError",
           "CaffeFormatError", "MissingInputShapeError", "UnsupportedLayersError"]


def load(prototxt, caffemodel=None, input_shape=None):
    """The Caffe net of `prototxt` (a text .prototxt file) with the weights of `caffemodel`
    (a binary .caffemodel file; without it, weights come from blobs in the prototxt or
    are freshly initialised) as a functional `nn.Model`.

    input_shape: the shape of each input without the batch dim, where the file does not
    say it or to override it: a tuple for a net with one input, else {blob name: shape}.
    The batch dim is left free.

    Raises UnsupportedLayersError listing every layer theon cannot import, and CaffeError
    naming the file and layer for anything else wrong (CaffeFormatError for a file that is
    not well formed).
    """
    return build_model(read_net(prototxt, caffemodel, input_shape))
