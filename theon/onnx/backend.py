"""theon as an ONNX backend (`onnx.backend.base.Backend`), so ONNX's own backend test suite
(`onnx.backend.test.BackendTest(theon.onnx.backend, __name__)`) runs against theon."""
from __future__ import annotations

import re

import numpy as np
import onnx
from onnx.backend.base import Backend, BackendRep, Device, DeviceType, namedtupledict

from ..compile import function
from .errors import OnnxImportError
from .importer.load import load

_SHAPE_ARGUMENT = ("must be a constant", "depend on the data", "depends on the data")
_MAX_BOUND = 64


class TheonRep(BackendRep):
    """A prepared model: the imported theon model and its compiled function.

    A model whose inputs include shape arguments (axes, sizes, pads fed as graph inputs)
    cannot be built before those values are known: it is imported at `run`, with its small
    integer inputs fixed to the values given (one import per distinct set of values)."""

    def __init__(self, proto):
        self.proto = proto
        self.out_dtypes = [_np_dtype(o) for o in proto.graph.output]
        self.in_dtypes = {i.name: _np_dtype(i) for i in proto.graph.input}
        self.names = [i.name for i in proto.graph.input
                      if i.name not in {t.name for t in proto.graph.initializer}]
        self._bound: dict = {}
        try:
            self.model = load(proto)
        except OnnxImportError as e:
            if not any(s in str(e) for s in _SHAPE_ARGUMENT):
                raise
            self.model = None
        self.function = None if self.model is None else self._compile(self.model)

    @staticmethod
    def _compile(model):
        return function(list(model.inputs), list(model.outputs), name="onnx_model")

    def _for_values(self, args):
        """The model imported with the inputs it needs as constants fixed to `args`: the
        importer names each such input in its error; fix it and import again."""
        by_name = dict(zip(self.names, args))
        key = tuple((n, a.dtype.str, a.shape, a.tobytes()) for n, a in by_name.items()
                    if a.size <= _MAX_BOUND)
        entry = self._bound.get(key)
        if entry is None:
            fixed = {}
            while True:
                try:
                    model = load(self.proto, constants=fixed)
                    break
                except OnnxImportError as e:
                    name = _named_input(str(e), by_name, fixed)
                    if name is None:
                        raise
                    fixed[name] = by_name[name]
            entry = (self._compile(model), [n for n in self.names if n not in fixed])
            self._bound[key] = entry
        fn, rest = entry
        return fn, [by_name[n] for n in rest]

    def run(self, inputs, **kwargs):
        if isinstance(inputs, dict):
            inputs = [inputs[n] for n in self.names]
        elif not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        args = [_carried(np.asarray(x)) for x in inputs]
        if self.model is None:
            fn, args = self._for_values(args)
        else:
            fn = self.function
        outs = fn(*args)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        names = [f"output_{i}" for i in range(len(outs))]
        outs = [_uncarried(np.asarray(o), d) for o, d in zip(outs, self.out_dtypes)]
        return namedtupledict("Outputs", names)(*outs)


_CARRIED = {np.dtype("uint16"): np.int32, np.dtype("uint32"): np.int64, np.dtype("uint64"): np.int64}


def _carried(a: np.ndarray) -> np.ndarray:
    """Unsigned inputs theon has no dtype for, in the signed type that carries them."""
    carrier = _CARRIED.get(a.dtype)
    return a if carrier is None else a.astype(carrier)


def _uncarried(a: np.ndarray, declared) -> np.ndarray:
    """An output in a carrier type back in the unsigned type the graph declares (only that:
    any other dtype difference is left for the caller to see)."""
    if declared is not None and _CARRIED.get(declared) is not None and a.dtype == np.dtype(_CARRIED[declared]):
        return a.astype(declared)
    return a


def _np_dtype(info):
    """The NumPy dtype an ONNX graph output declares (None when not a plain tensor)."""
    if not info.type.HasField("tensor_type") or not info.type.tensor_type.elem_type:
        return None
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(info.type.tensor_type.elem_type))
    except (KeyError, TypeError, ValueError):
        return None


def _named_input(message: str, inputs: dict, fixed: dict):
    """The graph input a 'must be a constant' import error names, if any."""
    if not any(s in message for s in _SHAPE_ARGUMENT):
        return None
    found = re.search(r"\('([^']*)'", message)
    if found and found.group(1) in inputs and found.group(1) not in fixed:
        return found.group(1)
    # a value computed from inputs: fix the small integer inputs one by one, then scalars
    # of any dtype (a trip count computed from float bounds, as Range's expansion does)
    rest = [n for n, a in inputs.items() if n not in fixed and a.dtype.kind in "iub" and a.size <= _MAX_BOUND]
    rest = rest or [n for n, a in inputs.items() if n not in fixed and a.size == 1]
    return rest[0] if rest else None


class TheonBackend(Backend):
    @classmethod
    def is_compatible(cls, model, device: str = "CPU", **kwargs) -> bool:
        return True

    @classmethod
    def prepare(cls, model, device: str = "CPU", **kwargs):
        super().prepare(model, device, **kwargs)
        if not isinstance(model, onnx.ModelProto):
            model = onnx.load_model_from_string(bytes(model))
        return TheonRep(model)

    @classmethod
    def run_model(cls, model, inputs, device: str = "CPU", **kwargs):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node, inputs, device: str = "CPU", outputs_info=None, **kwargs):
        raise NotImplementedError("theon runs whole ONNX models; wrap the node in a graph")

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return Device(device).type == DeviceType.CPU


prepare = TheonBackend.prepare
run_model = TheonBackend.run_model
run_node = TheonBackend.run_node
supports_device = TheonBackend.supports_device
is_compatible = TheonBackend.is_compatible
