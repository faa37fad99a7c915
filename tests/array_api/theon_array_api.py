"""A thin eager Array API namespace over theon, to run the Array API conformance suite
(data-apis/array-api-tests) against theon's semantics. See README.md in this folder.

Every function call builds theon's graph for that one call and runs it: array operands
become inputs (`th.tensor` of the array's shape and dtype), Python scalars are passed on as
they are (so they stay weak), and the compiled function (`th.function`, cached per call
signature) gives the result. The adapter adds no semantics of its own: it renames
functions and arguments to theon's and converts values; where theon has no function, the
name is absent here, and the suite reports it. The conversions it makes:

- `Array` holds the NumPy array a compiled theon function returned; `float(x)`, `int(x)`,
  `bool(x)`, `x.__dlpack__()` read that value.
- Operands that theon takes as static attributes, not data (index keys, `repeats`, shapes),
  are passed as NumPy values, as a user holding concrete data would pass them.
- Dtype objects are NumPy dtypes; `finfo`/`iinfo` report NumPy's (theon's dtypes are NumPy's).
"""
from __future__ import annotations

import builtins
import math
import operator
from collections import OrderedDict, namedtuple

import numpy as np

import theon as th
from theon.ops.base import result_dtype as _theon_result_dtype

__array_api_version__ = "2024.12"

bool = np.dtype("bool")
int8, int16, int32, int64 = (np.dtype(n) for n in ("int8", "int16", "int32", "int64"))
uint8 = np.dtype("uint8")
float32, float64 = np.dtype("float32"), np.dtype("float64")
complex64, complex128 = np.dtype("complex64"), np.dtype("complex128")
_DTYPES = {str(d): d for d in (bool, int8, int16, int32, int64, uint8, float32, float64, complex64, complex128)}

e, pi, inf, nan, newaxis = math.e, math.pi, math.inf, math.nan, None

_CACHE: OrderedDict = OrderedDict()
_CACHE_SIZE = 4096


class Array:
    """An eager array: the NumPy value a compiled theon function returned."""

    __slots__ = ("_value",)
    __array_priority__ = 2000

    def __init__(self, value):
        self._value = np.asarray(value)

    # ---- attributes ----
    dtype = property(lambda self: self._value.dtype)
    shape = property(lambda self: tuple(self._value.shape))
    ndim = property(lambda self: self._value.ndim)
    size = property(lambda self: int(self._value.size))
    device = property(lambda self: "cpu")
    T = property(lambda self: permute_dims(self, tuple(range(self.ndim))[::-1]))
    mT = property(lambda self: matrix_transpose(self))

    def __array_namespace__(self, api_version=None):
        import sys
        return sys.modules[__name__]

    def to_device(self, device, /, *, stream=None):
        _check_device(device)
        return self

    def __repr__(self):
        return f"Array({self._value!r})"

    # ---- conversions to Python values ----
    def __bool__(self):
        return builtins.bool(self._value)

    def __int__(self):
        return int(self._value)

    def __float__(self):
        return float(self._value)

    def __complex__(self):
        return complex(self._value)

    def __index__(self):
        return operator.index(self._value.item() if self._value.ndim == 0 else self._value)

    def __dlpack__(self, *args, **kwargs):
        return self._value.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._value.__dlpack_device__()

    # ---- indexing ----
    def __getitem__(self, key):
        return _call(lambda x: x[_key_values(key)], self)


def _key_values(key):
    """An index key with Arrays as NumPy values (theon takes keys as static attributes)."""
    if isinstance(key, tuple):
        return tuple(_key_values(k) for k in key)
    if isinstance(key, slice):
        return slice(*(operator.index(b) if isinstance(b, Array) else b for b in (key.start, key.stop, key.step)))
    return key._value if isinstance(key, Array) else key


def _operator(fn, reflected=False):
    if reflected:
        return lambda self, other: _call(lambda a, b: fn(b, a), self, other)
    return lambda self, other: _call(fn, self, other)


for _name, _fn in {"add": operator.add, "sub": operator.sub, "mul": operator.mul,
                   "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
                   "pow": operator.pow, "matmul": operator.matmul, "and": operator.and_,
                   "or": operator.or_, "xor": operator.xor, "lshift": operator.lshift,
                   "rshift": operator.rshift}.items():
    setattr(Array, f"__{_name}__", _operator(_fn))
    setattr(Array, f"__r{_name}__", _operator(_fn, reflected=True))
