"""Bad Caffe files: mismatched prototxt/caffemodel pairs, unsupported layers, broken nets and
hostile files. Each is a clear theon error naming the file and the layer, raised quickly
and within bounded memory; fuzzing the real model and a small one lets nothing else out."""
import time
import tracemalloc

import numpy as np
import pytest

import theon as th
from theon.caffe import CaffeError, CaffeFormatError, UnsupportedLayersError
from theon.caffe.convert import MAX_FRESH_VALUES

from . import caffemodel as cm
from .caffemodel import nsfw_files

RNG = np.random.default_rng(5)

NET = """name: "small"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" convolution_param { num_output: 4 kernel_size: 3 } }
layer { name: "bn1" type: "BatchNorm" bottom: "conv1" top: "conv1" }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "fc" type: "InnerProduct" bottom: "pool1" top: "fc" inner_product_param { num_output: 5 } }
layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }
"""
TYPES = {"conv1": "Convolution", "bn1": "BatchNorm", "fc": "InnerProduct"}


def weights():
    return {"conv1": [RNG.standard_normal((4, 3, 3, 3)), RNG.standard_normal(4)],
            "bn1": [RNG.standard_normal(4), RNG.uniform(1, 2, 4), np.ones(1)],
            "fc": [RNG.standard_normal((5, 36)), RNG.standard_normal(5)]}


@pytest.fixture
def files(tmp_path):
    proto = tmp_path / "small.prototxt"
    proto.write_text(NET)
    return proto, cm.caffemodel(weights(), tmp_path / "small.caffemodel", types=TYPES)


def test_the_small_net_loads(files):
    m = th.caffe.load(*files)
    assert m.output_shape() == (5,)


# ---- mismatched pairs ------------------------------------------------------------------------

def test_missing_and_misshaped_blobs_are_listed_together(tmp_path):
    proto = tmp_path / "small.prototxt"
    proto.write_text(NET)
    w = weights()
    del w["bn1"]
    w["conv1"][0] = RNG.standard_normal((4, 3, 5, 5))
    w["fc"] = w["fc"][:1]
    model = cm.caffemodel(w, tmp_path / "other.caffemodel", types=TYPES)
    with pytest.raises(CaffeError) as e:
        th.caffe.load(proto, model)
    text = str(e.value)
    assert f"{proto} and {model} do not fit together (3 problem(s))" in text
    assert "layer 'conv1' (Convolution): in " in text and "blob 0 is (4, 3, 5, 5), expected (4, 3, 3, 3)" in text
    assert f"layer 'bn1' (BatchNorm): no weights in {model} (it needs 3 blob(s): (4,), (4,), (1,))" in text
    assert "layer 'fc' (InnerProduct): " in text and "gives 1 blob(s) ((5, 36)), the prototxt's settings need 2" in text


def test_another_nets_caffemodel(files, tmp_path):
    other = cm.caffemodel({"conv_1": [np.zeros((64, 3, 7, 7))]}, tmp_path / "resnet.caffemodel")
    with pytest.raises(CaffeError, match=r"no weights in .*resnet.caffemodel") as e:
        th.caffe.load(files[0], other)
    assert str(e.value).count("no weights") == 3


def test_a_layer_of_another_type_in_the_caffemodel(files, tmp_path):
    other = cm.caffemodel({"fc": weights()["fc"]}, tmp_path / "x.caffemodel", types={"fc": "Convolution"})
    with pytest.raises(CaffeError, match=r"layer 'fc' is a Convolution in the caffemodel but a InnerProduct in "
                                         r".*small.prototxt: the files do not belong together"):
        th.caffe.load(files[0], other)


def test_legacy_blob_shapes_are_compared_as_caffe_compares_them(tmp_path):
    proto = tmp_path / "small.prototxt"
    proto.write_text(NET)
    model = cm.caffemodel(weights(), tmp_path / "legacy.caffemodel", types=TYPES, legacy=True)
    th.caffe.load(proto, model)  # (5, 36) equals the legacy (1, 1, 5, 36)
    w = weights()
    w["fc"][0] = w["fc"][0].T
    bad = cm.caffemodel(w, tmp_path / "bad.caffemodel", types=TYPES, legacy=True)
    with pytest.raises(CaffeError, match=r"blob 0 is \(1, 1, 36, 5\), expected \(5, 36\)"):
        th.caffe.load(proto, bad)


def test_swapped_and_missing_files(files, tmp_path):
    proto, model = files
    with pytest.raises(CaffeFormatError, match=r"is a binary file, not a text prototxt .*caffemodel goes second"):
        th.caffe.load(model, proto)
    with pytest.raises(CaffeFormatError, match=r"looks like a text prototxt, not a binary caffemodel"):
        th.caffe.load(proto, proto)
    with pytest.raises(CaffeError, match=r"nothing.prototxt: no such file \(the prototxt\)"):
        th.caffe.load(tmp_path / "nothing.prototxt")
    with pytest.raises(CaffeError, match=r"is a folder, not a caffemodel file"):
        th.caffe.load(proto, tmp_path)


