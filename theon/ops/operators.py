"""Python operators and NumPy-style methods on Variable, attached here so graph/ lists no ops."""
from __future__ import annotations

import importlib

from ..graph import Variable
from . import elementwise as ew
from .dims import shape_tuple
from .index import IndexedUpdate, getitem
from .linalg import matmul
from .shape import reshape, transpose


def _reflect(fn):
    return lambda self, other: fn(other, self)


def _getitem(self, key):
    return getitem(self, key)


def _method(module: str, name: str):
    def method(self, *args, **kwargs):
        return getattr(importlib.import_module(f"theon.ops.{module}"), name)(self, *args, **kwargs)
    method.__name__ = name
    return method


def _reshape(self, *shape, **kwargs):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return reshape(self, shape, **kwargs)


def _transpose(self, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    return transpose(self, axes or None)


def _shape(self):
    return shape_tuple(self)


def _matmul(a, b):
    return matmul(a, b)


_BINARY = {
    "add": ew.add, "sub": ew.subtract, "mul": ew.multiply, "truediv": ew.divide,
    "floordiv": ew.floor_divide, "mod": ew.mod, "pow": ew.power, "matmul": _matmul,
    "and": ew.bitwise_and, "or": ew.bitwise_or, "xor": ew.bitwise_xor,
    "lshift": ew.left_shift, "rshift": ew.right_shift,
}

for _name, _fn in _BINARY.items():
    setattr(Variable, f"__{_name}__", _fn)
    setattr(Variable, f"__r{_name}__", _reflect(_fn))

Variable.__lt__ = ew.less
Variable.__le__ = ew.less_equal
Variable.__gt__ = ew.greater
Variable.__ge__ = ew.greater_equal
Variable.__neg__ = ew.negative
Variable.__pos__ = lambda self: self
Variable.__abs__ = ew.abs
Variable.__invert__ = ew.invert
Variable.__getitem__ = _getitem
# x.at[key].set(v) / .add(v): functional index updates
Variable.at = property(IndexedUpdate)
# Variables hash by identity; `==` builds a graph only through th.equal, so that variables
# stay usable as dict keys and in sets.
Variable.__hash__ = object.__hash__

Variable.shape = property(_shape)
Variable.T = property(lambda self: _transpose(self))
Variable.reshape = _reshape
Variable.transpose = _transpose
Variable.astype = lambda self, dtype: ew.cast(self, dtype)
Variable.flatten = _method("shape", "ravel")
Variable.ravel = _method("shape", "ravel")
Variable.squeeze = _method("shape", "squeeze")
for _red in ("sum", "mean", "max", "min", "prod", "var", "std", "argmax", "argmin", "any", "all",
             "cumsum", "cumprod"):
    setattr(Variable, _red, _method("reduce", _red))
Variable.dot = _matmul
