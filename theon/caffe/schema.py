"""The part of Caffe's message schema (caffe.proto, proto2) that the importer reads, as a
table: for each message, its fields' numbers, names, types and defaults. Both readers (the
binary wire format of .caffemodel files and the text format of .prototxt files) follow it;
a field not listed here is skipped by the binary reader and kept aside by the text reader.

The numbers and defaults are those of BVLC Caffe's src/caffe/proto/caffe.proto. int32
and int64 are read the same way (a varint); the readers check the range of each.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Field", "MessageType", "Message", "MESSAGES", "ENUMS", "V1_LAYER_TYPES"]

INTEGER_RANGES = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1),
                  "uint32": (0, 2**32 - 1), "uint64": (0, 2**64 - 1)}
VARINT_KINDS = ("int32", "int64", "uint32", "uint64", "bool", "enum")


@dataclass(frozen=True)
class Field:
    number: int
    name: str
    kind: str  # int32 int64 uint32 uint64 float double bool string bytes enum message
    repeated: bool = False
    default: object = None
    target: str | None = None  # the enum's or message's name


class MessageType:
    def __init__(self, name: str, fields):
        self.name = name
        self.by_number = {f.number: f for f in fields}
        self.by_name = {f.name: f for f in fields}


class Message:
    """A parsed message: each field's values in file order (a singular field's value is
    its last one, as protobuf reads it). Packed numbers are NumPy arrays in the list.
    `unknown` holds the names of fields the schema does not list (text format only)."""
    __slots__ = ("type", "values", "unknown")

    def __init__(self, mtype: MessageType):
        self.type = mtype
        self.values: dict = {}
        self.unknown: list = []

    def add(self, name: str, value) -> None:
        self.values.setdefault(name, []).append(value)

    def has(self, name: str) -> bool:
        return bool(self.values.get(name))

    def get(self, name: str):
        """The field's value, or its default (None for an unset message)."""
        values = self.values.get(name)
        if values:
            last = values[-1]
            return last[-1].item() if isinstance(last, np.ndarray) else last
        return self.type.by_name[name].default

    def list(self, name: str) -> list:
        """Every value of a repeated field, as Python values."""
        out = []
        for v in self.values.get(name, ()):
            out.extend(v.tolist() if isinstance(v, np.ndarray) else [v])
        return out

    def count(self, name: str) -> int:
        return sum(v.size if isinstance(v, np.ndarray) else 1 for v in self.values.get(name, ()))

    def array(self, name: str, dtype) -> np.ndarray:
        """A repeated number field as one NumPy array (packed chunks joined)."""
        parts = [np.asarray(v, dtype=dtype).reshape(-1) for v in self.values.get(name, ())]
        if not parts:
            return np.zeros(0, dtype)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def __repr__(self) -> str:
        return f"<{self.type.name} {sorted(self.values)}>"


def _f(number, name, kind, default=None, target=None):
    return Field(number, name, kind, False, default, target)


def _r(number, name, kind, target=None):
    return Field(number, name, kind, True, None, target)


def _engine(number):
    return _f(number, "engine", "enum", "DEFAULT", "Engine")


ENUMS = {
    "Phase": {"TRAIN": 0, "TEST": 1},
    "Engine": {"DEFAULT": 0, "CAFFE": 1, "CUDNN": 2},
    "DimCheckMode": {"STRICT": 0, "PERMISSIVE": 1},
    "VarianceNorm": {"FAN_IN": 0, "FAN_OUT": 1, "AVERAGE": 2},
    "PoolMethod": {"MAX": 0, "AVE": 1, "STOCHASTIC": 2},
    "RoundMode": {"CEIL": 0, "FLOOR": 1},
    "EltwiseOp": {"PROD": 0, "SUM": 1, "MAX": 2},
    "NormRegion": {"ACROSS_CHANNELS": 0, "WITHIN_CHANNEL": 1},
    "DB": {"LEVELDB": 0, "LMDB": 1},
    "V1LayerType": {
        "NONE": 0, "ABSVAL": 35, "ACCURACY": 1, "ARGMAX": 30, "BNLL": 2, "CONCAT": 3,
        "CONTRASTIVE_LOSS": 37, "CONVOLUTION": 4, "DATA": 5, "DECONVOLUTION": 39, "DROPOUT": 6,
        "DUMMY_DATA": 32, "EUCLIDEAN_LOSS": 7, "ELTWISE": 25, "EXP": 38, "FLATTEN": 8,
        "HDF5_DATA": 9, "HDF5_OUTPUT": 10, "HINGE_LOSS": 28, "IM2COL": 11, "IMAGE_DATA": 12,
        "INFOGAIN_LOSS": 13, "INNER_PRODUCT": 14, "LRN": 15, "MEMORY_DATA": 29,
        "MULTINOMIAL_LOGISTIC_LOSS": 16, "MVN": 34, "POOLING": 17, "POWER": 26, "RELU": 18,
        "SIGMOID": 19, "SIGMOID_CROSS_ENTROPY_LOSS": 27, "SILENCE": 36, "SOFTMAX": 20,
        "SOFTMAX_LOSS": 21, "SPLIT": 22, "SLICE": 33, "TANH": 23, "WINDOW_DATA": 24, "THRESHOLD": 31,
    },
}