for _name, _fn in {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}.items():
    setattr(Array, f"__{_name}__", _operator(_fn))
Array.__eq__ = _operator(lambda a, b: th.equal(a, b))
Array.__ne__ = _operator(lambda a, b: th.not_equal(a, b))
Array.__hash__ = None
Array.__neg__ = lambda self: _call(operator.neg, self)
Array.__pos__ = lambda self: _call(operator.pos, self)
Array.__abs__ = lambda self: _call(operator.abs, self)
Array.__invert__ = lambda self: _call(operator.invert, self)


# ---- calling theon -------------------------------------------------------------------------

def _signature(value):
    if isinstance(value, Array):
        return ("A", value.dtype.str, value.shape)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_signature(v) for v in value))
    if isinstance(value, dict):
        return ("d", tuple(sorted((k, _signature(v)) for k, v in value.items())))
    if isinstance(value, np.ndarray):
        return ("n", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, (builtins.bool, int, float, complex)):
        return (type(value).__name__, value, math.copysign(1.0, value) if isinstance(value, float) else 0)
    return (type(value).__name__, repr(value))


def _symbolic(value, inputs, arrays):
    """`value` with each Array replaced by a theon input of its shape and dtype."""
    if isinstance(value, Array):
        v = th.tensor(f"a{len(inputs)}", value.shape, value.dtype.name)
        inputs.append(v)
        arrays.append(value._value)
        return v
    if isinstance(value, (list, tuple)):
        return type(value)(_symbolic(v, inputs, arrays) for v in value)
    if isinstance(value, dict):
        return {k: _symbolic(v, inputs, arrays) for k, v in value.items()}
    return value


def _collect(value, arrays):
    if isinstance(value, Array):
        arrays.append(value._value)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _collect(v, arrays)
    elif isinstance(value, dict):
        for v in value.values():
            _collect(v, arrays)
    return arrays


def _call(fn, *args, **kwargs):
    """fn(*args, **kwargs) on theon variables, compiled and run; Arrays in, Arrays out."""
    key = (fn, _signature(args), _signature(kwargs))
    try:
        compiled, structure = _CACHE[key]
        _CACHE.move_to_end(key)
        arrays = _collect((args, kwargs), [])
    except (KeyError, TypeError):  # TypeError: an unhashable argument; compile uncached
        inputs, arrays = [], []
        sym_args, sym_kwargs = _symbolic((args, kwargs), inputs, arrays)
        out = fn(*sym_args, **sym_kwargs)
        structure = "tuple" if isinstance(out, (tuple, list)) else "one"
        outs = list(out) if structure == "tuple" else [out]
        compiled = th.function(inputs, outs)
        try:
            _CACHE[key] = (compiled, structure)
            if len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        except TypeError:
            pass
    results = [Array(r) for r in compiled(*arrays)]
    return tuple(results) if structure == "tuple" else results[0]


def _check_device(device):
    if device not in (None, "cpu"):
        raise ValueError(f"this adapter runs theon on the CPU; got device {device!r}")


def _dtype(dtype):
    return None if dtype is None else np.dtype(dtype).name


# ---- creation --------------------------------------------------------------------------------

def asarray(obj, /, *, dtype=None, device=None, copy=None):
    _check_device(device)
    if isinstance(obj, Array):
        if dtype is None or np.dtype(dtype) == obj.dtype:
            return Array(obj._value.copy()) if copy else obj
        if copy is False:
            raise ValueError("asarray: a dtype change needs a copy")
        return astype(obj, dtype)
    if copy is False and not isinstance(obj, np.ndarray):
        raise ValueError("asarray: copy=False needs an array to share memory with")
    value = _python_values(obj)
    return _call(lambda: th.constant(value, dtype=_dtype(dtype)))


def _python_values(obj):
    """Nested sequences with 0-d Arrays read as Python scalars (their values)."""
    if isinstance(obj, Array):
        return obj._value.item() if obj.ndim == 0 else obj._value
    if isinstance(obj, (list, tuple)):
        return [_python_values(o) for o in obj]
    return obj


def zeros(shape, *, dtype=None, device=None):
    _check_device(device)
    return _call(lambda: th.zeros(shape, _dtype(dtype)))


def ones(shape, *, dtype=None, device=None):
    _check_device(device)
    return _call(lambda: th.ones(shape, _dtype(dtype)))


