"""The Layer base class: naming, parameters, building on first call, state updates, configs.

A layer is called on symbolic tensors (`h = nn.Dense(10)(x)`); the first call builds its
parameters (`th.shared` values named "<layer>/<param>") from the input's shape without
the batch dim. Layers with running state (BatchNorm) record `(shared, new_value)` pairs
in `layer.updates` during a training call, for the caller to put in `th.function`'s
`updates`.

Names: a layer not given a name is numbered per class ("dense_3") when made; a model
renumbers the unnamed layers it is made of in its own order ("dense_1", "dense_2", ...),
so the same architecture built twice in one process has the same parameter names and
checkpoints load by name.
"""
from __future__ import annotations

import itertools
import re
import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..graph import Shared, Variable, canonical_dtype, format_shape, is_float, scope, shared, user_location
from ..ops.base import Op, as_variable, tensor
from . import initializers

__all__ = ["Layer", "Input", "LayerOutput", "layer_class", "layer_from_config", "serialize_layer"]

_counters: dict = defaultdict(lambda: itertools.count(1))
_uids = itertools.count(1)
_layer_classes: dict = {}
# output variable -> the call of a layer that produced it (weak: graphs own their variables)
_calls: "weakref.WeakKeyDictionary[Variable, LayerCall]" = weakref.WeakKeyDictionary()
# checks run before a parameter is allocated, fn(layer, key, shape, dtype): while a model is
# rebuilt from a file, a config asking for a size the file does not hold fails before any
# memory is taken (theon.nn.saving.parameters_from)
param_checks: list = []


def _snake(name: str) -> str:
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name)
    name = re.sub(r"(?<=[A-Z0-9])(?=[A-Z][a-z])", "_", name)
    return name.lower()


def next_name(prefix: str) -> str:
    return f"{prefix}_{next(_counters[prefix])}"


@dataclass(frozen=True)
class LayerOutput(Op):
    """The identity with a unique tag: gives a layer's output its own variable when the
    layer returned its input (Dropout at inference) or a node another call already made
    (hash-consing), so every layer call in a functional model has a distinct output."""
    uid: int = 0
    name: ClassVar[str] = "layer_output"
    view: ClassVar[bool] = True
    passthrough: ClassVar[bool] = True

    def infer(self, x):
        return [x.type]

    def kernel(self, x):
        return x

    def grad(self, inputs, outputs, output_grads):
        return [output_grads[0]]


class LayerCall:
    """One call of a layer: its inputs (a list when the layer took a list) and output."""
    __slots__ = ("layer", "inputs", "multi", "__weakref__")

    def __init__(self, layer, inputs, multi):
        self.layer, self.inputs, self.multi = layer, tuple(inputs), multi


def call_of(v: Variable) -> LayerCall | None:
    """The layer call whose output is `v`, if any."""
    return _calls.get(v)


