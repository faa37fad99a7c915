"""A Caffe net read from its files and checked, before anything is built: the layers a
deploy (TEST phase) net runs, in file order, each with its weights from the caffemodel,
the net's inputs and their shapes, and the training-only layers left out.

Both layer formats are read: new-style `layer { type: "Convolution" ... }` and the legacy
V1 `layers { type: CONVOLUTION ... }` (types upgraded as Caffe upgrades them), in the
prototxt and in the caffemodel; legacy net-level inputs (`input:` with `input_shape` or
`input_dim`) become Input layers. Weights are matched to layers by name, as Caffe's
CopyTrainedLayersFrom does; blob shapes are compared as Caffe compares them (a legacy
num/channels/height/width blob equals a shape padded with leading 1s to four dims).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CaffeError, CaffeFormatError, MissingInputShapeError
from .schema import MESSAGES, V1_LAYER_TYPES, Message
from .text import parse_text
from .wire import parse_message

__all__ = ["Blob", "LayerSpec", "CaffeNet", "read_prototxt", "read_caffemodel", "shape_text",
           "DATA_LAYERS", "TRAINING_ONLY"]

log = logging.getLogger("theon.caffe")

# layers that read data sets: their first top is a model input, the others (labels) are dropped
DATA_LAYERS = {"Data", "ImageData", "HDF5Data", "MemoryData", "DummyData", "WindowData", "AnnotatedData",
               "VideoData"}
# layers that only matter when training in Caffe (and any type named ...Loss)
TRAINING_ONLY = {"Accuracy", "Silence", "HDF5Output"}


def shape_text(shape, limit: int = 8) -> str:
    """A shape for an error message, cut short when a hostile file gives very many dims."""
    dims = [str(d) for d in shape[:limit]]
    if len(shape) > limit:
        dims.append(f"... {len(shape)} dims")
    return "(" + ", ".join(dims) + ("," if len(shape) == 1 else "") + ")"


def _read(path, what: str) -> bytes:
    p = Path(path)
    if not p.exists():
        raise CaffeError(f"{path}: no such file (the {what})")
    if p.is_dir():
        raise CaffeError(f"{path}: is a folder, not a {what} file")
    return p.read_bytes()


def read_prototxt(path) -> Message:
    """The NetParameter of a text .prototxt file."""
    data = _read(path, "prototxt")
    if b"\0" in data[:4096]:
        raise CaffeFormatError(f"{path}: is a binary file, not a text prototxt (the caffemodel goes second: "
                               f"load(prototxt, caffemodel))")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CaffeFormatError(f"{path}: is not UTF-8 text (byte {e.start}); a prototxt is a text file") from None
    return parse_text(text, "NetParameter", str(path))


def read_caffemodel(path) -> Message:
    """The NetParameter of a binary .caffemodel file."""
    data = _read(path, "caffemodel")
    head = data[:64].lstrip()
    if head[:5] in (b"name:", b"layer", b"input") or head[:1] == b"#":
        raise CaffeFormatError(f"{path}: looks like a text prototxt, not a binary caffemodel (the prototxt goes "
                               f"first: load(prototxt, caffemodel))")
    return parse_message(data, "NetParameter", str(path))


@dataclass
class Blob:
    """A weight blob: its shape (as the file gives it) and its values, flat."""
    shape: tuple
    legacy: bool  # the shape came from the deprecated num/channels/height/width fields
    data: np.ndarray

    def matches(self, expected: tuple) -> bool:
        if tuple(self.shape) == tuple(expected):
            return True
        return self.legacy and len(expected) <= 4 and (1,) * (4 - len(expected)) + tuple(expected) == self.shape

    def values(self, expected: tuple) -> np.ndarray:
        return np.asarray(self.data, dtype=np.float32).reshape(expected)


def _blob(msg: Message, where: str) -> Blob:
    if msg.has("shape"):
        shape, legacy = tuple(msg.get("shape").list("dim")), False
    elif any(msg.has(k) for k in ("num", "channels", "height", "width")):
        shape, legacy = tuple(msg.get(k) for k in ("num", "channels", "height", "width")), True
    else:
        shape, legacy = (), False
    if any(d < 0 for d in shape):
        raise CaffeFormatError(f"{where}: negative dimension in shape {shape_text(shape)}")
    count = math.prod(shape)
    if msg.count("double_data"):
        data = msg.array("double_data", np.float64)
    else:
        data = msg.array("data", np.float32)
    if data.size != count:
        raise CaffeFormatError(f"{where}: shape {shape_text(shape)} needs {count:,} values, the file holds "
                               f"{data.size:,}")
    return Blob(shape, legacy, data)


@dataclass
class LayerSpec:
    """One Caffe layer: its name in the file and as a theon layer ('/' becomes '.'), type,
    bottom and top blobs, its message (for the type's *_param), and weight blobs (None when
    neither file gives any)."""
    index: int
    name: str
    layer_name: str
    type: str
    bottoms: list
    tops: list
    msg: Message
    blobs: list | None = None
    blobs_from: str = ""

    def param(self, field_name: str) -> Message:
        """The layer's `field_name` message (e.g. convolution_param), or an empty one that
        answers every field with its default."""
        value = self.msg.get(field_name)
        if value is not None:
            return value
        return Message(MESSAGES[MESSAGES["LayerParameter"].by_name[field_name].target])

    def describe(self) -> str:
        return f"layer {self.name!r} ({self.type})"


@dataclass
class InputSpec:
    blob: str
    shape: tuple | None  # without the batch dim; None: not given
    source: str  # who declared it


def _meets(rule: Message, level: int, stages: set) -> bool:
    """Caffe's StateMeetsRule for a TEST-phase net."""
    if rule.has("phase") and rule.get("phase") != "TEST":
        return False
    if rule.has("min_level") and level < rule.get("min_level"):
        return False
    if rule.has("max_level") and level > rule.get("max_level"):
        return False
    if any(s not in stages for s in rule.list("stage")):
        return False
    return not any(s in stages for s in rule.list("not_stage"))