# ---- nets theon cannot import ---------------------------------------------------------------

def test_every_unsupported_layer_is_listed_before_anything_is_built(tmp_path):
    proto = tmp_path / "rcnn.prototxt"
    proto.write_text(NET.replace('layer { name: "prob"', """
layer { name: "rpn" type: "Python" bottom: "fc" top: "rpn" python_param { module: "os" layer: "system" } }
layer { name: "rpn2" type: "Python" bottom: "fc" top: "rpn2" }
layer { name: "roi" type: "ROIPooling" bottom: "fc" top: "roi" }
layer { name: "stoch" type: "Pooling" bottom: "pool1" top: "stoch" pooling_param { pool: STOCHASTIC kernel_size: 2 } }
layer { name: "typo" type: "Convolution" bottom: "pool1" top: "typo" convolution_param { num_output: 0 kernal_size: 3 } }
layer { name: "prob\""""))
    with pytest.raises(UnsupportedLayersError) as e:
        th.caffe.load(proto)  # "typo" would fail to build (num_output: 0): the listing comes first
    assert str(e.value) == (f"{proto}: theon cannot import 5 layer(s): Python x2 (rpn, rpn2); "
                            f"Convolution with convolution_param fields theon does not know: kernal_size x1 (typo); "
                            f"Pooling with pool: STOCHASTIC x1 (stoch); ROIPooling x1 (roi)")
    assert e.value.unsupported["Python"] == ["rpn", "rpn2"]


@pytest.mark.parametrize("change,message", [
    (('bottom: "pool1" top: "fc"', 'bottom: "pool2" top: "fc"'),
     r"layer 'fc' \(InnerProduct\) reads the blob 'pool2', but no earlier layer makes it"),
    (('name: "relu1"', 'name: "bn1"'), r"two layers are named 'bn1' and 'bn1'"),
    (('num_output: 4 kernel_size: 3', 'num_output: 4 kernel_size: 3 group: 3'),
     r"layer 'conv1' \(Convolution\): .*not divisible by groups"),
    (('num_output: 4 kernel_size: 3', 'num_output: 4 kernel_size: 3 kernel_h: 2'),
     r"layer 'conv1' \(Convolution\): give kernel_size or kernel_h and kernel_w, not both"),
    (('num_output: 4 kernel_size: 3', 'num_output: 4'), r"layer 'conv1' \(Convolution\): kernel_size is required"),
    (('pool: MAX kernel_size: 2 stride: 2', 'pool: MAX kernel_size: 2 pad: 2'),
     r"layer 'pool1' \(Pooling\): .*padding \(2, 2\) must be smaller than the kernel"),
    (('layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }',
      'layer { name: "prob" type: "Softmax" bottom: "fc" }'), r"takes 1 bottom\(s\) and gives at least one top"),
    (('dim: 1 dim: 3 dim: 8 dim: 8', 'dim: 1 dim: 3 dim: 0 dim: 8'), r"input shape \(1, 3, 0, 8\) must have positive"),
    (('type: "Input"', 'type: "Input" include { phase: TEST } exclude { phase: TRAIN }'),
     r"layer 'data' has both include and exclude rules"),
])
def test_broken_nets_name_the_layer(tmp_path, change, message):
    proto = tmp_path / "broken.prototxt"
    assert change[0] in NET
    proto.write_text(NET.replace(*change))
    with pytest.raises(CaffeError, match=message) as e:
        th.caffe.load(proto)
    assert str(proto) in str(e.value)


def test_a_label_read_by_a_kept_layer(tmp_path):
    proto = tmp_path / "label.prototxt"
    proto.write_text('layer { name: "d" type: "MemoryData" top: "data" top: "label" memory_data_param { '
                     'batch_size: 1 channels: 2 height: 1 width: 1 } }\n'
                     'layer { name: "s" type: "Eltwise" bottom: "data" bottom: "label" top: "s" }\n')
    with pytest.raises(CaffeError, match=r"reads the blob 'label', but a training-only layer or a label top makes it"):
        th.caffe.load(proto)


def test_v0_files_need_upgrading(tmp_path):
    proto = tmp_path / "v0.prototxt"
    proto.write_text('input: "data"\ninput_dim: 1 input_dim: 1 input_dim: 2 input_dim: 2\n'
                     'layers { layer { name: "conv1" type: "conv" } bottom: "data" top: "conv1" }\n')
    with pytest.raises(CaffeError, match=r"V0 format .*upgrade_net_proto_text"):
        th.caffe.load(proto)


# ---- hostile files ---------------------------------------------------------------------------