def full(shape, fill_value, *, dtype=None, device=None):
    _check_device(device)
    return _call(lambda: th.full(shape, fill_value, _dtype(dtype)))


def empty(shape, *, dtype=None, device=None):
    _check_device(device)
    return _call(lambda: th.empty(shape, _dtype(dtype)))


def empty_like(x, /, *, dtype=None, device=None):
    _check_device(device)
    return _call(lambda v: th.empty_like(v, _dtype(dtype)), x)


def zeros_like(x, /, *, dtype=None, device=None):
    _check_device(device)
    return _call(lambda v: th.zeros_like(v, _dtype(dtype)), x)


def ones_like(x, /, *, dtype=None, device=None):
    _check_device(device)
    return _call(lambda v: th.ones_like(v, _dtype(dtype)), x)


def full_like(x, /, fill_value, *, dtype=None, device=None):
    _check_device(device)
    return _call(lambda v: th.full_like(v, fill_value, _dtype(dtype)), x)


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    _check_device(device)
    return _call(lambda: th.eye(n_rows, n_cols, k, _dtype(dtype)))


def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    _check_device(device)
    return _call(lambda: th.arange(start, stop, step, _dtype(dtype)))


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True):
    _check_device(device)
    return _call(lambda: th.linspace(start, stop, num, endpoint, _dtype(dtype)))


def tril(x, /, *, k=0):
    return _call(lambda v: th.tril(v, k), x)


def triu(x, /, *, k=0):
    return _call(lambda v: th.triu(v, k), x)


# ---- data types --------------------------------------------------------------------------------

def astype(x, dtype, /, *, copy=True, device=None):
    _check_device(device)
    if not copy and np.dtype(dtype) == x.dtype:
        return x
    return _call(lambda v: th.cast(v, _dtype(dtype)), x)


def result_type(*arrays_and_dtypes):
    """theon's promotion: arrays and dtypes as tensors of their dtype, scalars weak."""
    operands = []
    for a in arrays_and_dtypes:
        if isinstance(a, Array):
            operands.append(th.tensor(None, (), a.dtype.name))
        elif isinstance(a, (builtins.bool, int, float, complex)):
            operands.append(th.ops.as_variable(a))
        else:
            operands.append(th.tensor(None, (), np.dtype(a).name))
    return np.dtype(_theon_result_dtype(*operands))


_finfo = namedtuple("finfo", ["bits", "eps", "max", "min", "smallest_normal", "dtype"])
_iinfo = namedtuple("iinfo", ["bits", "max", "min", "dtype"])


def finfo(type, /):
    """NumPy's finfo of the dtype (theon's dtypes are NumPy's), its numbers as Python floats."""
    info = np.finfo(type.dtype if isinstance(type, Array) else type)
    real = np.dtype(info.dtype)
    return _finfo(info.bits, float(info.eps), float(info.max), float(info.min), float(info.smallest_normal), real)


def iinfo(type, /):
    info = np.iinfo(type.dtype if isinstance(type, Array) else type)
    return _iinfo(info.bits, int(info.max), int(info.min), np.dtype(info.dtype))


class _Info:
    """__array_namespace_info__(): what this namespace supports."""

    def capabilities(self):
        return {"boolean indexing": False, "data-dependent shapes": False, "max dimensions": 64}

    def default_device(self):
        return "cpu"

    def devices(self):
        return ["cpu"]

    def default_dtypes(self, *, device=None):
        from theon.graph.types import DEFAULT_COMPLEX, DEFAULT_FLOAT, DEFAULT_INT
        return {"real floating": np.dtype(DEFAULT_FLOAT), "complex floating": np.dtype(DEFAULT_COMPLEX),
                "integral": np.dtype(DEFAULT_INT), "indexing": np.dtype(DEFAULT_INT)}

    def dtypes(self, *, device=None, kind=None):
        kinds = {"bool": ["bool"], "signed integer": ["int8", "int16", "int32", "int64"],
                 "unsigned integer": ["uint8"], "real floating": ["float32", "float64"],
                 "complex floating": ["complex64", "complex128"]}
        kinds["integral"] = kinds["signed integer"] + kinds["unsigned integer"]
        kinds["numeric"] = kinds["integral"] + kinds["real floating"] + kinds["complex floating"]
        if kind is None:
            return dict(_DTYPES)
        names = [n for k in ((kind,) if isinstance(kind, str) else kind) for n in kinds[k]]
        return {n: _DTYPES[n] for n in names}


