"""Keras layers as theon layers, and the functional model they make.

Each Keras layer becomes one theon layer of the same name, called as Keras called it.
Keras is channels-last, theon channels-first: the model is converted once, here. Kernels
are transposed to theon's layouts when read, and each tensor carries whether it is held
channels-first (its Keras last axis moved to axis 1). Convolutions, pooling, padding and
BatchNormalization work on channels-first tensors; Dense, Flatten, Reshape, softmax and
the recurrent layers on Keras' order; elementwise layers on either. Where a tensor meets a
layer that needs the other order, one KerasPermute layer named "<producer>.channels_first"
(or ".channels_last") is inserted, once per tensor. Model inputs and outputs of rank 4 or
more (images) are channels-first, as everywhere in theon; those of lower rank keep Keras'
shape (batch, steps, features).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from .. import nn
from ..errors import TheonError
from .errors import KerasError, UnsupportedLayersError
from .layers import KerasPermute
from .model_config import LayerSpec, ModelSpec, input_batch_shape

__all__ = ["build_model", "unsupported_layers", "CONVERTERS"]

CONVERTERS: dict = {}
# Keras activations theon computes the same way, by Keras name
ACTIVATIONS = {"linear": None, "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax",
               "elu": "elu", "softplus": "softplus", "swish": "silu", "silu": "silu", "gelu": "gelu",
               "log_softmax": "log_softmax"}
# refused with a reason: a model file's code is never run
REFUSED = {"Lambda": "it holds Python code, and theon never runs code from a model file",
           "TFOpLambda": "it holds TensorFlow code, and theon never runs code from a model file"}


@dataclass
class T:
    """A Keras tensor in theon: the variable and whether it is held channels-first."""
    var: object
    cf: bool
    producer: str

    @property
    def rank(self) -> int:
        return self.var.ndim

    def keras_shape(self) -> tuple:
        s = tuple(self.var.type.shape)
        return (s[0], *s[2:], s[1]) if self.cf else s


def converter(*names, check=None):
    def register(fn):
        for n in names:
            CONVERTERS[n] = (fn, check)
        return fn
    return register


def activation_name(value):
    """The Keras activation setting (a name, or Keras 3's serialised function) as its name."""
    if isinstance(value, dict):
        value = value.get("config", value.get("class_name"))
        if isinstance(value, dict):
            value = value.get("name")
    return value if isinstance(value, str) else repr(value)


def _check_activation(spec) -> str | None:
    act = spec.config.get("activation", "linear")
    if act is not None and activation_name(act) not in ACTIVATIONS:
        return f"activation {activation_name(act)!r}"
    return None


def _check_conv(spec) -> str | None:
    c = spec.config
    if c.get("data_format", "channels_last") not in ("channels_last", None):
        return f"data_format {c.get('data_format')!r}"
    if c.get("padding", "valid") not in ("valid", "same"):
        return f"padding {c.get('padding')!r}"
    return _check_activation(spec)


def unsupported_layers(model: ModelSpec) -> dict:
    """{"Class (setting)": [layer names]} for every layer theon cannot import."""
    out = defaultdict(list)
    for spec in model.layers:
        if spec.class_name == "InputLayer":
            continue
        if spec.class_name in REFUSED:
            out[f"{spec.class_name} ({REFUSED[spec.class_name]})"].append(spec.name)
            continue
        entry = CONVERTERS.get(spec.class_name)
        if entry is None:
            out[spec.class_name].append(spec.name)
            continue
        why = entry[1](spec) if entry[1] else None
        if why:
            out[f"{spec.class_name} ({why})"].append(spec.name)
    return dict(out)


class Context:
    """What converters share: the file, the weights (checked, then read), the permutes."""

    def __init__(self, path: str, weights: dict, max_bytes: int):
        self.path = path
        self.weights = weights
        self.max_bytes = max_bytes
        self.problems: list = []
        self._moved: dict = {}

    def take(self, spec: LayerSpec, expected: list):
        """The layer's arrays (Keras layouts) when the file holds them in the `expected`
        shapes; else None, with the problem recorded."""
        need = sum(int(np.prod(e, dtype=np.int64)) for e in expected) * 4
        if need > self.max_bytes:  # a hostile config: refuse before its layer allocates anything
            raise KerasError(f"{self.path}: {spec.describe()}: its config asks for {need:,} bytes of weights; "
                             f"theon reads at most {self.max_bytes:,} for one layer of this file")
        datasets = self.weights.get(spec.name, [])
        wanted = ", ".join(str(tuple(e)) for e in expected) or "none"
        if len(datasets) != len(expected):
            got = ", ".join(str(tuple(d.shape)) for d in datasets) or "none"
            self.problems.append(f"{spec.describe()}: the file holds {len(datasets)} weight(s) ({got}), its "
                                 f"config needs {len(expected)} ({wanted})")
            return None
        bad = [f"weight {i} is {tuple(d.shape)}, expected {tuple(e)}"
               for i, (d, e) in enumerate(zip(datasets, expected)) if tuple(d.shape) != tuple(e)]
        if bad:
            self.problems.append(f"{spec.describe()}: " + "; ".join(bad))
            return None
        out = []
        for i, d in enumerate(datasets):
            if d.dtype.kind != "f" or d.size * d.dtype.itemsize > self.max_bytes:
                self.problems.append(f"{spec.describe()}: weight {i} is {d.dtype} of {d.size:,} values; "
                                     f"expected floats of at most {self.max_bytes:,} bytes")
                return None
            out.append(np.asarray(d.read(), dtype=np.float32))
        return out

    @staticmethod
    def put(layer, values: dict) -> None:
        for key, value in values.items():
            p = layer.param(key)
            p.set_value(np.ascontiguousarray(value, dtype=p.dtype))

    def channels_first(self, t: T) -> T:
        if t.cf or t.rank < 3:
            return t
        return self._move(t, True)

    def channels_last(self, t: T) -> T:
        if not t.cf:
            return t
        return self._move(t, False)

    def _move(self, t: T, to_cf: bool) -> T:
        key = (id(t.var), to_cf)
        if key not in self._moved:
            r = t.rank
            dims = (r - 1, *range(1, r - 1)) if to_cf else (*range(2, r), 1)
            layer = KerasPermute(dims, name=f"{t.producer}.{'channels_first' if to_cf else 'channels_last'}")
            self._moved[key] = T(layer(t.var), to_cf, t.producer)
        return self._moved[key]

    def same_layout(self, ts: list) -> list:
        """Inputs of an elementwise merge in one layout (channels-first if any is)."""
        if any(t.cf for t in ts):
            return [self.channels_first(t) for t in ts]
        return ts

    def axis(self, spec, t: T, axis: int) -> int:
        """A Keras axis of t (with the batch axis) as the axis of t's theon variable."""
        r = t.rank
        a = axis + r if axis < 0 else axis
        if not 1 <= a < r:
            raise KerasError(f"{self.path}: {spec.describe()}: axis {axis} is out of range for rank {r}")
        if not t.cf:
            return a
        return 1 if a == r - 1 else a + 1


def build_model(path: str, model: ModelSpec, weights: dict, max_bytes: int) -> nn.Model:
    """The theon model of `model` with `weights` (layer name -> datasets)."""
    unsupported = unsupported_layers(model)
    if unsupported:
        lines = [f"  {kind}: {', '.join(names)}" for kind, names in unsupported.items()]
        raise UnsupportedLayersError(f"{path}: theon cannot import these layers:\n" + "\n".join(lines),
                                     unsupported)
    ctx = Context(path, weights, max_bytes)
    tensors: dict = {}  # (layer, node, tensor) -> T
    for spec in model.layers:
        if spec.class_name == "InputLayer":
            tensors[(spec.name, 0, 0)] = _input(path, spec)
            continue
        fn = CONVERTERS[spec.class_name][0]
        for node_index, refs in enumerate(spec.nodes):
            missing = [r for r in refs if r not in tensors]
            if missing or not refs:
                raise KerasError(f"{path}: {spec.describe()} reads "
                                 f"{', '.join(f'{n}[{i}][{j}]' for n, i, j in missing) or 'nothing'}, which "
                                 f"no earlier layer makes")
            ins = [tensors[r] for r in refs]
            try:
                out = fn(spec, ins, ctx) if node_index == 0 else _shared_call(spec, ins, ctx)
            except TheonError as e:
                raise KerasError(f"{path}: {spec.describe()}: {e}") from None
            except (ValueError, TypeError, KeyError) as e:
                raise KerasError(f"{path}: {spec.describe()}: its settings cannot be imported: {e}") from None
            tensors[(spec.name, node_index, 0)] = out
    if ctx.problems:
        raise KerasError(f"{path}: the weights do not fit the model config:\n  " + "\n  ".join(ctx.problems))
    for ref in model.inputs + model.outputs:
        if ref not in tensors:
            raise KerasError(f"{path}: the model's input or output {ref[0]}[{ref[1]}][{ref[2]}] is not made by "
                             f"any layer")
    outputs = [_boundary(ctx, tensors[r]) for r in model.outputs]
    inputs = [tensors[r].var for r in model.inputs]
    return nn.Model(inputs, outputs if len(outputs) > 1 else outputs[0], name=model.name)


def _boundary(ctx: Context, t: T):
    """A model output in theon's convention: channels-first images, other ranks as Keras."""
    return (ctx.channels_first(t) if t.rank >= 4 else ctx.channels_last(t)).var


def _input(path, spec: LayerSpec) -> T:
    shape = input_batch_shape(spec)
    if shape is None or len(shape) < 2:
        raise KerasError(f"{path}: {spec.describe()} does not give its shape (batch_shape)")
    dtype = spec.config.get("dtype", "float32")
    dtype = dtype if isinstance(dtype, str) else "float32"
    dims = [None if d is None else int(d) for d in shape[1:]]
    if len(dims) >= 3:  # an image: theon's inputs are channels-first
        return T(nn.Input((dims[-1], *dims[:-1]), dtype=dtype, name=spec.name), True, spec.name)
    return T(nn.Input(dims, dtype=dtype, name=spec.name), False, spec.name)


def _shared_call(spec, ins, ctx):
    raise KerasError(f"{ctx.path}: {spec.describe()} is called more than once (a shared layer); theon's "
                     f"Keras importer does not import shared layers")