# a V1 layer's type enum -> the type name of a new-style layer (as Caffe upgrades them)
V1_LAYER_TYPES = {
    "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax", "BNLL": "BNLL", "CONCAT": "Concat",
    "CONTRASTIVE_LOSS": "ContrastiveLoss", "CONVOLUTION": "Convolution", "DATA": "Data",
    "DECONVOLUTION": "Deconvolution", "DROPOUT": "Dropout", "DUMMY_DATA": "DummyData",
    "EUCLIDEAN_LOSS": "EuclideanLoss", "ELTWISE": "Eltwise", "EXP": "Exp", "FLATTEN": "Flatten",
    "HDF5_DATA": "HDF5Data", "HDF5_OUTPUT": "HDF5Output", "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col",
    "IMAGE_DATA": "ImageData", "INFOGAIN_LOSS": "InfogainLoss", "INNER_PRODUCT": "InnerProduct",
    "LRN": "LRN", "MEMORY_DATA": "MemoryData", "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss",
    "MVN": "MVN", "POOLING": "Pooling", "POWER": "Power", "RELU": "ReLU", "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss", "SILENCE": "Silence", "SOFTMAX": "Softmax",
    "SOFTMAX_LOSS": "SoftmaxWithLoss", "SPLIT": "Split", "SLICE": "Slice", "TANH": "TanH",
    "WINDOW_DATA": "WindowData", "THRESHOLD": "Threshold",
}

