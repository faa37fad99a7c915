"""A Keras model config (Keras 2 or 3, Sequential or functional) as one plain list of layer
calls, so the converter need not know which Keras wrote the file.

Each LayerSpec is one Keras layer: its class, name, config and its calls ("nodes"), each
call a list of the tensors it reads as (layer name, node index, tensor index), in order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import KerasError, KerasFormatError

__all__ = ["LayerSpec", "ModelSpec", "model_spec"]


@dataclass
class LayerSpec:
    class_name: str
    name: str
    config: dict
    nodes: list = field(default_factory=list)  # per call: [(layer, node, tensor), ...]

    def describe(self) -> str:
        return f"layer {self.name!r} ({self.class_name})"


@dataclass
class ModelSpec:
    name: str
    layers: list  # LayerSpec, in an order where every call's inputs come first
    inputs: list  # (layer, node, tensor) of each model input
    outputs: list


def _triple(path, item) -> tuple:
    if not (isinstance(item, (list, tuple)) and len(item) >= 3 and isinstance(item[0], str)
            and all(isinstance(v, int) for v in item[1:3])):
        raise KerasFormatError(f"{path}: a layer reference in the model config is not [name, node, tensor]: "
                               f"{str(item)[:200]}")
    return (item[0], int(item[1]), int(item[2]))


def _refs(path, items) -> list:
    """input_layers / output_layers: one [name, node, tensor] or a list of them."""
    if isinstance(items, (list, tuple)) and items and isinstance(items[0], str):
        items = [items]
    if not isinstance(items, (list, tuple)):
        raise KerasFormatError(f"{path}: the model's input or output layers are not a list")
    return [_triple(path, item) for item in items]


def _keras3_args(path, spec_name, value, out: list) -> None:
    """The keras tensors of a Keras 3 call's args, in order (lists are flattened)."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        history = (value.get("config") or {}).get("keras_history")
        out.append(_triple(path, history))
    elif isinstance(value, (list, tuple)):
        for v in value:
            _keras3_args(path, spec_name, v, out)


def _tensors_in(value) -> bool:
    if isinstance(value, dict):
        return value.get("class_name") == "__keras_tensor__" or any(_tensors_in(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_tensors_in(v) for v in value)
    return False


def _nodes(path, name: str, inbound) -> list:
    if not isinstance(inbound, list):
        raise KerasFormatError(f"{path}: layer {name!r}: inbound_nodes is not a list")
    nodes = []
    for node in inbound:
        if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
            refs: list = []
            _keras3_args(path, name, node.get("args", []), refs)
            if _tensors_in(node.get("kwargs", {})):
                raise KerasError(f"{path}: layer {name!r} is called with tensors as keyword arguments "
                                 f"(initial states or masks); theon does not import such calls")
            nodes.append(refs)
        elif isinstance(node, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
            if any(isinstance(item, (list, tuple)) and len(item) > 3 and _has_tensor_kwargs(item[3])
                   for item in node):
                raise KerasError(f"{path}: layer {name!r} is called with tensors as keyword arguments; "
                                 f"theon does not import such calls")
            nodes.append([_triple(path, item) for item in node])
        else:
            raise KerasFormatError(f"{path}: layer {name!r}: an inbound node is neither a list nor an object")
    return nodes


def _has_tensor_kwargs(kwargs) -> bool:
    return isinstance(kwargs, dict) and any(isinstance(v, list) for v in kwargs.values())


def _layer(path, item) -> LayerSpec:
    if not isinstance(item, dict) or not isinstance(item.get("class_name"), str) \
            or not isinstance(item.get("config"), dict):
        raise KerasFormatError(f"{path}: a layer in the model config is not an object with 'class_name' "
                               f"and 'config': {str(item)[:200]}")
    name = item.get("name", item["config"].get("name"))
    if not isinstance(name, str) or not name or "/" in name:
        raise KerasFormatError(f"{path}: a {item['class_name']} layer has no usable name ({name!r})")
    return LayerSpec(item["class_name"], name, item["config"], _nodes(path, name, item.get("inbound_nodes", [])))


def _batch_shape(config: dict):
    for key in ("batch_shape", "batch_input_shape"):
        if config.get(key) is not None:
            return list(config[key])
    return None


def model_spec(path, config: dict) -> ModelSpec:
    """The ModelSpec of a model config {"class_name", "config"}."""
    kind, body = config["class_name"], config["config"]
    if kind in ("Functional", "Model"):
        if not isinstance(body, dict) or not isinstance(body.get("layers"), list):
            raise KerasFormatError(f"{path}: the functional model config has no list of layers")
        layers = [_layer(path, item) for item in body["layers"]]
        return ModelSpec(str(body.get("name", "model")), layers, _refs(path, body.get("input_layers", [])),
                         _refs(path, body.get("output_layers", [])))
    if kind == "Sequential":
        items = body if isinstance(body, list) else body.get("layers") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise KerasFormatError(f"{path}: the Sequential model config has no list of layers")
        name = str(body.get("name", "sequential")) if isinstance(body, dict) else "sequential"
        return _sequential(path, name, [_layer(path, dict(item, inbound_nodes=[])) for item in items],
                           body.get("build_input_shape") if isinstance(body, dict) else None)
    raise KerasError(f"{path}: the model is a {kind!r}; theon imports Sequential and functional Keras models "
                     f"(a subclassed model's code is not in the file)")


def _sequential(path, name: str, layers: list, build_shape) -> ModelSpec:
    if layers[0].class_name != "InputLayer":
        shape = _batch_shape(layers[0].config) or (list(build_shape) if build_shape else None)
        if shape is None:
            raise KerasError(f"{path}: the Sequential model does not say its input shape (it was saved "
                             f"before it was built); theon needs it")
        cfg = {"batch_shape": shape, "dtype": layers[0].config.get("dtype", "float32")}
        layers.insert(0, LayerSpec("InputLayer", f"{name}_input", cfg))
    prev = layers[0].name
    for spec in layers[1:]:
        spec.nodes = [[(prev, 0, 0)]]
        prev = spec.name
    return ModelSpec(name, layers, [(layers[0].name, 0, 0)], [(prev, 0, 0)])


def input_batch_shape(spec: LayerSpec):
    return _batch_shape(spec.config)