def _included(layer: Message, level: int, stages: set, where: str, name: str) -> bool:
    include, exclude = layer.list("include"), layer.list("exclude")
    if include and exclude:
        raise CaffeError(f"{where}: layer {name!r} has both include and exclude rules (Caffe allows one kind)")
    if include:
        return any(_meets(r, level, stages) for r in include)
    return not any(_meets(r, level, stages) for r in exclude)


def _layer_messages(net: Message, where: str) -> list:
    """[(name, type, message)] of the net's layers, V1 types upgraded."""
    new, old = net.list("layer"), net.list("layers")
    if new and old:
        raise CaffeFormatError(f"{where}: has both new-style 'layer' and legacy 'layers' entries (Caffe reads "
                               f"one kind)")
    out = []
    for i, m in enumerate(old):
        if m.has("layer"):
            raise CaffeError(f"{where}: layer #{i} is in Caffe's V0 format (before 2014); upgrade the file with "
                             f"Caffe's upgrade_net_proto_text / upgrade_net_proto_binary first")
        kind = m.get("type")
        if kind not in V1_LAYER_TYPES:
            raise CaffeFormatError(f"{where}: layer #{i} {m.get('name')!r} has the unknown V1 type {kind!r}")
        out.append((m.get("name"), V1_LAYER_TYPES[kind], m))
    out += [(m.get("name"), m.get("type"), m) for m in new]
    return out


def _theon_name(name: str) -> str:
    return name.replace("/", ".")


@dataclass
class CaffeNet:
    """A checked deploy net: `layers` (kept, in order), `inputs` (blob -> shape without the
    batch dim), `ignored` (training-only layers left out, with why), `notes`."""
    prototxt: str
    caffemodel: str | None
    name: str
    layers: list = field(default_factory=list)
    inputs: list = field(default_factory=list)
    ignored: list = field(default_factory=list)
    dropped_blobs: set = field(default_factory=set)
    notes: list = field(default_factory=list)