_FIELDS = {
    "BlobShape": [_r(1, "dim", "int64")],
    "BlobProto": [
        _f(7, "shape", "message", target="BlobShape"), _r(5, "data", "float"), _r(6, "diff", "float"),
        _r(8, "double_data", "double"), _r(9, "double_diff", "double"),
        _f(1, "num", "int32", 0), _f(2, "channels", "int32", 0), _f(3, "height", "int32", 0),
        _f(4, "width", "int32", 0)],
    "NetParameter": [
        _f(1, "name", "string", ""), _r(3, "input", "string"), _r(8, "input_shape", "message", "BlobShape"),
        _r(4, "input_dim", "int32"), _f(5, "force_backward", "bool", False),
        _f(6, "state", "message", target="NetState"), _f(7, "debug_info", "bool", False),
        _r(100, "layer", "message", "LayerParameter"), _r(2, "layers", "message", "V1LayerParameter")],
    "NetState": [_f(1, "phase", "enum", "TEST", "Phase"), _f(2, "level", "int32", 0), _r(3, "stage", "string")],
    "NetStateRule": [
        _f(1, "phase", "enum", None, "Phase"), _f(2, "min_level", "int32"), _f(3, "max_level", "int32"),
        _r(4, "stage", "string"), _r(5, "not_stage", "string")],
    "ParamSpec": [
        _f(1, "name", "string", ""), _f(2, "share_mode", "enum", "STRICT", "DimCheckMode"),
        _f(3, "lr_mult", "float", 1.0), _f(4, "decay_mult", "float", 1.0)],
    "FillerParameter": [
        _f(1, "type", "string", "constant"), _f(2, "value", "float", 0.0), _f(3, "min", "float", 0.0),
        _f(4, "max", "float", 1.0), _f(5, "mean", "float", 0.0), _f(6, "std", "float", 1.0),
        _f(7, "sparse", "int32", -1), _f(8, "variance_norm", "enum", "FAN_IN", "VarianceNorm")],
    "TransformationParameter": [
        _f(1, "scale", "float", 1.0), _f(2, "mirror", "bool", False), _f(3, "crop_size", "uint32", 0),
        _f(4, "mean_file", "string", ""), _r(5, "mean_value", "float"), _f(6, "force_color", "bool", False),
        _f(7, "force_gray", "bool", False)],
    "ConvolutionParameter": [
        _f(1, "num_output", "uint32", 0), _f(2, "bias_term", "bool", True), _r(3, "pad", "uint32"),
        _r(4, "kernel_size", "uint32"), _r(6, "stride", "uint32"), _r(18, "dilation", "uint32"),
        _f(9, "pad_h", "uint32", 0), _f(10, "pad_w", "uint32", 0), _f(11, "kernel_h", "uint32"),
        _f(12, "kernel_w", "uint32"), _f(13, "stride_h", "uint32"), _f(14, "stride_w", "uint32"),
        _f(5, "group", "uint32", 1), _f(7, "weight_filler", "message", target="FillerParameter"),
        _f(8, "bias_filler", "message", target="FillerParameter"), _engine(15), _f(16, "axis", "int32", 1),
        _f(17, "force_nd_im2col", "bool", False)],
    "PoolingParameter": [
        _f(1, "pool", "enum", "MAX", "PoolMethod"), _f(4, "pad", "uint32", 0), _f(9, "pad_h", "uint32", 0),
        _f(10, "pad_w", "uint32", 0), _f(2, "kernel_size", "uint32"), _f(5, "kernel_h", "uint32"),
        _f(6, "kernel_w", "uint32"), _f(3, "stride", "uint32", 1), _f(7, "stride_h", "uint32"),
        _f(8, "stride_w", "uint32"), _engine(11), _f(12, "global_pooling", "bool", False),
        _f(13, "round_mode", "enum", "CEIL", "RoundMode")],
    "InnerProductParameter": [
        _f(1, "num_output", "uint32", 0), _f(2, "bias_term", "bool", True),
        _f(3, "weight_filler", "message", target="FillerParameter"),
        _f(4, "bias_filler", "message", target="FillerParameter"), _f(5, "axis", "int32", 1),
        _f(6, "transpose", "bool", False)],
    "ReLUParameter": [_f(1, "negative_slope", "float", 0.0), _engine(2)],
    "PReLUParameter": [_f(1, "filler", "message", target="FillerParameter"),
                       _f(2, "channel_shared", "bool", False)],
    "ELUParameter": [_f(1, "alpha", "float", 1.0)],
    "SigmoidParameter": [_engine(1)],
    "TanHParameter": [_engine(1)],
    "BatchNormParameter": [_f(1, "use_global_stats", "bool"), _f(2, "moving_average_fraction", "float", 0.999),
                           _f(3, "eps", "float", 1e-5)],
    "ScaleParameter": [
        _f(1, "axis", "int32", 1), _f(2, "num_axes", "int32", 1),
        _f(3, "filler", "message", target="FillerParameter"), _f(4, "bias_term", "bool", False),
        _f(5, "bias_filler", "message", target="FillerParameter")],
    "BiasParameter": [_f(1, "axis", "int32", 1), _f(2, "num_axes", "int32", 1),
                      _f(3, "filler", "message", target="FillerParameter")],
    "EltwiseParameter": [_f(1, "operation", "enum", "SUM", "EltwiseOp"), _r(2, "coeff", "float"),
                         _f(3, "stable_prod_grad", "bool", True)],
    "ConcatParameter": [_f(2, "axis", "int32", 1), _f(1, "concat_dim", "uint32", 1)],
    "SliceParameter": [_f(3, "axis", "int32", 1), _r(2, "slice_point", "uint32"),
                       _f(1, "slice_dim", "uint32", 1)],
    "FlattenParameter": [_f(1, "axis", "int32", 1), _f(2, "end_axis", "int32", -1)],
    "ReshapeParameter": [_f(1, "shape", "message", target="BlobShape"), _f(2, "axis", "int32", 0),
                         _f(3, "num_axes", "int32", -1)],
    "SoftmaxParameter": [_engine(1), _f(2, "axis", "int32", 1)],
    "DropoutParameter": [_f(1, "dropout_ratio", "float", 0.5)],
    "LRNParameter": [
        _f(1, "local_size", "uint32", 5), _f(2, "alpha", "float", 1.0), _f(3, "beta", "float", 0.75),
        _f(4, "norm_region", "enum", "ACROSS_CHANNELS", "NormRegion"), _f(5, "k", "float", 1.0), _engine(6)],
    "PowerParameter": [_f(1, "power", "float", 1.0), _f(2, "scale", "float", 1.0), _f(3, "shift", "float", 0.0)],
    "InputParameter": [_r(1, "shape", "message", "BlobShape")],
    "DataParameter": [_f(1, "source", "string", ""), _f(4, "batch_size", "uint32"),
                      _f(8, "backend", "enum", "LEVELDB", "DB"), _f(5, "crop_size", "uint32", 0)],
    "ImageDataParameter": [_f(1, "source", "string", ""), _f(4, "batch_size", "uint32", 1),
                           _f(9, "new_height", "uint32", 0), _f(10, "new_width", "uint32", 0),
                           _f(11, "is_color", "bool", True), _f(5, "crop_size", "uint32", 0)],
    "MemoryDataParameter": [_f(1, "batch_size", "uint32"), _f(2, "channels", "uint32"),
                            _f(3, "height", "uint32"), _f(4, "width", "uint32")],
    "DummyDataParameter": [
        _r(1, "data_filler", "message", "FillerParameter"), _r(6, "shape", "message", "BlobShape"),
        _r(2, "num", "uint32"), _r(3, "channels", "uint32"), _r(4, "height", "uint32"),
        _r(5, "width", "uint32")],
}