def __array_namespace_info__():
    return _Info()


# ---- elementwise -----------------------------------------------------------------------------

def _unary(fn):
    return lambda x, /: _call(fn, x)


def _binary(fn):
    return lambda x1, x2, /: _call(fn, x1, x2)


# Array API name -> theon name; names theon lacks are left out of this namespace
_UNARY = {"abs": "abs", "acos": "arccos", "asin": "arcsin", "atan": "arctan", "acosh": "arccosh",
          "asinh": "arcsinh", "atanh": "arctanh", "bitwise_invert": "invert", "ceil": "ceil",
          "conj": "conj", "cos": "cos", "cosh": "cosh", "exp": "exp", "expm1": "expm1",
          "floor": "floor", "imag": "imag", "isfinite": "isfinite", "isinf": "isinf",
          "isnan": "isnan", "log": "log", "log1p": "log1p", "log2": "log2", "log10": "log10",
          "logical_not": "logical_not", "negative": "negative", "real": "real",
          "reciprocal": "reciprocal", "round": "round", "sign": "sign", "signbit": "signbit",
          "sin": "sin", "sinh": "sinh", "sqrt": "sqrt", "square": "square", "tan": "tan",
          "tanh": "tanh", "trunc": "trunc"}
_BINARY = {"add": "add", "atan2": "arctan2", "bitwise_and": "bitwise_and",
           "bitwise_left_shift": "left_shift", "bitwise_or": "bitwise_or",
           "bitwise_right_shift": "right_shift", "bitwise_xor": "bitwise_xor",
           "copysign": "copysign", "divide": "divide", "equal": "equal",
           "floor_divide": "floor_divide", "greater": "greater", "greater_equal": "greater_equal",
           "hypot": "hypot", "less": "less", "less_equal": "less_equal", "logaddexp": "logaddexp",
           "logical_and": "logical_and", "logical_or": "logical_or", "logical_xor": "logical_xor",
           "maximum": "maximum", "minimum": "minimum", "multiply": "multiply",
           "nextafter": "nextafter", "not_equal": "not_equal", "pow": "power",
           "remainder": "mod", "subtract": "subtract"}
for _name, _theon in _UNARY.items():
    if hasattr(th, _theon):
        globals()[_name] = _unary(getattr(th, _theon))
for _name, _theon in _BINARY.items():
    if hasattr(th, _theon):
        globals()[_name] = _binary(getattr(th, _theon))
positive = _unary(operator.pos)   # theon's unary + on a variable


def clip(x, /, min=None, max=None):
    return _call(lambda v, lo, hi: th.clip(v, lo, hi), x, min, max)


# ---- manipulation ---------------------------------------------------------------------------

def concat(arrays, /, *, axis=0):
    return _call(lambda xs: th.concatenate(xs, axis=axis), list(arrays))


def stack(arrays, /, *, axis=0):
    return _call(lambda xs: th.stack(xs, axis=axis), list(arrays))


def expand_dims(x, /, *, axis=0):
    return _call(lambda v: th.expand_dims(v, axis), x)


def squeeze(x, /, axis):
    return _call(lambda v: th.squeeze(v, axis), x)


def flip(x, /, *, axis=None):
    return _call(lambda v: th.flip(v, axis), x)


def roll(x, /, shift, *, axis=None):
    return _call(lambda v: th.roll(v, shift, axis), x)


def moveaxis(x, source, destination, /):
    return _call(lambda v: th.moveaxis(v, source, destination), x)


def permute_dims(x, /, axes):
    return _call(lambda v: th.transpose(v, axes), x)


def reshape(x, /, shape, *, copy=None):
    if copy is False:
        raise NotImplementedError("theon decides itself when a reshape is a view")
    return _call(lambda v: th.reshape(v, shape), x)


def broadcast_to(x, /, shape):
    return _call(lambda v: th.broadcast_to(v, shape), x)


def tile(x, repetitions, /):
    return _call(lambda v: th.tile(v, repetitions), x)


def repeat(x, repeats, /, *, axis=None):
    repeats = repeats._value if isinstance(repeats, Array) else repeats
    return _call(lambda v: th.repeat(v, repeats, axis), x)


# ---- searching, statistics, utility -------------------------------------------------------------

