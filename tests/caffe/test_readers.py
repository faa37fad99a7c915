"""The two readers on their own: protobuf's text format (prototxt) and binary wire format
(caffemodel), against what protoc accepts and encodes, and their errors."""
import math
import struct

import numpy as np
import pytest

from theon.caffe import CaffeFormatError
from theon.caffe.text import MAX_DEPTH, parse_text
from theon.caffe.wire import parse_message

from . import caffemodel as cm


def net(text):
    return parse_text(text, "NetParameter", "t.prototxt")


def layer0(text):
    return net(f"layer {{ {text} }}").list("layer")[0]


# ---- text format ---------------------------------------------------------------------------

def test_text_syntax_protoc_accepts():
    m = net("""# a comment
name: 'single' "-quoted" # adjacent strings join
layer <
  name: "a\\tb\\x41\\101\\"" , type: "Convolution";
  bottom: "x" top: "y"
  convolution_param: { num_output: 0x10 kernel_size: [3, 5] pad: 010 bias_term: False
                       weight_filler { std: .5 } bias_filler { value: 1e-2 } engine: 2 }
  param { lr_mult: 1. } param { lr_mult: 2f decay_mult: -inf }
  blobs { data: [1, -2.5e1, nan, inf] }
>
state { phase: TRAIN stage: "a" }
""")
    assert m.get("name") == "single-quoted"
    layer = m.list("layer")[0]
    assert layer.get("name") == 'a\tbAA"' and layer.get("type") == "Convolution"
    conv = layer.get("convolution_param")
    assert conv.get("num_output") == 16 and conv.list("kernel_size") == [3, 5] and conv.list("pad") == [8]
    assert conv.get("bias_term") is False and conv.get("engine") == "CUDNN"
    assert conv.get("weight_filler").get("std") == 0.5 and conv.get("bias_filler").get("value") == 0.01
    assert [p.get("lr_mult") for p in layer.list("param")] == [1.0, 2.0]
    assert layer.list("param")[1].get("decay_mult") == -math.inf
    data = layer.list("blobs")[0].list("data")
    assert data[:2] == [1.0, -25.0] and math.isnan(data[2]) and data[3] == math.inf
    assert m.get("state").get("phase") == "TRAIN"


def test_defaults_and_unknown_fields():
    layer = layer0('name: "p" type: "Pooling" pooling_param { pool: AVE } fork_param { x: 1 y { z: [1, 2] } }')
    p = layer.get("pooling_param")
    assert p.get("pool") == "AVE" and p.get("stride") == 1 and p.get("round_mode") == "CEIL"
    assert p.get("kernel_size") is None and not p.has("kernel_size")
    assert layer.unknown == ["fork_param"]


@pytest.mark.parametrize("text,message", [
    ('layer { name: "a" ', r"t.prototxt:1:19: expected a field name or '}', got the end of the file"),
    ('layer {\n  name: 3 }', r"t.prototxt:2:9: field 'name' takes a quoted string, got '3'"),
    ('layer { convolution_param { num_output: -1 } }', r"'num_output' holds -1, outside the range of uint32"),
    ('layer { convolution_param { num_output: 1.5 } }', r"'num_output' \(uint32\) takes a whole number, got '1.5'"),
    ('layer { pooling_param { pool: MEDIAN } }', r"'pool' takes one of MAX, AVE, STOCHASTIC, got 'MEDIAN'"),
    ('layer { convolution_param { bias_term: yes } }', r"'bias_term' takes true or false, got 'yes'"),
    ('layer { name: ["a", "b"] }', r"field 'name' of LayerParameter is not repeated but is given a list"),
    ('layer { name "a" }', r"expected ':' after 'name', got '\"a\"'"),
    ('layer { blobs: 3 }', r"field 'blobs' is a message: expected '\{', got '3'"),
    ('layer { name: "a\\q" }', r"unknown escape \\q"),
    ('name: "a" @', r"1:11: unexpected character '@'"),
    ('layer { } }', r"expected a field name, got '}'"),
    ('input_dim: 099', r"099 is not an octal number"),
    ('x { y: [[1]] }', r"a list inside a list"),
])
def test_text_errors_name_the_line_and_column(text, message):
    with pytest.raises(CaffeFormatError, match=message):
        net(text)


