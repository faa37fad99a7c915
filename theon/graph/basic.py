"""Variables and nodes: the immutable, hash-consed graph."""
from __future__ import annotations

import itertools
import weakref

import numpy as np

from ..backend.dtypes import DTYPES as _SUPPORTED
from ..backend.interop import to_torch
from ..errors import TheonError
from .source import SourceLoc, user_location
from .types import TensorType, canonical_dtype, default_dtype

_ids = itertools.count()


class Variable:
    """A symbolic tensor: the output `index` of `owner`, or a graph input when owner is None.

    Identity is object identity; operators on variables are attached by `theon.ops`.
    """

    __slots__ = ("type", "owner", "index", "name", "loc", "uid", "__weakref__")
    __array_priority__ = 1000  # so `ndarray + Variable` defers to Variable.__radd__

    def __init__(self, type: TensorType, owner=None, index: int = 0, name: str | None = None,
                 loc: SourceLoc | None = None):
        self.type = type
        self.owner = owner
        self.index = index
        self.name = name
        self.loc = loc if loc is not None else user_location()
        self.uid = next(_ids)

    dtype = property(lambda self: self.type.dtype)
    ndim = property(lambda self: self.type.ndim)
    static_shape = property(lambda self: self.type.shape)

    def __repr__(self) -> str:
        label = self.name or (f"{self.owner.op.name}.out{self.index}" if self.owner else "input")
        return f"<{type(self).__name__} {label}: {self.type}>"

    def __bool__(self):
        raise TypeError(
            "a symbolic tensor has no truth value while the graph is built; "
            "use th.where or th.cond for data-dependent choices")

    def __iter__(self):
        raise TypeError("a symbolic tensor cannot be iterated; index it or use th.scan")

    def describe(self) -> str:
        """'x: float32[?, 784]' for error messages."""
        return f"{self.name or 'unnamed'}: {self.type}"


class Constant(Variable):
    """A value baked into the graph. Small constants are interned so equal values merge.

    `weak` marks a constant made from a Python scalar: it takes the dtype of what it meets
    (NumPy's NEP 50 promotion), so `x_float32 * 0.5` stays float32.
    """

    __slots__ = ("value", "weak", "_device_cache", "_uniform")

    def __init__(self, value: np.ndarray, weak: bool = False):
        super().__init__(TensorType(value.dtype.name, value.shape), loc=None)
        value = np.array(value, copy=True)
        value.setflags(write=False)
        self.value = value
        self.weak = weak
        self._device_cache = {}
        self._uniform = ()

    @property
    def uniform_value(self):
        """The one value every element holds (a Python scalar), or None if they differ."""
        if self._uniform == ():
            flat = self.value.reshape(-1)
            same = flat.size > 0 and bool((flat == flat[0]).all())
            self._uniform = flat[0].item() if same else None
        return self._uniform

    def __repr__(self) -> str:
        text = np.array2string(self.value, threshold=6)
        return f"<Constant {text}: {self.type}>"

    def tensor(self, device):
        """The value as a torch tensor on `device` (made once per device)."""
        t = self._device_cache.get(device)
        if t is None:
            t = to_torch(self.value, device=device)
            self._device_cache[device] = t
        return t


def is_python_data(value) -> bool:
    """A Python number or (nested) list of them, not NumPy or torch data (which keep their dtype)."""
    return not isinstance(value, (np.ndarray, np.generic)) and type(value).__module__ != "torch"


_constants: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()
_INTERN_MAX_SIZE = 256


def constant(value, dtype=None, weak: bool = False) -> Constant:
    """Make (or reuse) a constant of `value`, cast to `dtype` if given."""
    arr = np.asarray(value, dtype=None if dtype is None else canonical_dtype(dtype))
    if dtype is None and not weak and arr.dtype.kind in "fc" and is_python_data(value):
        # Python floats (and lists of them) get the default dtype; NumPy data keeps its own;
        # weak scalars keep full precision until they meet the dtype they adopt
        arr = arr.astype(default_dtype(arr.dtype.kind))
    if arr.dtype.name not in _SUPPORTED:
        if arr.dtype.kind == "U" or arr.dtype == object:
            raise TypeError(f"cannot make a tensor constant from {value!r}")
        arr = arr.astype(canonical_dtype(arr.dtype))
    if arr.size > _INTERN_MAX_SIZE:
        return Constant(arr, weak)
    key = (arr.dtype.name, arr.shape, arr.tobytes(), weak)
    c = _constants.get(key)
    if c is None:
        c = Constant(arr, weak)
        _constants[key] = c
    return c



class Node:
    """One application of an op: immutable, and unique for a given (op, inputs)."""

    __slots__ = ("op", "inputs", "outputs", "loc", "__weakref__")

    def __init__(self, op, inputs: tuple, output_types, loc):
        self.op = op
        self.inputs = inputs
        self.loc = loc
        self.outputs = tuple(Variable(t, self, i, loc=loc) for i, t in enumerate(output_types))

    def __repr__(self) -> str:
        return f"<Node {self.op}>"


_nodes: "weakref.WeakValueDictionary" = weakref.WeakValueDictionary()


def apply(op, inputs, loc: SourceLoc | None = None) -> Node:
    """The node for `op(*inputs)`: built once, then shared (hash-consing gives CSE for free).

    Shape and dtype inference runs here, so an impossible graph fails at the user's line.
    """
    inputs = tuple(inputs)
    key = (op, inputs)
    node = _nodes.get(key)
    if node is not None:
        return node
    if loc is None:
        loc = user_location()
    try:
        types = op.infer(*inputs)
    except TheonError as e:
        # the frames inside inference say nothing to the user: the message names their line
        raise _at(e, op, inputs, loc).with_traceback(None) from None
    node = Node(op, inputs, types, loc)
    _nodes[key] = node
    return node


def _at(error: Exception, op, inputs, loc) -> Exception:
    """The same error with the op, its input types and the user's line appended."""
    types = ", ".join(str(i.type) for i in inputs)
    where = f"\n  at {loc}" if loc is not None else ""
    error.args = (f"{op.name}: {error.args[0] if error.args else ''}\n  inputs: {types}{where}",)
    return error