def Input(shape, dtype: str = "float32", name: str | None = None) -> Variable:
    """A symbolic model input: `shape` without the batch dim, which is left unknown (None)."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    shape = tuple(None if d is None else int(d) for d in shape)
    return tensor(name or next_name("input"), (None, *shape), canonical_dtype(dtype))


class Layer:
    """Base class of layers. Subclasses implement `build(input_shape)` (make parameters
    with `add_param`), `call(x, training)` and `output_shape(input_shape)`, and extend
    `get_config()` with their constructor arguments.

    dtype: parameters' dtype; None takes the dtype of the first input (float32 when that
    is not a float). Inputs of another dtype are cast to the layer's.
    seed: the layer's own initialisation seed (see `initializers.layer_rng`).
    """

    takes_list: ClassVar[bool] = False  # call takes a list of tensors (Add, Concatenate)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _layer_classes[registered_name(cls)] = cls

    def __init__(self, name: str | None = None, trainable: bool = True, dtype: str | None = None,
                 seed: int | None = None):
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(f"a layer name must be a non-empty string without '/', got {name!r}")
        self._auto_named = name is None
        self._name = name if name is not None else next_name(_snake(type(self).__name__))
        self._claimed = False
        self._trainable = bool(trainable)
        self.dtype = None if dtype is None else canonical_dtype(dtype)
        self.seed = None if seed is None else int(seed)
        self.built = False
        self.input_shape = None
        # the symbolic output of the layer's first call: in a model, its place in the
        # model's graph, so `nn.Model(model.inputs, layer.output)` cuts the model there
        self.output = None
        self.compute_dtype = None
        self.updates: list = []
        # where the user made the layer: the line its ops point at when theon code (a
        # model's fit) calls it
        self._loc = user_location()
        self._params: list = []
        self._param_keys: list = []
        self._param_trainable: list = []
        self._rng = None
        self._model_seed = None  # (seed, key) given by a model built with seed=

    # ---- naming and flags ------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    def _rename(self, name: str) -> None:
        self._name = name
        for p, key in zip(self._params, self._param_keys):
            p.name = f"{name}/{key}"

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)

    # ---- parameters -------------------------------------------------------------------

    def add_param(self, name: str, shape, initializer, trainable: bool = True, fans=None,
                  dtype: str | None = None) -> Shared:
        """A parameter `th.shared` named "<layer>/<name>", initialised by `initializer`
        (a name, Initializer or callable). fans: (fan_in, fan_out) where the weight's layout
        is not the default of `initializers.compute_fans`."""
        if name in self._param_keys:
            raise ValueError(f"layer {self.name!r} already has a parameter {name!r}")
        shape = tuple(int(d) for d in shape)
        dtype = dtype or self.compute_dtype or "float32"
        for check in param_checks:
            check(self, name, shape, dtype)
        init = initializers.get(initializer)
        fan_in, fan_out = fans if fans is not None else (None, None)
        value = init(shape, dtype, self._init_rng(), fan_in, fan_out)
        # the initialiser's array is this parameter's alone: no copy of it
        p = shared(np.ascontiguousarray(value), name=f"{self.name}/{name}", dtype=dtype, borrow=True)
        self._params.append(p)
        self._param_keys.append(name)
        self._param_trainable.append(bool(trainable))
        return p

    def _init_rng(self) -> np.random.Generator:
        if self._rng is None:
            if self.seed is not None:
                self._rng = initializers.layer_rng(self.seed, "layer")
            elif self._model_seed is not None:
                self._rng = initializers.layer_rng(*self._model_seed)
            else:
                self._rng = initializers.layer_rng()
        return self._rng

    @property
    def params(self) -> list:
        """Every parameter (trainable or not), in the order they were made."""
        return list(self._params)

    @property
    def trainable_params(self) -> list:
        """The parameters an optimiser updates: none when the layer is frozen."""
        if not self._trainable:
            return []
        return [p for p, t in zip(self._params, self._param_trainable) if t]

    @property
    def non_trainable_params(self) -> list:
        keep = {id(p) for p in self.trainable_params}
        return [p for p in self._params if id(p) not in keep]

    def param(self, key: str) -> Shared:
        """The parameter called `key` ("kernel", "bias", ...)."""
        try:
            return self._params[self._param_keys.index(key)]
        except ValueError:
            raise KeyError(f"layer {self.name!r} has no parameter {key!r}; it has "
                           f"{self._param_keys or 'none'}") from None

    def count_params(self) -> int:
        return int(sum(np.prod(p.type.shape, dtype=np.int64) for p in self._params))

    def param_bytes(self) -> int:
        return int(sum(np.prod(p.type.shape, dtype=np.int64) * np.dtype(p.dtype).itemsize
                       for p in self._params))

    # ---- building and calling ---------------------------------------------------------

    def build(self, input_shape) -> None:
        """Make the parameters for inputs of `input_shape` (no batch dim). Default: none."""

    def call(self, x, training: bool = False):
        raise NotImplementedError(f"{type(self).__name__}.call")

    def output_shape(self, input_shape):
        """The output shape (no batch dim) for an input of `input_shape` (no batch dim)."""
        return tuple(input_shape)

    def __call__(self, inputs, training: bool = False):
        multi = isinstance(inputs, (list, tuple))
        if multi != self.takes_list:
            want = "a list of tensors" if self.takes_list else "one tensor"
            raise TypeError(f"layer {self.name!r} ({type(self).__name__}) takes {want}")
        xs = [as_variable(v) for v in (inputs if multi else [inputs])]
        if any(v.ndim < 1 for v in xs):
            raise ValueError(f"layer {self.name!r} needs inputs with a batch dim, got "
                             f"{', '.join(format_shape(v.type.shape) for v in xs)}")
        if not self.built:
            shapes = [tuple(v.type.shape[1:]) for v in xs]
            self.compute_dtype = self.dtype or next(
                (v.dtype for v in xs if is_float(v.dtype)), "float32")
            self.input_shape = shapes if multi else shapes[0]
            self.build(self.input_shape)
            self.built = True
        if training:
            self.updates = []
        with scope(self.name, self._loc):
            out = self.call(xs if multi else xs[0], training=bool(training))
        if out.owner is None or out in _calls or any(out is v for v in xs):
            out = LayerOutput(next(_uids))(out)
        _calls[out] = LayerCall(self, xs, multi)
        if self.output is None:
            self.output = out
        return out

    def cast_input(self, x: Variable) -> Variable:
        """x in the layer's dtype."""
        return x if x.dtype == self.compute_dtype else x.astype(self.compute_dtype)

    # ---- configs ----------------------------------------------------------------------

    def get_config(self) -> dict:
        """The constructor arguments, JSON-able (subclasses add theirs)."""
        config = {"name": self.name, "trainable": self._trainable, "dtype": self.dtype}
        if self.seed is not None:
            config["seed"] = self.seed
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        """A new, unbuilt layer from `get_config()`'s dict. Initialisers and activations
        named in `custom_objects` are replaced by those objects."""
        config = dict(config)
        if custom_objects:
            for k, v in config.items():
                if (k == "activation" or k.endswith("_initializer")) and isinstance(v, str) \
                        and v in custom_objects:
                    config[k] = custom_objects[v]
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}{'' if self.built else ' (not built)'}>"


def registered_name(cls) -> str:
    """The name configs record for a layer class: theon's own layers by their short name
    ("Dense"), every other class by its qualified name ("my_project.layers.Dense"), so a
    user's class never takes the place of a built-in one."""
    if cls.__module__.split(".")[0] == "theon":
        return cls.__name__
    return f"{cls.__module__}.{cls.__qualname__}"


def layer_class(name: str, custom_objects: dict | None = None):
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    try:
        return _layer_classes[name]
    except KeyError:
        raise ValueError(f"unknown layer class {name!r}; import the module that defines it, "
                         f"or pass it in custom_objects") from None


def serialize_layer(layer: Layer) -> dict:
    return {"class_name": registered_name(type(layer)), "config": layer.get_config()}


def layer_from_config(spec: dict, custom_objects: dict | None = None) -> Layer:
    """A layer from `serialize_layer`'s {"class_name", "config"}."""
    return layer_class(spec["class_name"], custom_objects).from_config(spec["config"], custom_objects)
