"""The operator contract, and turning user values into graph variables.

An op is a frozen dataclass: its fields are its attributes (axis, stride, ...), so two
equal ops on the same inputs are the same node. Subclasses implement `infer`, `kernel`
and, where differentiable, `grad`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from ..backend.interop import to_numpy
from ..errors import DTypeError, GradientError, TheonError
from ..graph import Constant, TensorType, Variable, apply, constant, default_dtype, user_location
from ..graph.types import DEFAULT_FLOAT, INT_DTYPES
from ..graph.basic import Node


@dataclass(frozen=True)
class Op:
    name: ClassVar[str] = "op"
    nout: ClassVar[int] = 1
    # the kernel accepts `out=` (a preallocated tensor of the output's shape and dtype)
    supports_out: ClassVar[bool] = False
    # the kernel always returns newly allocated tensors (so they may be written over once
    # dead, and returned without a copy); ops with `out=` kernels count as allocating too
    allocates: ClassVar[bool] = False
    # output 0 may share storage with input 0 (reshape, transpose, slicing)
    view: ClassVar[bool] = False
    # outputs broadcast the inputs, so autodiff sums gradients back to each input's shape
    elementwise: ClassVar[bool] = False
    # False for ops whose outputs carry no gradient (argmax, comparisons, random draws)
    differentiable: ClassVar[bool] = True
    # the output's value depends on more than the inputs (random draws): never fold it
    impure: ClassVar[bool] = False
    # the kernel takes a `device=` keyword (ops that make tensors from no input)
    needs_device: ClassVar[bool] = False
    # the output is input 0 unchanged: the node only gives a value its own variable (a
    # layer's output), and the compiler removes it
    passthrough: ClassVar[bool] = False
    # when set, generated code calls this torch function directly on the inputs
    torch_fn: ClassVar = None
    # whether a CUDA graph may record the kernel (compile/capture.py): False for kernels that
    # read device values on the host (.item(), a branch's predicate) or whose output shapes
    # depend on values (nonzero, unique). None, undeclared: theon's own ops are audited and
    # count as capturable; ops defined outside theon do not (their kernels may run anything)
    capturable: ClassVar[bool | None] = None

    def infer(self, *inputs: Variable) -> list:
        """Output TensorTypes from input variables; raise ShapeError/DTypeError on bad input."""
        raise NotImplementedError(f"{type(self).__name__}.infer")

    def kernel(self, *tensors, out=None):
        """Torch tensors in, torch tensor (or tuple for several outputs) out; no autograd."""
        if self.torch_fn is None:
            raise NotImplementedError(f"{type(self).__name__}.kernel")
        return self.torch_fn(*tensors) if out is None else self.torch_fn(*tensors, out=out)

    def grad(self, inputs, outputs, output_grads) -> list:
        """Symbolic gradients of the inputs (None where an input takes none)."""
        raise GradientError(f"{self.name} has no gradient")

    def bodies(self) -> tuple:
        """The inner graphs (loop and branch bodies) this op runs. The compiler compiles
        them with the program and passes them to `kernel` as `bodies=`: objects whose
        `run(*tensors)` returns the body's outputs and whose `output_types` are concrete."""
        return ()

    def body_input_types(self, input_types) -> list:
        """For each body, the types of its inputs when the op's inputs have these types."""
        return []

    def __call__(self, *inputs):
        node = self.make_node(*inputs)
        return node.outputs[0] if self.nout == 1 else node.outputs

    def make_node(self, *inputs) -> Node:
        return apply(self, [as_variable(i) for i in inputs])

    def __str__(self) -> str:
        attrs = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return f"{self.name}({attrs})" if attrs else self.name


def as_variable(value, dtype=None) -> Variable:
    """A variable for `value`: variables pass through; Python scalars become weak constants."""
    if isinstance(value, Variable):
        return value
    if isinstance(value, (bool, int, float, complex)) and dtype is None:
        if isinstance(value, int) and not isinstance(value, bool) and not _INT64.min <= value <= _INT64.max:
            raise OverflowError(f"Python integer {value} out of bounds for int64")
        return constant(value, weak=True)
    if type(value).__module__ == "torch":
        value = to_numpy(value)
    return constant(value, dtype=dtype)


_INT64 = np.iinfo(np.int64)


def is_weak(v) -> bool:
    """A constant made from a Python scalar: it adopts the dtype of what it meets."""
    return isinstance(v, Constant) and v.weak


def promotion_operand(v: Variable):
    """What NumPy's promotion sees for `v`: its dtype, or for a weak scalar the Python type
    (NEP 50)."""
    if is_weak(v):
        return {"b": np.dtype("bool"), "i": int, "u": int, "f": float, "c": complex}[v.value.dtype.kind]
    return np.dtype(v.dtype)


def promotion_operands(variables) -> list:
    """promotion_operand of each; an expression of weak scalars alone computes in the
    default dtype of their common kind (1.5 + 2 is float32, like th.constant(3.5))."""
    if variables and all(is_weak(v) for v in variables):
        kind = np.result_type(*[v.value.item() for v in variables]).kind
        return [np.dtype(default_dtype(kind))] * len(variables)
    return [promotion_operand(v) for v in variables]


def result_dtype(*variables: Variable) -> str:
    """NumPy's promotion of the inputs' dtypes; Python scalars are weak (NEP 50)."""
    operands = [_as_operand(p) for p in promotion_operands(variables)]
    try:
        return np.result_type(*operands).name
    except TypeError as e:
        raise DTypeError(f"no common dtype for {', '.join(v.dtype for v in variables)}: {e}") from None


def _as_operand(p):
    # np.result_type reads a Python type as a dtype; a Python value stays weak
    return {bool: False, int: 0, float: 0.0, complex: 0j}.get(p, p)


def float_dtype(dtype: str) -> str:
    """The dtype a float-valued function gives for this input dtype (as NumPy's ufuncs do)."""
    if dtype.startswith("float") or dtype.startswith("complex"):
        return dtype
    return np.result_type(np.dtype(dtype), np.float16).name


def check_fits(value, dtype: str) -> None:
    """NumPy 2's rule for a Python integer meeting an integer dtype: out of range is an
    OverflowError (`int8_tensor + 1000`), never a silent wrap."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) \
            and dtype in INT_DTYPES:
        info = np.iinfo(dtype)
        if not info.min <= int(value) <= info.max:
            raise OverflowError(f"Python integer {int(value)} out of bounds for {dtype}")


def tensor(name: str | None = None, shape=(), dtype=DEFAULT_FLOAT) -> Variable:
    """A graph input: `th.tensor("x", shape=(None, 784))`; dims may be None until called
    (dtype: the default float dtype, float32, unless given)."""
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    return Variable(TensorType(dtype, tuple(shape)), name=name)


def user_errors(fn):
    """Errors a public function raises before any node is built name the user's line too
    (the graph layer already adds it to errors raised by `infer`)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except TheonError as e:
            msg = str(e.args[0]) if e.args else ""
            loc = user_location()
            if "\n  at " not in msg and loc is not None:
                e.args = (f"{msg}\n  at {loc}",)
            raise e.with_traceback(None) from None  # keep the user's frames, not theon's
    return wrapper
