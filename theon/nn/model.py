"""Models: the functional `Model(inputs, outputs)` and `Sequential(layers)`.

A model knows its layers, their parameters and how to apply them again to new inputs (and
in training mode: `model(x, training=True)`, after which `model.updates` holds the running
state updates of its layers). `compile/fit/evaluate/predict` come from `Trainer`
(`theon.nn.trainer`), whose default steps call the model.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from ..graph import Constant, Shared, Variable, apply, format_shape
from ..io import CheckpointError
from ..io.torch_state import fill_from_state_dict
from ..ops.base import as_variable, tensor
from .layer import Input, Layer, _snake, call_of, layer_from_config, next_name, serialize_layer
from .saving import group, load_training_checkpoint, parameters_from, read_model_file, save_model_file
from .summary import summary_text
from .trainer import Trainer

__all__ = ["Model", "Sequential", "ModelLayer", "model_from_config", "load_model"]


def _claim(existing: list, new: list) -> None:
    """Number the unnamed layers in `new` per model ("dense_1", "dense_2", ...) skipping the
    names of the other layers; reject two layers with one name."""
    taken = {}
    for layer in [*existing, *new]:
        if not layer._auto_named or layer._claimed or layer in existing:
            # a nested model's layers name its parameters too: their names are taken as well
            for name in [layer.name, *getattr(layer, "nested_layer_names", ())]:
                other = taken.setdefault(name, layer)
                if other is not layer:
                    raise ValueError(f"two layers of the model are named {name!r}; layer names must "
                                     f"be unique within a model (nested models included)")
    counts = defaultdict(int)
    for layer in new:
        if layer._auto_named and not layer._claimed:
            prefix = _snake(type(layer).__name__)
            while True:
                counts[prefix] += 1
                candidate = f"{prefix}_{counts[prefix]}"
                if candidate not in taken:
                    break
            layer._rename(candidate)
            taken[candidate] = layer
        layer._claimed = True


def _substitute(v: Variable, mapping: dict) -> Variable:
    """v rebuilt with the variables in `mapping` (id -> replacement) replaced, stopping at
    them (unlike graph.replace, which would rebuild a mapped variable from its own inputs).
    Results are memoised in `mapping`."""
    if id(v) in mapping:
        return mapping[id(v)]
    if v.owner is None:
        return v
    stack = [v]
    while stack:
        u = stack[-1]
        if id(u) in mapping or u.owner is None:
            stack.pop()
            continue
        pending = [i for i in u.owner.inputs if id(i) not in mapping and i.owner is not None]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        node = u.owner
        new_inputs = [mapping.get(id(i), i) for i in node.inputs]
        if all(a is b for a, b in zip(new_inputs, node.inputs)):
            for out in node.outputs:
                mapping[id(out)] = out
        else:
            new_node = apply(node.op, new_inputs, loc=node.loc)
            for old, new in zip(node.outputs, new_node.outputs):
                mapping.setdefault(id(old), new)  # never override a layer's replayed output
    return mapping[id(v)]


def _as_list(values) -> tuple:
    if isinstance(values, (list, tuple)):
        return list(values), False
    return [values], True


class Model(Trainer):
    """A functional model: `Model(inputs, outputs)` where outputs were computed from
    `nn.Input(...)` tensors by calling layers (operators between layers are fine too).

    Weight layouts and names are the layers' ("dense_1/kernel", ...); `get_weights()` /
    `set_weights()` use those names.
    """

    def __init__(self, inputs, outputs, name: str | None = None):
        self.name = name or next_name("model")
        inputs, self._single_input = _as_list(inputs)
        outputs, self._single_output = _as_list(outputs)
        self.inputs = [as_variable(v) for v in inputs]
        self.outputs = [as_variable(v) for v in outputs]
        if any(v.owner is not None or isinstance(v, (Shared, Constant)) for v in self.inputs):
            raise ValueError("Model inputs must be graph inputs made by nn.Input(shape) (or th.tensor)")
        self._calls = self._trace_calls()
        layers = []
        for _, call in self._calls:
            if call.layer not in layers:
                layers.append(call.layer)
        _claim([], layers)
        self._layers = layers

    # ---- structure --------------------------------------------------------------------

    def _trace_calls(self) -> list:
        """[(output variable, LayerCall)] between the inputs and outputs, in call order."""
        input_ids = {id(v) for v in self.inputs}
        visited, order = set(), []
        stack = [(v, False) for v in reversed(self.outputs)]
        while stack:
            v, done = stack.pop()
            if done:
                order.append((v, call_of(v)))
                continue
            if id(v) in visited or id(v) in input_ids:
                continue
            visited.add(id(v))
            call = call_of(v)
            if call is not None:
                stack.append((v, True))
                preds = call.inputs
            elif v.owner is None:
                if not isinstance(v, (Shared, Constant)):
                    raise ValueError(f"the model's outputs depend on {v.describe()}, which is not one "
                                     f"of its inputs; pass it in Model(inputs=...)")
                continue
            else:
                preds = v.owner.inputs
            stack.extend((p, False) for p in reversed(preds))
        return order

    @property
    def layers(self) -> list:
        return list(self._layers)

    def cut(self, layer_name: str, name: str | None = None) -> "Model":
        """The model from this model's inputs to the output of its layer `layer_name` (its
        first call): the features a new head is put on. It shares this model's layers and
        weights, so freezing it (`trainable = False`) freezes them here too."""
        layer = self.get_layer(layer_name)
        outs = [out for out, call in self._calls if call.layer is layer]
        inputs = self.inputs[0] if self._single_input else self.inputs
        return Model(inputs, outs[0], name=name or f"{self.name}_to_{layer_name}")

    def get_layer(self, name: str) -> Layer:
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise KeyError(f"model {self.name!r} has no layer {name!r}; its layers are "
                       f"{', '.join(l.name for l in self._layers) or 'none'}")

    @property
    def params(self) -> list:
        """Every parameter of every layer (trainable or not), in layer order."""
        seen, out = set(), []
        for layer in self._layers:
            for p in layer.params:
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append(p)
        return out

    @property
    def trainable_params(self) -> list:
        keep = {id(p) for layer in self._layers for p in layer.trainable_params}
        return [p for p in self.params if id(p) in keep]

    @property
    def non_trainable_params(self) -> list:
        keep = {id(p) for p in self.trainable_params}
        return [p for p in self.params if id(p) not in keep]

    @property
    def trainable(self) -> bool:
        return all(layer.trainable for layer in self._layers)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        for layer in self._layers:
            layer.trainable = value

    @property
    def updates(self) -> list:
        """(shared, new_value) pairs recorded by the layers in the last training call."""
        return [u for layer in self._layers for u in layer.updates]

    def count_params(self) -> int:
        return int(sum(np.prod(p.type.shape, dtype=np.int64) for p in self.params))

    @property
    def input_shape(self):
        """The input shape without the batch dim (a list of them for several inputs)."""
        shapes = [tuple(v.type.shape[1:]) for v in self.inputs]
        return shapes[0] if self._single_input else shapes

    def output_shape(self, input_shape=None):
        """The output shape without the batch dim, for the model's inputs (or `input_shape`)."""
        if input_shape is None:
            shapes = [tuple(v.type.shape[1:]) for v in self.outputs]
        else:
            given = [input_shape] if self._single_input else list(input_shape)
            xs = [Input(s, v.dtype) for s, v in zip(given, self.inputs)]
            shapes = [tuple(v.type.shape[1:]) for v in _as_list(self(xs if len(xs) > 1 else xs[0]))[0]]
        return shapes[0] if self._single_output else shapes

    # ---- calling ----------------------------------------------------------------------

    def __call__(self, inputs, training: bool = False):
        """The model applied to new symbolic inputs; training=True runs layers in training mode
        (dropout, batch statistics) and leaves their state updates in `model.updates`."""
        xs, _ = _as_list(inputs)
        if len(xs) != len(self.inputs):
            raise TypeError(f"model {self.name!r} takes {len(self.inputs)} input(s), got {len(xs)}")
        xs = [as_variable(x) for x in xs]
        if not training and all(a is b for a, b in zip(xs, self.inputs)):
            outs = list(self.outputs)
        else:
            mapping = {id(old): new for old, new in zip(self.inputs, xs)}
            for out, call in self._calls:
                ins = [_substitute(v, mapping) for v in call.inputs]
                result = call.layer(ins if call.multi else ins[0], training=training)
                # a layer returning [output, *states] is recorded by its first output
                mapping[id(out)] = result[0] if isinstance(result, (list, tuple)) else result
            outs = [_substitute(v, mapping) for v in self.outputs]
        return outs[0] if self._single_output else outs

    # ---- inspection -------------------------------------------------------------------

    def _summary_rows(self) -> list:
        rows = [(v.name or "input", "Input", v.type.shape, None) for v in self.inputs]
        seen = set()
        for out, call in self._calls:
            first = id(call.layer) not in seen
            seen.add(id(call.layer))
            rows.append((call.layer.name, type(call.layer).__name__, out.type.shape,
                         call.layer if first else None))
        return rows

    def summary(self, print_fn=print) -> str:
        """A table of the layers: name (type), output shape, parameter count and parameter
        memory in bytes, then totals. Printed with `print_fn` (None: not printed); returned."""
        text = summary_text(self, self._summary_rows())
        if print_fn is not None:
            print_fn(text)
        return text

    # ---- weights ----------------------------------------------------------------------

    def get_weights(self) -> dict:
        """{parameter name: a copy of its value} for every parameter (running statistics too)."""
        return {p.name: p.get_value() for p in self.params}

    def set_weights(self, weights: dict, strict: bool = True) -> None:
        """Set parameters from {name: array}. Every problem (a missing name when strict, an
        unknown name, a wrong shape or an unsafe dtype) is reported at once, and then nothing
        is changed."""
        if not isinstance(weights, dict):
            raise TypeError(f"set_weights takes a dict of name -> array, got {type(weights).__name__}")
        params = {p.name: p for p in self.params}
        problems, values = [], {}
        missing = [n for n in params if n not in weights]
        if strict and missing:
            problems.append(f"missing: {', '.join(missing)}")
        unknown = [n for n in weights if n not in params]
        if unknown:
            problems.append(f"not parameters of model {self.name!r}: {', '.join(map(str, unknown))}")
        for name, value in weights.items():
            p = params.get(name)
            if p is None:
                continue
            arr = np.asarray(value)
            if arr.shape != tuple(p.type.shape):
                problems.append(f"{name}: expected shape {format_shape(p.type.shape)}, got "
                                f"{format_shape(arr.shape)}")
            elif not np.can_cast(arr.dtype, p.dtype, "same_kind"):
                problems.append(f"{name}: cannot store {arr.dtype} values in a {p.dtype} parameter")
            else:
                values[name] = arr.astype(p.dtype, copy=True)
        if problems:
            raise ValueError("set_weights changed nothing:\n  " + "\n  ".join(problems))
        for name, arr in values.items():
            params[name].set_value(arr, borrow=True)   # arr is set_weights' own copy

    def load_state_dict(self, state: dict, mapping=None, strict: bool = True) -> None:
        """Set parameters from a PyTorch state dict ({torch name: tensor or array}, e.g. from
        `th.io.load_state_dict(path)`), converting torch's layouts (a Linear weight is a Dense
        kernel transposed). Layers named like the torch modules ("layer1.0.conv1") take their
        keys; `mapping` ({torch prefix: layer name} or a function key -> key) renames the
        others. Every missing, unexpected and mis-shaped key is reported at once (missing and
        unexpected only when strict), and then nothing is changed."""
        fill_from_state_dict(self, state, mapping, strict)

    # ---- configs ----------------------------------------------------------------------

    def get_config(self) -> dict:
        """A JSON-able description of the architecture (not the weights). Only models whose
        layers are joined directly (no operators between layers) have one."""
        ids = {id(v): ["input", i] for i, v in enumerate(self.inputs)}
        calls = []
        for j, (out, call) in enumerate(self._calls):
            refs = []
            for v in call.inputs:
                if id(v) not in ids:
                    raise ValueError(f"model {self.name!r} applies operators between layers (into "
                                     f"{call.layer.name!r}); wrap them in layers to get a config")
                refs.append(ids[id(v)])
            calls.append({"layer": call.layer.name, "inputs": refs, "multi": call.multi})
            ids[id(out)] = ["call", j]
        outputs = []
        for v in self.outputs:
            if id(v) not in ids:
                raise ValueError(f"model {self.name!r} applies operators after its last layers; wrap "
                                 f"them in layers to get a config")
            outputs.append(ids[id(v)])
        return {"class_name": "Model", "name": self.name,
                "inputs": [{"name": v.name, "shape": list(v.type.shape[1:]), "dtype": v.dtype}
                           for v in self.inputs],
                "single_input": self._single_input, "single_output": self._single_output,
                "layers": [serialize_layer(layer) for layer in self._layers],
                "calls": calls, "outputs": outputs}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        """A new model (fresh weights) from `get_config()`'s dict, of either model class."""
        if config.get("class_name") == "Sequential":
            return Sequential.from_config(config, custom_objects)
        inputs = [Input(spec["shape"], spec["dtype"], spec.get("name")) for spec in config["inputs"]]
        layers = {spec["config"]["name"]: layer_from_config(spec, custom_objects) for spec in config["layers"]}
        made = []

        def resolve(ref):
            return inputs[ref[1]] if ref[0] == "input" else made[ref[1]]

        for call in config["calls"]:
            ins = [resolve(r) for r in call["inputs"]]
            made.append(layers[call["layer"]](ins if call["multi"] else ins[0]))
        outputs = [resolve(r) for r in config["outputs"]]
        return Model(inputs[0] if config.get("single_input", True) else inputs,
                     outputs[0] if config.get("single_output", True) else outputs, name=config.get("name"))

    def save(self, path) -> Path:
        """Write the whole model to the file `path`: its config and weights (a safetensors
        file, no pickle) and, when compiled, what compile was given, so that
        `th.nn.load_model(path)` returns it ready to evaluate or train on. Optimiser state and
        the position in a run are not kept: that is a training checkpoint's job
        (callbacks.ModelCheckpoint)."""
        config = self.get_config()
        compiled = self.get_compile_config() if self._compiled else None
        return save_model_file(path, config, compiled, {p.name: p.get_value() for p in self.params})

    # ---- training data (the loop is Trainer's) ---------------------------------------------

    def _input_dtype(self) -> str:
        return self.inputs[0].dtype if self.inputs else getattr(self, "dtype", "float32")

    def input_array(self, x) -> np.ndarray:
        x = np.asarray(x)
        dtype = self._input_dtype()
        return x if x.dtype == np.dtype(dtype) else x.astype(dtype)

    def batch_inputs(self, x, y):
        """A fresh symbolic batch like the model's input (or, for a Sequential not built yet,
        like the data), and one like the targets."""
        if len(self.inputs) > 1 or not self._single_output:
            raise ValueError("fit/evaluate/predict take models with one input and one output")
        shape = self.inputs[0].type.shape[1:] if self.inputs else np.shape(x)[1:]
        xv = tensor("x", (None, *shape), self._input_dtype())
        return xv, None if y is None else self._target_var(y)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}: {len(self._layers)} layers>"