def where(condition, x1, x2, /):
    return _call(th.where, condition, x1, x2)


def argmax(x, /, *, axis=None, keepdims=False):
    return _call(lambda v: th.argmax(v, axis, keepdims=keepdims), x)


def argmin(x, /, *, axis=None, keepdims=False):
    return _call(lambda v: th.argmin(v, axis, keepdims=keepdims), x)


def _reduction(fn, with_dtype=False, with_correction=False):
    def reduce(x, /, *, axis=None, keepdims=False, dtype=None, correction=0.0):
        kw = {"keepdims": keepdims}
        if with_dtype:
            kw["dtype"] = _dtype(dtype)
        if with_correction:
            kw["ddof"] = correction
        return _call(lambda v: fn(v, axis, **kw), x)
    return reduce


sum = _reduction(th.sum, with_dtype=True)
prod = _reduction(th.prod, with_dtype=True)
mean = _reduction(th.mean)
var = _reduction(th.var, with_correction=True)
std = _reduction(th.std, with_correction=True)
max = _reduction(th.max)
min = _reduction(th.min)
all = _reduction(th.all)
any = _reduction(th.any)


def cumulative_sum(x, /, *, axis=None, dtype=None, include_initial=False):
    return _call(lambda v: th.cumulative_sum(v, axis=axis, dtype=_dtype(dtype),
                                             include_initial=include_initial), x)


def cumulative_prod(x, /, *, axis=None, dtype=None, include_initial=False):
    return _call(lambda v: th.cumulative_prod(v, axis=axis, dtype=_dtype(dtype),
                                              include_initial=include_initial), x)



# ---- indexing and linear algebra ------------------------------------------------------------

def take(x, indices, /, *, axis=None):
    return _call(lambda v, i: th.take(v, i, axis), x, indices)


def take_along_axis(x, indices, /, *, axis=-1):
    return _call(lambda v, i: th.take_along_axis(v, i, axis), x, indices)


def matmul(x1, x2, /):
    return _call(th.matmul, x1, x2)


def matrix_transpose(x, /):
    return _call(th.matrix_transpose, x)


def tensordot(x1, x2, /, *, axes=2):
    return _call(lambda a, b: th.tensordot(a, b, axes), x1, x2)


class linalg:
    """The linalg extension, for the functions theon has."""
    matmul = staticmethod(matmul)
    matrix_transpose = staticmethod(matrix_transpose)
    tensordot = staticmethod(tensordot)

    @staticmethod
    def cholesky(x, /, *, upper=False):
        return _call(th.cholesky, x, upper=upper)

    @staticmethod
    def det(x, /):
        return _call(th.det, x)

    @staticmethod
    def cross(x1, x2, /, *, axis=-1):
        return _call(th.cross, x1, x2, axis=axis)

    @staticmethod
    def diagonal(x, /, *, offset=0):
        return _call(th.diagonal, x, offset=offset, axis1=-2, axis2=-1)

    @staticmethod
    def trace(x, /, *, offset=0, dtype=None):
        return _call(th.trace, x, offset=offset, axis1=-2, axis2=-1, dtype=_dtype(dtype) if dtype else None)

    @staticmethod
    def inv(x, /):
        return _call(th.inv, x)

    @staticmethod
    def solve(x1, x2, /):
        return _call(th.solve, x1, x2)

    @staticmethod
    def slogdet(x, /):
        sign, logabsdet = _call(th.slogdet, x)
        return _SlogdetResult(sign, logabsdet)

    @staticmethod
    def outer(x1, x2, /):
        return _call(th.outer, x1, x2)

    # the decompositions and the functions built on them (theon's th.linalg)
    @staticmethod
    def svd(x, /, *, full_matrices=True):
        return _SVDResult(*_call(th.linalg.svd, x, full_matrices=full_matrices))

    @staticmethod
    def svdvals(x, /):
        return _call(th.linalg.svdvals, x)

    @staticmethod
    def qr(x, /, *, mode="reduced"):
        return _QRResult(*_call(th.linalg.qr, x, mode=mode))

    @staticmethod
    def eigh(x, /):
        return _EighResult(*_call(th.linalg.eigh, x))

    @staticmethod
    def eigvalsh(x, /):
        return _call(th.linalg.eigvalsh, x)

    @staticmethod
    def pinv(x, /, *, rtol=None):
        return _call(th.linalg.pinv, x, rtol=rtol)

    @staticmethod
    def matrix_rank(x, /, *, rtol=None):
        return _call(th.linalg.matrix_rank, x, rtol=rtol)

    @staticmethod
    def matrix_power(x, n, /):
        return _call(th.linalg.matrix_power, x, n)

    @staticmethod
    def matrix_norm(x, /, *, keepdims=False, ord="fro"):
        return _call(th.linalg.matrix_norm, x, keepdims=keepdims, ord=ord)

    @staticmethod
    def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
        return _call(th.linalg.vector_norm, x, axis=axis, keepdims=keepdims, ord=ord)

    @staticmethod
    def vecdot(x1, x2, /, *, axis=-1):
        return _call(th.linalg.vecdot, x1, x2, axis=axis)


_SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
_SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
_QRResult = namedtuple("QRResult", ["Q", "R"])
_EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])


def vecdot(x1, x2, /, *, axis=-1):
    return _call(th.vecdot, x1, x2, axis=axis)


# sorting, searching and utility functions added to theon after the adapter was written
def sort(x, /, *, axis=-1, descending=False, stable=True):
    return _call(th.sort, x, axis=axis, descending=descending, stable=stable)


def argsort(x, /, *, axis=-1, descending=False, stable=True):
    return _call(th.argsort, x, axis=axis, descending=descending, stable=stable)


def nonzero(x, /):
    return _call(th.nonzero, x)


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    return _call(th.searchsorted, x1, x2, side=side, sorter=sorter)


def meshgrid(*arrays, indexing="xy"):
    return list(_call(th.meshgrid, *arrays, indexing=indexing))


def diff(x, /, *, axis=-1, n=1, prepend=None, append=None):
    return _call(th.diff, x, n=n, axis=axis, prepend=prepend, append=append)


class fft:
    """The fft extension (th.fft)."""

    @staticmethod
    def fft(x, /, *, n=None, axis=-1, norm="backward"):
        return _call(th.fft.fft, x, n=n, axis=axis, norm=norm)

    @staticmethod
    def ifft(x, /, *, n=None, axis=-1, norm="backward"):
        return _call(th.fft.ifft, x, n=n, axis=axis, norm=norm)

    @staticmethod
    def fftn(x, /, *, s=None, axes=None, norm="backward"):
        return _call(th.fft.fftn, x, s=s, axes=axes, norm=norm)

    @staticmethod
    def ifftn(x, /, *, s=None, axes=None, norm="backward"):
        return _call(th.fft.ifftn, x, s=s, axes=axes, norm=norm)

    @staticmethod
    def rfft(x, /, *, n=None, axis=-1, norm="backward"):
        return _call(th.fft.rfft, x, n=n, axis=axis, norm=norm)

    @staticmethod
    def irfft(x, /, *, n=None, axis=-1, norm="backward"):
        return _call(th.fft.irfft, x, n=n, axis=axis, norm=norm)

    @staticmethod
    def rfftn(x, /, *, s=None, axes=None, norm="backward"):
        return _call(th.fft.rfftn, x, s=s, axes=axes, norm=norm)

    @staticmethod
    def irfftn(x, /, *, s=None, axes=None, norm="backward"):
        return _call(th.fft.irfftn, x, s=s, axes=axes, norm=norm)

    @staticmethod
    def hfft(x, /, *, n=None, axis=-1, norm="backward"):
        return _call(th.fft.hfft, x, n=n, axis=axis, norm=norm)

    @staticmethod
    def ihfft(x, /, *, n=None, axis=-1, norm="backward"):
        return _call(th.fft.ihfft, x, n=n, axis=axis, norm=norm)

    @staticmethod
    def fftfreq(n, /, *, d=1.0, dtype=None, device=None):
        _check_device(device)
        return _call(lambda: th.fft.fftfreq(n, d, dtype=_dtype(dtype)))

    @staticmethod
    def rfftfreq(n, /, *, d=1.0, dtype=None, device=None):
        _check_device(device)
        return _call(lambda: th.fft.rfftfreq(n, d, dtype=_dtype(dtype)))

    @staticmethod
    def fftshift(x, /, *, axes=None):
        return _call(th.fft.fftshift, x, axes=axes)

    @staticmethod
    def ifftshift(x, /, *, axes=None):
        return _call(th.fft.ifftshift, x, axes=axes)
