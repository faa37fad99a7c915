"""`th.op`: a new operator from a Python function, the same kind of op as theon's own.

    @th.op
    def swish(x, beta: float = 1.0):              # inputs first, then attributes
        return x * torch.sigmoid(beta * x)        # the kernel: torch tensors in and out

    @swish.grad
    def _(x, y, gy, beta):                        # inputs, outputs, output gradients, attributes
        s = th.sigmoid(beta * x)                  # symbolic: a theon graph, so it
        return [gy * (s + beta * x * s * (1 - s))]  # differentiates again

    y = swish(x, beta=2.0)                        # a node of the graph, like th.exp(x)

The decorator makes one frozen-dataclass `th.Op` subclass (`swish.op_class`) whose fields
are the attributes, so hash-consing, autodiff, `th.testing.verify_grad` and the compiler
treat it as any built-in op. Parameters without a default are tensor inputs (`*xs` takes
any number); parameters with a default, or keyword-only ones, are attributes: hashable
values (numbers, strings, tuples) converted to their annotation (`beta=2` is `beta=2.0`),
so equal attributes share a node.

Shape and dtype inference: by default each output has the first input's type (with
`elementwise=True`, the inputs broadcast and their dtypes promote); `@swish.infer` gives a
function of the input variables and attributes returning TensorTypes; `infer="meta"`
derives it by running the kernel on PyTorch's meta tensors (no data, no time).

`kernel=` replaces the function body per device: a callable, or `{"cuda": fn, "cpu": fn}`
with the body used on other devices (so a compiled C++ or CUDA function from
`th.ops.load_inline`, or a Triton launch, runs where it can and the body elsewhere).
Such kernels take the tensors, then the attribute values in order, all positional.

Every op made here is registered by its qualified name (`module.function`), which is what
model configs record, and carries a `domain` and `name` for exporters (an ONNX
custom-domain node). `op_config(op)` / `op_from_config(config)` turn an op into JSON-able
data and back.

Subclassing `th.Op` by hand is the same contract written out: a frozen dataclass with
`name`, `infer(*inputs) -> [TensorType]`, `kernel(*tensors)` and
`grad(inputs, outputs, output_grads) -> [Variable | None]`.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
import re
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import torch

from ..backend.interop import torch_dtype
from ..errors import DTypeError, GradientError, ShapeError, TheonError
from ..graph import TensorType, Variable
from .axes import broadcast_shapes
from .base import Op, as_variable, result_dtype, user_errors

__all__ = ["CustomOp", "OpDefinition", "find_op", "op", "op_config", "op_from_config", "registered_op"]

_registry: dict = {}
_ATTR_TYPES = (bool, int, float, str, tuple, type(None))
# sizes given to unknown dims when inference runs the kernel on meta tensors: two runs, and
# an output dim that differs between them is unknown too
_META_SIZES = (8, 12)


@dataclasses.dataclass(frozen=True)
class CustomOp(Op):
    """Base class of ops made by `th.op`; `definition` holds the user's functions."""
    definition: ClassVar["OpDefinition"] = None
    capturable: ClassVar[bool] = False  # runs the user's Python, which may read values on the host

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            object.__setattr__(self, f.name, _attribute(self.name, f.name, value, f.type))

    @property
    def attributes(self) -> dict:
        """{attribute name: value}, in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def infer(self, *inputs):
        d = self.definition
        if d.infer_fn is not None:
            types = d.infer_fn(*inputs, **self.attributes)
        elif d.infer_mode == "meta":
            types = _meta_infer(self, inputs)
        elif not inputs:
            raise ShapeError(f"{self.name} has no tensor inputs, so its output type cannot be "
                             f"the first input's: give one with @{d.name}.infer")
        elif self.elementwise:
            shape = broadcast_shapes(*(i.type.shape for i in inputs))
            types = [TensorType(result_dtype(*inputs), shape)] * d.nout
        else:
            types = [inputs[0].type] * d.nout
        return _type_list(self.name, types, d.nout)

    def kernel(self, *tensors):
        d = self.definition
        device_kernel = d.kernels.get(tensors[0].device.type) if d.kernels and tensors else None
        if device_kernel is not None:
            result = device_kernel(*tensors, *self.attributes.values())
        else:
            result = d.fn(*tensors, **self.attributes)
        return _as_tensors(self.name, result, d.nout, tensors)

    def grad(self, inputs, outputs, output_grads):
        d = self.definition
        if d.grad_fn is None:
            raise GradientError(f"{self.name} has no gradient: define one with @{d.name}.grad")
        if d.variadic:
            result = d.grad_fn(list(inputs), list(outputs), list(output_grads), **self.attributes)
        else:
            result = d.grad_fn(*inputs, *outputs, *output_grads, **self.attributes)
        if isinstance(result, Variable) or result is None:
            result = [result]
        result = [None if g is None else as_variable(g) for g in result]
        if len(result) != len(inputs):
            raise GradientError(f"@{d.name}.grad returned {len(result)} gradient(s) for "
                                f"{len(inputs)} input(s); return one per input (None where "
                                f"an input takes none)")
        return result


class OpDefinition:
    """What `th.op` returns: call it to build nodes (`swish(x, beta=2.0)`); `.grad`,
    `.infer` register the gradient and inference functions; `.op_class` is the op class."""

    def __init__(self, fn, name, nout, kernel, infer, elementwise, differentiable, impure,
                 allocates, domain):
        if not callable(fn):
            raise TypeError(f"th.op decorates a function, got {fn!r}")
        self.fn = fn
        self.name = name or fn.__name__
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", self.name):
            raise ValueError(f"th.op: an op name is letters, digits, '_' and '.', got {self.name!r}")
        self.nout = int(nout)
        if self.nout < 1:
            raise ValueError(f"th.op: nout must be at least 1, got {nout!r}")
        self.qualified_name = f"{fn.__module__}.{fn.__qualname__}"
        self.domain = domain or fn.__module__
        self.signature = inspect.signature(fn)
        self.inputs, self.attribute_names, self.variadic = _split_parameters(self.name, self.signature)
        self.kernels = _kernel_table(self.name, kernel)
        if infer is not None and infer != "meta" and not callable(infer):
            raise ValueError(f"th.op: infer must be a function or 'meta', got {infer!r}")
        self.infer_fn = infer if callable(infer) else None
        self.infer_mode = infer if isinstance(infer, str) else None
        self.grad_fn = None
        self.op_class = _make_class(self, elementwise, differentiable, impure, allocates)
        functools.update_wrapper(self, fn)
        _registry[self.qualified_name] = self

    # ---- registering the user's functions -----------------------------------------------

    def grad(self, fn):
        """Decorator: the symbolic gradient, `fn(*inputs, *outputs, *output_grads, **attrs)`
        returning one gradient per input (a theon Variable, or None). For an op with `*xs`
        inputs: `fn(inputs, outputs, output_grads, **attrs)`, each a list."""
        self.grad_fn = fn
        return fn

    def infer(self, fn):
        """Decorator: output types, `fn(*input_variables, **attrs)` returning a TensorType or
        a list of them (use `x.type`, `x.type.with_shape(...)`, `th.TensorType(dtype, shape)`)."""
        self.infer_fn = fn
        return fn

    # ---- building nodes ----------------------------------------------------------------

    @user_errors
    def __call__(self, *args, **kwargs):
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.name}{self.signature}: {e}") from None
        bound.apply_defaults()
        inputs = []
        for n in self.inputs:
            value = bound.arguments[n]
            inputs.extend(value if n == self.variadic else [value])
        attrs = {n: bound.arguments[n] for n in self.attribute_names}
        op = self.op_class(**attrs)
        return op(*[as_variable(v) for v in inputs])

    def __repr__(self) -> str:
        return f"<theon op {self.qualified_name}{self.signature}>"

    def __reduce__(self):
        return (registered_op, (self.qualified_name,))


def op(fn=None, *, name: str | None = None, nout: int = 1, kernel=None, infer=None,
       elementwise: bool = False, differentiable: bool = True, impure: bool = False,
       allocates: bool = False, domain: str | None = None):
    """Make a theon operator from a Python function of torch tensors (see the module doc).

    name: the op's name in programs and errors (default: the function's). nout: number of
    outputs (the kernel then returns a tuple). kernel: a callable or {device type: callable}
    used instead of the body there. infer: a function, or "meta" (see `OpDefinition.infer`).
    elementwise: outputs broadcast the inputs (gradients are summed back to each input's
    shape). differentiable=False: no gradient flows through (like argmax). impure: the
    result depends on more than the inputs (never folded or merged). allocates: the kernel
    always returns new tensors, never an input or a view of one (lets the compiler reuse
    them). domain: the namespace exporters record (default: the function's module).
    """
    def make(f):
        return OpDefinition(f, name, nout, kernel, infer, elementwise, differentiable, impure,
                            allocates, domain)
    return make(fn) if fn is not None else make


_RAISE = object()


def registered_op(qualified_name: str, missing=_RAISE) -> OpDefinition:
    """The op `th.op` made from the function with this qualified name (module.function);
    `missing` if given is returned for an unknown name instead of raising."""
    found = _registry.get(qualified_name)
    if found is None and missing is not _RAISE:
        return missing
    if found is None:
        raise TheonError(f"unknown op {qualified_name!r}: import the module that defines it "
                         f"(ops made with th.op register when their module is imported)")
    return found


def find_op(domain: str, name: str) -> OpDefinition | None:
    """The op `th.op` made with this domain and name (an ONNX custom-domain node's), None if
    no imported module made one."""
    return next((d for d in reversed(_registry.values()) if d.domain == domain and d.name == name), None)


def op_config(op_instance: Op) -> dict:
    """JSON-able {"op", "domain", "name", "attributes"} of an op made by `th.op`."""
    if not isinstance(op_instance, CustomOp):
        raise TypeError(f"op_config takes an op made with th.op, got {op_instance!r}")
    d = op_instance.definition
    return {"op": d.qualified_name, "domain": d.domain, "name": d.name,
            "attributes": {k: list(v) if isinstance(v, tuple) else v
                           for k, v in op_instance.attributes.items()}}


def op_from_config(config: Mapping) -> Op:
    """The op instance `op_config` described (its module must be imported)."""
    return registered_op(config["op"]).op_class(**dict(config.get("attributes", {})))


# ---- building the class ---------------------------------------------------------------------

_class_ids = itertools.count()


def _make_class(d: OpDefinition, elementwise, differentiable, impure, allocates):
    params = d.signature.parameters
    field_specs = []
    for n in d.attribute_names:
        p = params[n]
        kind = _annotation(p)
        default = dataclasses.MISSING if p.default is inspect.Parameter.empty else p.default
        if default is not dataclasses.MISSING:
            default = _attribute(d.name, n, default, kind)
        field_specs.append((n, kind, dataclasses.field(default=default, kw_only=True)))
    class_name = "".join(part.title() for part in re.split(r"[^A-Za-z0-9]+", d.name) if part) or "UserOp"
    namespace = {"name": d.name, "nout": d.nout, "definition": d, "elementwise": bool(elementwise),
                 "differentiable": bool(differentiable), "impure": bool(impure),
                 "allocates": bool(allocates)}
    cls = dataclasses.make_dataclass(class_name, field_specs, bases=(CustomOp,), frozen=True,
                                     namespace=namespace)
    # pickle (and anyone else) finds the class through the definition: module.fn.op_class
    cls.__module__ = d.fn.__module__
    cls.__qualname__ = f"{d.fn.__qualname__}.op_class"
    return cls


def _split_parameters(name, signature):
    inputs, attrs, variadic = [], [], None
    for p in signature.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            raise TypeError(f"th.op {name}: **{p.name} is not allowed; list each attribute")
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            variadic = p.name
            inputs.append(p.name)
        elif p.kind is inspect.Parameter.KEYWORD_ONLY or p.default is not inspect.Parameter.empty:
            attrs.append(p.name)
        else:
            inputs.append(p.name)
    return inputs, attrs, variadic


def _annotation(p):
    ann = p.annotation
    if isinstance(ann, str):  # `from __future__ import annotations` leaves names as strings
        ann = {"float": float, "int": int, "bool": bool, "str": str, "tuple": tuple}.get(
            ann.split("[")[0].strip(), object)
    if ann is inspect.Parameter.empty:
        default = p.default
        ann = type(default) if default is not inspect.Parameter.empty and default is not None else object
    if ann is list:
        ann = tuple
    return ann if ann in (bool, int, float, str, tuple) else object


def _attribute(op_name, attr, value, kind):
    """An attribute value converted to its declared kind; hashable and JSON-able."""
    where = f"{op_name}: attribute {attr!r}"
    if isinstance(value, (list, tuple)):
        value = tuple(_attribute(op_name, attr, v, object) for v in value)
    elif isinstance(value, np.generic):
        value = value.item()
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, (int, float)) and not isinstance(value, bool):
        if value != int(value):
            raise TypeError(f"{where} must be a whole number, got {value!r}")
        return int(value)
    if kind not in (object,) and not isinstance(value, kind):
        raise TypeError(f"{where} must be {kind.__name__}, got {type(value).__name__} {value!r}")
    if not isinstance(value, _ATTR_TYPES):
        raise TypeError(f"{where} must be a number, string, bool, None or a tuple of them "
                        f"(attributes are hashed and saved in configs), got {type(value).__name__}")
    return value


def _kernel_table(name, kernel) -> dict:
    if kernel is None:
        return {}
    table = dict(kernel) if isinstance(kernel, Mapping) else {"cpu": kernel, "cuda": kernel}
    for device, fn in table.items():
        if device not in ("cpu", "cuda", "mps", "xpu") or not callable(fn):
            raise TypeError(f"th.op {name}: kernel= takes a callable or {{device type: callable}} "
                            f"with device types cpu, cuda, ...; got {device!r}: {fn!r}")
    return table


# ---- inference and kernels ------------------------------------------------------------------

def _type_list(name, types, nout) -> list:
    if isinstance(types, TensorType):
        types = [types]
    types = list(types)
    if len(types) != nout or not all(isinstance(t, TensorType) for t in types):
        raise ShapeError(f"{name}: inference must give {nout} TensorType(s), got {types!r}")
    return types


def _meta_infer(op: CustomOp, inputs) -> list:
    """Output types from running the kernel on meta tensors, twice when some dims are
    unknown (an output dim that changes with the unknown input dims is unknown)."""
    unknown = any(d is None for i in inputs for d in i.type.shape)
    runs = []
    for size in (_META_SIZES if unknown else _META_SIZES[:1]):
        metas = [torch.empty(tuple(size if d is None else d for d in i.type.shape),
                             dtype=torch_dtype(i.dtype), device="meta") for i in inputs]
        try:
            result = op.definition.fn(*metas, **op.attributes)
        except Exception as e:
            raise ShapeError(f"{op.name}: running the kernel on meta tensors (infer='meta') "
                             f"failed: {type(e).__name__}: {e}; give the types with "
                             f"@{op.definition.name}.infer") from None
        runs.append(_as_tensors(op.name, result, op.definition.nout, metas))
    first = runs[0] if isinstance(runs[0], tuple) else (runs[0],)
    last = runs[-1] if isinstance(runs[-1], tuple) else (runs[-1],)
    types = []
    for a, b in zip(first, last):
        if a.ndim != b.ndim:
            raise ShapeError(f"{op.name}: the output's rank depends on unknown input dims; give "
                             f"the types with @{op.definition.name}.infer")
        shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
        types.append(TensorType(str(a.dtype).removeprefix("torch."), shape))
    return types


def _as_tensors(name, result, nout, tensors):
    """The kernel's result as one tensor (nout == 1) or a tuple of nout tensors."""
    results = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if len(results) != nout:
        raise DTypeError(f"{name}: the kernel returned {len(results)} value(s); the op has "
                         f"{nout} output(s)")
    if not all(isinstance(r, torch.Tensor) for r in results):
        device = tensors[0].device if tensors else None
        results = tuple(r if isinstance(r, torch.Tensor) else torch.as_tensor(r, device=device)
                        for r in results)
    return results[0] if nout == 1 else results
