"""Activations by name for layers: relu, sigmoid, tanh, softmax, gelu, silu, elu,
leaky_relu, softplus, linear (or None: the identity). Softmax is over the last axis."""
from __future__ import annotations

from ..ops.custom import OpDefinition, registered_op
from ..ops.elementwise import elu, gelu, leaky_relu, relu, sigmoid, silu, softplus, tanh
from ..ops.nn_loss import softmax, log_softmax


def linear(x):
    """The identity."""
    return x


_BY_NAME = {
    "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax, "log_softmax": log_softmax,
    "gelu": gelu, "silu": silu, "swish": silu, "elu": elu, "leaky_relu": leaky_relu,
    "softplus": softplus, "linear": linear,
}
_NAME_OF = {id(fn): name for name, fn in _BY_NAME.items() if name != "swish"}


def get(spec, custom_objects: dict | None = None):
    """The activation function for a name, None (identity) or a callable (returned as is)."""
    if spec is None:
        return linear
    if isinstance(spec, str):
        if custom_objects and spec in custom_objects:
            return custom_objects[spec]
        fn = _BY_NAME.get(spec)
        if fn is None and "." in spec:  # an op made with th.op, by its qualified name
            fn = registered_op(spec, missing=None)
        if fn is None:
            raise ValueError(f"unknown activation {spec!r}; known: {', '.join(sorted(_BY_NAME))} "
                             f"(an op made with th.op is found once its module is imported)")
        return fn
    if callable(spec):
        return spec
    raise TypeError(f"an activation must be a name, None or a callable, got {spec!r}")


def serialize(fn) -> str:
    """The activation's name; a user function is named by its qualified name (resolved by
    `custom_objects` when rebuilt from a config); an op made with th.op by the qualified
    name it is registered under."""
    if isinstance(fn, OpDefinition):
        return fn.qualified_name
    return _NAME_OF.get(id(fn)) or getattr(fn, "__qualname__", repr(fn))


__all__ = ["get", "serialize", "linear"]