def _dims(shape_msg: Message, where: str) -> tuple:
    dims = tuple(shape_msg.list("dim"))
    if not dims or any(d <= 0 for d in dims):
        raise CaffeError(f"{where}: input shape {shape_text(dims)} must have positive dims")
    return dims


def _data_shape(layer: Message, kind: str, top: int, where: str):
    """The shape (with the batch dim) a data layer gives its top `top`, when the file says."""
    if kind == "MemoryData":
        p = layer.get("memory_data_param")
        if p is not None and all(p.has(k) for k in ("batch_size", "channels", "height", "width")):
            return tuple(p.get(k) for k in ("batch_size", "channels", "height", "width"))
    elif kind == "DummyData":
        p = layer.get("dummy_data_param")
        if p is not None:
            shapes = p.list("shape")
            if len(shapes) > top:
                return _dims(shapes[top], where)
            if len(shapes) == 1:
                return _dims(shapes[0], where)
            legacy = [p.list(k) for k in ("num", "channels", "height", "width")]
            if all(len(v) > top for v in legacy):
                return tuple(v[top] for v in legacy)
            if all(len(v) == 1 for v in legacy):
                return tuple(v[0] for v in legacy)
    elif kind == "ImageData":
        p, t = layer.get("image_data_param"), layer.get("transform_param")
        crop = t.get("crop_size") if t is not None else 0
        if p is not None:
            c = 3 if p.get("is_color") else 1
            if crop:
                return (p.get("batch_size"), c, crop, crop)
            if p.get("new_height") and p.get("new_width"):
                return (p.get("batch_size"), c, p.get("new_height"), p.get("new_width"))
    return None


def _given_shapes(input_shape, names: list) -> dict:
    if input_shape is None:
        return {}
    if isinstance(input_shape, dict):
        unknown = [k for k in input_shape if k not in names]
        if unknown:
            raise CaffeError(f"input_shape names {unknown}, which are not inputs of the net; its inputs are "
                             f"{names}")
        return {k: tuple(int(d) for d in v) for k, v in input_shape.items()}
    if len(names) != 1:
        raise CaffeError(f"the net has {len(names)} inputs ({names}): give input_shape as a dict by name")
    return {names[0]: tuple(int(d) for d in input_shape)}