# the layer-type-specific parameter messages, by field name (shared by both layer messages)
_LAYER_PARAMS = {
    "transform_param": "TransformationParameter", "batch_norm_param": "BatchNormParameter",
    "bias_param": "BiasParameter", "concat_param": "ConcatParameter",
    "convolution_param": "ConvolutionParameter", "data_param": "DataParameter",
    "dropout_param": "DropoutParameter", "dummy_data_param": "DummyDataParameter",
    "eltwise_param": "EltwiseParameter", "elu_param": "ELUParameter", "flatten_param": "FlattenParameter",
    "image_data_param": "ImageDataParameter", "inner_product_param": "InnerProductParameter",
    "input_param": "InputParameter", "lrn_param": "LRNParameter", "memory_data_param": "MemoryDataParameter",
    "pooling_param": "PoolingParameter", "power_param": "PowerParameter", "prelu_param": "PReLUParameter",
    "relu_param": "ReLUParameter", "reshape_param": "ReshapeParameter", "scale_param": "ScaleParameter",
    "sigmoid_param": "SigmoidParameter", "softmax_param": "SoftmaxParameter", "slice_param": "SliceParameter",
    "tanh_param": "TanHParameter",
}
_NEW_PARAM_NUMBERS = {
    "transform_param": 100, "batch_norm_param": 139, "bias_param": 141, "concat_param": 104,
    "convolution_param": 106, "data_param": 107, "dropout_param": 108, "dummy_data_param": 109,
    "eltwise_param": 110, "elu_param": 140, "flatten_param": 135, "image_data_param": 115,
    "inner_product_param": 117, "input_param": 143, "lrn_param": 118, "memory_data_param": 119,
    "pooling_param": 121, "power_param": 122, "prelu_param": 131, "relu_param": 123, "reshape_param": 133,
    "scale_param": 142, "sigmoid_param": 124, "softmax_param": 125, "slice_param": 126, "tanh_param": 127,
}
_V1_PARAM_NUMBERS = {
    "transform_param": 36, "concat_param": 9, "convolution_param": 10, "data_param": 11,
    "dropout_param": 12, "dummy_data_param": 26, "eltwise_param": 24, "image_data_param": 15,
    "inner_product_param": 17, "lrn_param": 18, "memory_data_param": 22, "pooling_param": 19,
    "power_param": 21, "relu_param": 30, "sigmoid_param": 38, "softmax_param": 39, "slice_param": 31,
    "tanh_param": 37,
}

_FIELDS["LayerParameter"] = [
    _f(1, "name", "string", ""), _f(2, "type", "string", ""), _r(3, "bottom", "string"), _r(4, "top", "string"),
    _f(10, "phase", "enum", None, "Phase"), _r(5, "loss_weight", "float"), _r(6, "param", "message", "ParamSpec"),
    _r(7, "blobs", "message", "BlobProto"), _r(11, "propagate_down", "bool"),
    _r(8, "include", "message", "NetStateRule"), _r(9, "exclude", "message", "NetStateRule"),
    *(_f(n, name, "message", target=_LAYER_PARAMS[name]) for name, n in _NEW_PARAM_NUMBERS.items())]
_FIELDS["V1LayerParameter"] = [
    _r(2, "bottom", "string"), _r(3, "top", "string"), _f(4, "name", "string", ""),
    _r(32, "include", "message", "NetStateRule"), _r(33, "exclude", "message", "NetStateRule"),
    _f(5, "type", "enum", "NONE", "V1LayerType"), _r(6, "blobs", "message", "BlobProto"),
    _r(1001, "param", "string"), _r(7, "blobs_lr", "float"), _r(8, "weight_decay", "float"),
    _r(35, "loss_weight", "float"),
    # V0's nested layer: only detected, to say that such files need upgrading first
    _f(1, "layer", "message", target="V0LayerParameter"),
    *(_f(n, name, "message", target=_LAYER_PARAMS[name]) for name, n in _V1_PARAM_NUMBERS.items())]
_FIELDS["V0LayerParameter"] = [_f(1, "name", "string", ""), _f(2, "type", "string", "")]

MESSAGES = {name: MessageType(name, fields) for name, fields in _FIELDS.items()}