class Sequential(Model):
    """Layers applied one after another: `Sequential([...], input_shape=(1, 28, 28))`.

    input_shape (no batch dim) builds the model at once; without it the first call builds
    it. dtype: the input's dtype. seed: initialise the layers from this seed (layer i from
    (seed, i)) instead of th.seed's stream.
    """

    def __init__(self, layers=None, input_shape=None, name: str | None = None, dtype: str = "float32",
                 seed: int | None = None):
        self.name = name or next_name("sequential")
        self.dtype = dtype
        self.seed = None if seed is None else int(seed)
        self._layers = []
        self._single_input = self._single_output = True
        self.inputs, self.outputs, self._calls = [], [], []
        layers = [as_layer(layer) for layer in (layers or [])]
        for layer in layers:
            self._check_layer(layer)
        _claim([], layers)  # all at once: auto names avoid every user name in the list
        for layer in layers:
            self.add(layer)
        if input_shape is None and layers and isinstance(layers[0], ModelLayer):
            # a model first (a pretrained trunk) fixes the input: build at once
            first = layers[0].model.inputs[0]
            input_shape, self.dtype = tuple(first.type.shape[1:]), first.dtype
        if input_shape is not None:
            self.build(input_shape)

    @property
    def built(self) -> bool:
        return bool(self.inputs)

    def add(self, layer: Layer) -> None:
        """Append a layer (applied to the current output when the model is built); a Model
        is added as one layer (a ModelLayer)."""
        layer = as_layer(layer)
        self._check_layer(layer)
        _claim(self._layers, [layer])
        if self.seed is not None and not layer.built:
            layer._model_seed = (self.seed, str(len(self._layers)))
        self._layers.append(layer)
        if self.built:
            self._apply_last()

    def _check_layer(self, layer) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes layers, got {layer!r}")
        if layer.takes_list:
            raise TypeError(f"layer {layer.name!r} ({type(layer).__name__}) takes several inputs; use "
                            f"the functional Model for it")
        if layer in self._layers:
            raise ValueError(f"layer {layer.name!r} is already in {self.name!r}")
        if getattr(layer, "return_state", False):
            raise TypeError(f"layer {layer.name!r} returns its states as well (return_state=True), "
                            f"but a Sequential passes one tensor on; use the functional Model")

    def _apply_last(self) -> None:
        out = self._layers[-1](self.outputs[0])
        self._calls.append((out, call_of(out)))
        self.outputs = [out]

    def build(self, input_shape) -> None:
        """Build the layers for inputs of `input_shape` (no batch dim)."""
        x = Input(input_shape, self.dtype, name="input")
        self.inputs, self.outputs, self._calls = [x], [x], []
        layers, self._layers = self._layers, []
        try:
            for layer in layers:
                self._layers.append(layer)
                self._apply_last()
        except Exception:
            self._layers = layers
            self.inputs, self.outputs, self._calls = [], [], []
            raise

    def _require_built(self) -> None:
        if not self.built:
            raise ValueError(f"Sequential {self.name!r} is not built: give input_shape= or call it "
                             f"on a tensor first")

    def __call__(self, inputs, training: bool = False):
        if isinstance(inputs, (list, tuple)):
            raise TypeError(f"Sequential {self.name!r} takes one input")
        x = as_variable(inputs)
        if not self.built:
            self.dtype = x.dtype
            self.build(x.type.shape[1:])
        if not training and x is self.inputs[0]:
            return self.outputs[0]
        for layer in self._layers:
            x = layer(x, training=training)
        return x

    @property
    def input_shape(self):
        self._require_built()
        return tuple(self.inputs[0].type.shape[1:])

    def summary(self, print_fn=print) -> str:
        self._require_built()
        return super().summary(print_fn)

    def output_shape(self, input_shape=None):
        if input_shape is None:
            self._require_built()
            return tuple(self.outputs[0].type.shape[1:])
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = tuple(layer.output_shape(shape))
        return shape

    def get_config(self) -> dict:
        return {"class_name": "Sequential", "name": self.name,
                "input_shape": list(self.inputs[0].type.shape[1:]) if self.built else None,
                "dtype": self.dtype, "seed": self.seed,
                "layers": [serialize_layer(layer) for layer in self._layers]}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        if config.get("class_name", "Sequential") != "Sequential":
            return Model.from_config(config, custom_objects)
        layers = [layer_from_config(spec, custom_objects) for spec in config["layers"]]
        shape = config.get("input_shape")
        return cls(layers, input_shape=None if shape is None else tuple(shape), name=config.get("name"),
                   dtype=config.get("dtype", "float32"), seed=config.get("seed"))