def read_net(prototxt, caffemodel=None, input_shape=None) -> CaffeNet:
    """Read and check a prototxt (and caffemodel): see the module docstring."""
    where = str(prototxt)
    net_msg = read_prototxt(prototxt)
    state = net_msg.get("state")
    level = state.get("level") if state is not None else 0
    stages = set(state.list("stage")) if state is not None else set()
    net = CaffeNet(where, None if caffemodel is None else str(caffemodel), net_msg.get("name") or "caffe_net")

    inputs: list = []
    names = net_msg.list("input")
    shapes = [_dims(s, where) for s in net_msg.list("input_shape")]
    dims = net_msg.list("input_dim")
    if names:
        if shapes and len(shapes) != len(names):
            raise CaffeError(f"{where}: {len(names)} net inputs but {len(shapes)} input_shape entries")
        if dims and not shapes:
            if len(dims) != 4 * len(names):
                raise CaffeError(f"{where}: {len(names)} net inputs need {4 * len(names)} input_dim values, "
                                 f"got {len(dims)}")
            shapes = [tuple(dims[4 * i:4 * i + 4]) for i in range(len(names))]
        for i, name in enumerate(names):
            inputs.append(InputSpec(name, tuple(shapes[i][1:]) if shapes else None, "the net's input field"))

    seen: dict = {}
    for index, (name, kind, msg) in enumerate(_layer_messages(net_msg, where)):
        name = name or f"{kind.lower()}_{index}"
        if not _included(msg, level, stages, where, name):
            continue
        spec = LayerSpec(index, name, _theon_name(name), kind, msg.list("bottom"), msg.list("top"), msg)
        other = seen.get(spec.layer_name)
        if other is not None:
            raise CaffeError(f"{where}: two layers are named {other!r} and {name!r} (layer names must be unique "
                             f"within a net, after '/' becomes '.')")
        seen[spec.layer_name] = name
        if kind == "Input":
            p = spec.param("input_param")
            declared = [_dims(s, f"{where}: {spec.describe()}") for s in p.list("shape")]
            if declared and len(declared) not in (1, len(spec.tops)):
                raise CaffeError(f"{where}: {spec.describe()} has {len(spec.tops)} tops but {len(declared)} shapes")
            for i, top in enumerate(spec.tops):
                shape = declared[i if len(declared) > 1 else 0] if declared else None
                inputs.append(InputSpec(top, None if shape is None else tuple(shape[1:]), spec.describe()))
        elif kind in DATA_LAYERS:
            if not spec.tops:
                raise CaffeError(f"{where}: {spec.describe()} has no top")
            shape = _data_shape(msg, kind, 0, where)
            inputs.append(InputSpec(spec.tops[0], None if shape is None else tuple(shape[1:]), spec.describe()))
            net.dropped_blobs.update(spec.tops[1:])
            if spec.tops[1:]:
                net.ignored.append((name, kind, f"its top(s) {', '.join(spec.tops[1:])} (labels) are not inputs"))
        elif kind in TRAINING_ONLY or kind.endswith("Loss"):
            net.ignored.append((name, kind, "training only"))
            net.dropped_blobs.update(t for t in spec.tops if t not in spec.bottoms)
        else:
            net.layers.append(spec)

    given = _given_shapes(input_shape, [i.blob for i in inputs])
    for spec in inputs:
        if spec.blob in given:
            spec.shape = given[spec.blob]
        if spec.shape is None:
            raise MissingInputShapeError(
                f"{where}: the shape of the input {spec.blob!r} ({spec.source}) is not in the file; give it without "
                f"the batch dim: load(..., input_shape={{{spec.blob!r}: (3, 224, 224)}})", spec.blob)
    if len({i.blob for i in inputs}) != len(inputs):
        raise CaffeError(f"{where}: an input blob is declared twice: {[i.blob for i in inputs]}")
    if not inputs:
        raise CaffeError(f"{where}: the net declares no input (no Input or data layer, no input: field)")
    net.inputs = inputs
    if caffemodel is not None:
        _attach_weights(net, read_caffemodel(caffemodel), str(caffemodel))
    else:
        for spec in net.layers:
            blobs = spec.msg.list("blobs")
            if blobs:
                spec.blobs = [_blob(b, f"{where}: {spec.describe()} blob {i}") for i, b in enumerate(blobs)]
                spec.blobs_from = where
    if net.ignored:
        net.notes.append("ignored: " + ", ".join(f"{n} ({k}: {why})" for n, k, why in net.ignored))
    sharing: dict = {}
    for spec in net.layers:  # V1 names shared weights in `param`, new-style layers in param { name }
        names = spec.msg.list("param") if spec.msg.type.name == "V1LayerParameter" else \
            [p.get("name") for p in spec.msg.list("param")]
        for name in filter(None, names):
            sharing.setdefault(name, []).append(spec.name)
    shared = {k: v for k, v in sharing.items() if len(v) > 1}
    if shared:
        net.notes.append("weights shared in Caffe are separate copies in theon: " + "; ".join(
            f"{k!r} of {', '.join(v)}" for k, v in shared.items()))
    for note in net.notes:
        log.warning("%s: %s", where, note)
    return net


def _attach_weights(net: CaffeNet, model: Message, where: str) -> None:
    by_name = {}
    for name, kind, msg in _layer_messages(model, where):
        by_name[name] = (kind, msg)
    for spec in net.layers:
        found = by_name.get(spec.name)
        if found is None:
            continue
        blobs = found[1].list("blobs")
        if found[0] and found[0] != spec.type and blobs:
            raise CaffeError(f"{where}: layer {spec.name!r} is a {found[0]} in the caffemodel but a {spec.type} in "
                             f"{net.prototxt}: the files do not belong together")
        spec.blobs = [_blob(b, f"{where}: {spec.describe()} blob {i}") for i, b in enumerate(blobs)]
        spec.blobs_from = where