def test_hostile_declared_sizes_fail_fast_without_allocating(files, tmp_path):
    proto, _ = files
    cases = {
        # a blob claiming 10**15 values, holding 3
        "huge_shape": cm.length_field(100, cm.string_field(1, "conv1") + cm.length_field(
            7, cm.blob(np.zeros(3), shape=(10**5, 10**5, 10**5)))),
        # a blob of 70 dims
        "many_dims": cm.length_field(100, cm.string_field(1, "conv1") + cm.length_field(
            7, cm.blob(np.zeros(1), shape=(1,) * 70))),
        # a layer claiming 2**40 bytes of blobs
        "huge_length": cm.key(100, 2) + cm.varint(2**40) + b"\0" * 16,
        # many tiny unknown fields and repeated input names
        "many_fields": (cm.varint_field(77, 1) + cm.string_field(3, "x")) * 20_000,
    }
    for name, data in cases.items():
        path = tmp_path / f"{name}.caffemodel"
        path.write_bytes(data)
        tracemalloc.start()
        start = time.perf_counter()
        try:
            with pytest.raises(CaffeError) as e:
                th.caffe.load(proto, path)
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert str(path) in str(e.value), name
        assert time.perf_counter() - start < 30, name
        assert peak < 50 * len(data) + 50_000_000, (name, peak)
    assert "(100000, 100000, 100000) needs 1,000,000,000,000,000 values, the file holds 3" in _message(
        proto, tmp_path / "huge_shape.caffemodel")
    assert "... 70 dims" in _message(proto, tmp_path / "many_dims.caffemodel")


def _message(proto, model):
    with pytest.raises(CaffeError) as e:
        th.caffe.load(proto, model)
    return str(e.value)


def test_a_prototxt_asking_for_huge_weights_is_refused_before_allocating(tmp_path):
    proto = tmp_path / "huge.prototxt"
    proto.write_text(NET.replace("num_output: 5", "num_output: 4000000000"))
    tracemalloc.start()
    try:
        with pytest.raises(CaffeError, match=rf"layer 'fc' \(InnerProduct\): its settings ask for 148,000,000,000 "
                                             rf"weights that no file gives; theon initialises at most "
                                             rf"{MAX_FRESH_VALUES:,}"):
            th.caffe.load(proto)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000_000


# ---- fuzzing -----------------------------------------------------------------------------------

def _only_theon_errors(load, label, memory_limit=None):
    """load() succeeds or raises a CaffeError, within 20 s (and `memory_limit` bytes)."""
    start = time.perf_counter()
    if memory_limit:
        tracemalloc.start()
    try:
        load()
    except CaffeError as e:
        assert str(e), label
    finally:
        if memory_limit:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert peak < memory_limit, (label, peak)
    assert time.perf_counter() - start < 20, label


def _mutations(data: bytes, rng, n: int, dense_prefix: int | None = None):
    """Truncations and byte flips of `data`, positions drawn over all of it and, more
    densely, over its first `dense_prefix` bytes (where the structure is)."""
    size = len(data)
    for i in range(n):
        span = dense_prefix if dense_prefix and i % 2 else size
        pos = int(rng.integers(0, min(span, size)))
        if i % 3 == 0:
            yield f"truncated at {pos}", data[:pos]
        else:
            flipped = bytearray(data)
            for _ in range(int(rng.integers(1, 4))):
                j = min(pos + int(rng.integers(0, 8)), size - 1)
                flipped[j] ^= 1 << int(rng.integers(0, 8))
            yield f"flipped near {pos}", bytes(flipped)


def test_fuzz_the_real_caffemodel(tmp_path):
    proto, model = nsfw_files()
    data = model.read_bytes()
    rng = np.random.default_rng(0)
    path = tmp_path / "fuzzed.caffemodel"
    for i, (label, mutated) in enumerate(_mutations(data, rng, 24, dense_prefix=200_000)):
        path.write_bytes(mutated)
        # reading holds the file once (weights are views of its bytes), plus a little
        limit = int(1.2 * len(data)) + 5_000_000 if i % 4 == 0 else None
        _only_theon_errors(lambda: th.caffe.read_net(proto, path), label, limit)


def test_fuzz_the_real_prototxt(tmp_path):
    proto, _ = nsfw_files()
    data = proto.read_bytes()
    rng = np.random.default_rng(1)
    path = tmp_path / "fuzzed.prototxt"
    for label, mutated in _mutations(data, rng, 40):
        path.write_bytes(mutated)
        _only_theon_errors(lambda: th.caffe.read_net(path), label)


def test_fuzz_a_small_net_end_to_end(files, tmp_path):
    """Mutated small files go all the way through model building."""
    _, model = files
    rng = np.random.default_rng(2)
    bad_model, bad_proto = tmp_path / "m.caffemodel", tmp_path / "m.prototxt"
    bad_proto.write_text(NET)
    for label, mutated in _mutations(model.read_bytes(), rng, 150):
        bad_model.write_bytes(mutated)
        _only_theon_errors(lambda: th.caffe.load(bad_proto, bad_model), "caffemodel " + label)
    for label, mutated in _mutations(NET.encode(), rng, 150):
        bad_proto.write_bytes(mutated)
        _only_theon_errors(lambda: th.caffe.load(bad_proto, model), "prototxt " + label)
