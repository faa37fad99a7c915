"""Shared variables: state that outlives a call (parameters, optimiser slots, RNG state)."""
from __future__ import annotations

import numpy as np
import torch
from numpy.lib.array_utils import byte_bounds

from ..backend import interop
from ..backend.device import default_device, resolve_device
from ..errors import InputError
from .basic import Variable, is_python_data
from .types import TensorType, canonical_dtype, default_dtype, format_shape


class Shared(Variable):
    """A graph input whose value lives on a device between calls.

    Functions read it and their `updates` write it. `default_update`, when set, is the
    update every function that reads this variable applies unless it gives its own
    (used for RNG counters).
    """

    __slots__ = ("_value", "default_update")

    def __init__(self, value, name=None, dtype=None, shape=None, device=None, borrow: bool = False):
        tensor = interop.to_torch(value, dtype=dtype, device=resolve_device(device or default_device()))
        tensor = tensor if borrow else _own(tensor, value)
        static = tuple(tensor.shape) if shape is None else tuple(shape)
        super().__init__(TensorType(interop.dtype_name(tensor.dtype), static), name=name)
        if not self.type.accepts(self.type.dtype, tuple(tensor.shape)):
            raise InputError(f"shared {name!r}: value of shape {tuple(tensor.shape)} does not fit "
                             f"the declared shape {format_shape(static)}")
        self._value = tensor
        self.default_update = None

    @property
    def device(self):
        return self._value.device

    def get_value(self, borrow: bool = False):
        """The value as a NumPy array (a copy unless borrow=True and it lives on the CPU)."""
        arr = interop.to_numpy(self._value)
        return arr if borrow else arr.copy()

    def get_tensor(self):
        """The value as the torch tensor theon holds (do not modify it in place)."""
        return self._value

    def set_value(self, value, borrow: bool = False) -> None:
        """Replace the value; it must have this variable's dtype (or cast safely) and shape.
        borrow=True: where `value` already has the dtype and device, keep it rather than a
        copy. The caller hands it over and must not write to it afterwards: compiled
        programs may keep work done on the old values (compile/hoist.py)."""
        self._value = self._checked(value, self._value.device, borrow)

    def _checked(self, value, device, borrow: bool = False):
        src = interop.source_dtype(value)
        if src is not None and src != self.type.dtype and not np.can_cast(src, self.type.dtype, "same_kind"):
            raise InputError(f"shared {self.name!r} holds {self.type.dtype}; cannot store a {src} value")
        tensor = interop.to_torch(value, dtype=self.type.dtype, device=device)
        tensor = tensor if borrow else _own(tensor, value)
        if not self.type.accepts(self.type.dtype, tuple(tensor.shape)):
            raise InputError(f"shared {self.name!r} has shape {format_shape(self.type.shape)}; "
                             f"got a value of shape {tuple(tensor.shape)}")
        return tensor

    def _move_to(self, device) -> None:
        if self._value.device != device:
            self._value = self._value.to(device)


def _own(tensor, value):
    """A tensor no caller holds: theano.shared's default (borrow=False). Training updates a
    shared variable in place, which must not write into the caller's array; and the caller's
    later writes to it must not reach theon behind its back (compiled programs cache work
    on weights by tensor identity and version, compile/hoist.py)."""
    if isinstance(value, (np.ndarray, np.generic, torch.Tensor)) and _aliases(tensor, value):
        return tensor.clone()
    return tensor


def _aliases(tensor, value) -> bool:
    storage = tensor.untyped_storage()
    if isinstance(value, torch.Tensor):
        return storage.data_ptr() == value.untyped_storage().data_ptr()
    if tensor.device.type != "cpu":
        return False
    low, high = byte_bounds(np.asarray(value))
    return storage.data_ptr() < high and low < storage.data_ptr() + storage.nbytes()


def shared(value, name: str | None = None, dtype=None, shape=None, device=None,
           borrow: bool = False) -> Shared:
    """A shared variable holding `value` (NumPy array, torch tensor, list or scalar).

    `shape` may declare dims as None so later `set_value` calls can change them.
    borrow=True: where `value` already has the dtype and device, the variable keeps it
    instead of a copy (theano.shared's borrow). The caller hands it over: training writes
    into it, and the caller must not write to it (compiled programs may keep work done on
    the old values).
    """
    if dtype is not None:
        dtype = canonical_dtype(dtype)
    elif is_python_data(value):
        kind = np.asarray(value).dtype.kind   # Python floats follow the one default-dtype rule
        dtype = default_dtype(kind) if kind in "fc" else None
    return Shared(value, name=name, dtype=dtype, shape=shape, device=device, borrow=borrow)