@pytest.mark.parametrize("opener", ["layer { ", "unknown_field { "])
def test_text_nesting_bombs_are_refused(opener):
    # known messages nest only as deep as the schema; unknown ones as deep as the file says
    bomb = "layer { convolution_param { weight_filler { " if opener == "layer { " else opener * (MAX_DEPTH + 5)
    if opener == "layer { ":
        bomb += "unknown { " * (MAX_DEPTH + 5)
    with pytest.raises(CaffeFormatError, match=f"nested more than {MAX_DEPTH} deep"):
        net(bomb)
    deep = "unknown_field { " * 100_000  # far past Python's recursion limit: refused, not crashed
    with pytest.raises(CaffeFormatError, match="nested more than"):
        net(deep)


# ---- wire format ---------------------------------------------------------------------------

def parse(data):
    return parse_message(data, "NetParameter", "w.caffemodel")


def test_wire_fields_packed_and_unpacked_and_unknown_skipped():
    blob_unpacked = cm.length_field(cm.BLOB_SHAPE, cm.length_field(1, cm.varint(2))) + b"".join(
        cm.key(cm.BLOB_DATA, 5) + struct.pack("<f", v) for v in (1.5, -2.0))
    layer = (cm.string_field(1, "conv") + cm.string_field(2, "Convolution")
             + cm.key(999, 5) + b"\0\0\0\0" + cm.key(998, 1) + b"\0" * 8 + cm.varint_field(997, 7)  # unknown
             + cm.length_field(996, b"\xff" * 10)
             + cm.length_field(7, blob_unpacked) + cm.length_field(7, cm.blob(np.arange(6.0).reshape(2, 3))))
    data = cm.string_field(1, "n") + cm.length_field(100, layer) + cm.varint_field(4, -3) + cm.varint_field(4, 5)
    m = parse(data)
    assert m.get("name") == "n" and m.list("input_dim") == [-3, 5]
    first, second = m.list("layer")[0].list("blobs")
    assert first.list("data") == [1.5, -2.0] and first.get("shape").list("dim") == [2]
    assert second.get("shape").list("dim") == [2, 3]
    np.testing.assert_array_equal(second.array("data", np.float32), np.arange(6.0))


def test_wire_packed_data_is_a_view_of_the_file():
    data = cm.length_field(100, cm.length_field(7, cm.blob(np.ones(1000))))
    arr = parse(data).list("layer")[0].list("blobs")[0].values["data"][0]
    assert isinstance(arr, np.ndarray) and arr.base is not None and not arr.flags.owndata


@pytest.mark.parametrize("data,message", [
    (b"\x0a\x05ab", r"declares 5 bytes but only 2 remain"),
    (b"\x0a", r"the data ends inside a number"),
    (b"\x20" + b"\xff" * 11, r"longer than 10 bytes"),
    (b"\x20" + b"\xff" * 9 + b"\x7f", r"overflows 64 bits"),
    (b"\x08\x01", r"field 'name' of NetParameter has wire type 0, expected a string"),
    (b"\x93\x03", r"wire type 3 \(group start\) is not used by Caffe"),
    (b"\x00\x01", r"field number 0 is not valid"),
    (b"\x0a\x02\xff\xfe", r"not valid UTF-8"),
    (b"\x20\x80\x80\x80\x80\x10", r"'input_dim' holds 4294967296, outside the range of int32"),
    (b"\xa2\x06\x07\x3a\x05\x2a\x03abc", r"packed field 'data' holds 3 bytes, not a whole number of floats"),
    (b"\xa2\x06\x04\x3a\x02\x2d\x00", r"the data ends inside a number \(truncated\)"),
])
def test_wire_errors(data, message):
    with pytest.raises(CaffeFormatError, match=message) as e:
        parse(data)
    assert str(e.value).startswith("w.caffemodel: ")


def test_wire_nesting_is_bounded_by_the_schema():
    # 10,000 messages nested in an unknown field: skipped as one, never recursed into
    inner = b""
    for _ in range(10_000):
        inner = cm.length_field(50, inner)
    m = parse(cm.length_field(100, cm.string_field(1, "a") + inner) + cm.string_field(1, "net"))
    assert m.get("name") == "net" and m.list("layer")[0].get("name") == "a"


def test_wire_errors_name_the_layer_and_field():
    blob = cm.length_field(cm.BLOB_SHAPE, cm.length_field(1, cm.varint(2))) + cm.key(cm.BLOB_DATA, 2) + \
        cm.varint(400) + b"\0" * 8
    data = cm.length_field(100, cm.string_field(1, "conv_7") + cm.length_field(7, blob))
    with pytest.raises(CaffeFormatError, match=r"declares 400 bytes but only 8 remain .*\(at byte \d+, in "
                                               r"layer\[0\] 'conv_7' > blobs\[0\] > data\[0\]\)"):
        parse(data)