class ModelLayer(Layer):
    """A model used as one layer of another: `nn.Sequential([trunk, nn.Dense(10)])` wraps the
    trunk in one. The layer is the model itself, not a copy: its parameters (named as in
    the model, "conv1/kernel"), its `trainable` flag (setting it freezes or unfreezes every
    layer of the model) and its layers' state updates are the model's. Its config holds
    the model's config, so models containing it save and load."""

    def __init__(self, model, name: str | None = None, dtype: str | None = None):
        if not isinstance(model, Model):
            raise TypeError(f"ModelLayer wraps an nn.Model, got {type(model).__name__}")
        if isinstance(model, Sequential) and not model.built:
            raise ValueError(f"Sequential {model.name!r} is not built, so it cannot be used as a layer: "
                             f"give it input_shape= first")
        if len(model.inputs) != 1 or not model._single_output:
            raise TypeError(f"model {model.name!r} has {len(model.inputs)} inputs and "
                            f"{len(model.outputs)} outputs; a model used as a layer takes one and gives one")
        super().__init__(name=name or model.name, dtype=dtype)
        self.model = model

    # the model's layers, weights and flags are this layer's
    @property
    def nested_layer_names(self) -> list:
        return [layer.name for layer in self.model.layers]

    def _rename(self, name: str) -> None:
        self._name = name  # the parameters keep the model's names

    @property
    def trainable(self) -> bool:
        return self.model.trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self.model.trainable = value

    @property
    def params(self) -> list:
        return self.model.params

    @property
    def trainable_params(self) -> list:
        return self.model.trainable_params

    @property
    def non_trainable_params(self) -> list:
        return self.model.non_trainable_params

    def param(self, key: str) -> Shared:
        """The model's parameter named `key` ("conv1/kernel")."""
        for p in self.model.params:
            if p.name == key:
                return p
        raise KeyError(f"model {self.model.name!r} has no parameter {key!r}")

    def count_params(self) -> int:
        return self.model.count_params()

    def param_bytes(self) -> int:
        return int(sum(layer.param_bytes() for layer in self.model.layers))

    def build(self, input_shape) -> None:
        expected = tuple(self.model.inputs[0].type.shape[1:])
        given = tuple(input_shape)
        if len(given) != len(expected) or any(a is not None and b is not None and a != b
                                              for a, b in zip(given, expected)):
            raise ValueError(f"layer {self.name!r} (model {self.model.name!r}) takes inputs of shape "
                             f"{format_shape((None, *expected))}, got {format_shape((None, *given))}")
        self.compute_dtype = self.dtype or self.model.inputs[0].dtype

    def output_shape(self, input_shape):
        shape = self.model.output_shape(input_shape if self.model._single_input else [input_shape])
        return shape if self.model._single_output else shape[0]

    def call(self, x, training: bool = False):
        out = self.model(self.cast_input(x), training=training)
        if training:
            self.updates = self.model.updates
        return out

    def get_config(self) -> dict:
        config = {"name": self.name, "dtype": self.dtype, "model": self.model.get_config()}
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        config = dict(config)
        model = model_from_config(config.pop("model"), custom_objects)
        return cls(model, **config)


def as_layer(layer):
    """`layer`, or a Model wrapped as a ModelLayer."""
    return ModelLayer(layer) if isinstance(layer, Model) else layer


def model_from_config(config: dict, custom_objects: dict | None = None) -> Model:
    """A Sequential or functional Model from its `get_config()` dict."""
    return Model.from_config(config, custom_objects)


def _model_from_file_config(config, weights: dict, where, custom_objects) -> Model:
    """The model of a file's config, each parameter checked against the file's tensors before
    it is allocated; a config that cannot be built is an error naming the file."""
    try:
        with parameters_from(weights, where):
            return model_from_config(config, custom_objects)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        raise CheckpointError(f"{where}: the model config cannot be built: {type(e).__name__}: {e}") from None


def load_model(path, compile: bool = True, device=None, custom_objects: dict | None = None) -> Model:
    """The model saved by `model.save(path)` (a file) or in a training checkpoint (a
    directory written by callbacks.ModelCheckpoint): rebuilt from its config, with its
    weights; compile=True compiles it as it was (a training checkpoint: with the run's
    optimiser settings, its state fresh). Every parameter the config asks for is checked
    against the file before anything is allocated."""
    path = Path(path)
    if path.is_dir():
        tensors, meta = load_training_checkpoint(path)
        config = meta.get("model_config")
        if config is None:
            raise CheckpointError(f"{path}: the model has no config (operators between layers?); build "
                                  f"it in code and call model.set_weights from the checkpoint's tensors")
        weights = group(tensors, "model/")
        compiled = {"optimizer": meta["optimizer"], "loss": meta["loss"], "metrics": meta["metrics"]}
    else:
        if not path.exists():
            raise CheckpointError(f"no model at {path}: the path does not exist")
        config, compiled, weights = read_model_file(path)
    model = _model_from_file_config(config, weights, path, custom_objects)
    try:
        model.set_weights(weights)
    except ValueError as e:
        raise CheckpointError(f"{path}: {e}") from None
    if compile and compiled is not None:
        model.compile(compiled["optimizer"], compiled["loss"], compiled["metrics"], device=device)
    return model
