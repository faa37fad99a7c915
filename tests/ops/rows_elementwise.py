"""Op-table rows for elementwise operators (NumPy references)."""
import numpy as np
import scipy.special as sp

import theon as th
from theon.errors import DTypeError, ShapeError
from theon.testing import ErrorCase, OpInfo, Sample, positive, rand


def _unary_samples(make):
    return lambda rng: [Sample((make(rng, 3, 4),)), Sample((make(rng, 5),)), Sample((make(rng),))]


def _binary_samples(make=rand):
    return lambda rng: [
        Sample((make(rng, 3, 4), make(rng, 3, 4))),
        Sample((make(rng, 3, 1), make(rng, 4))),          # broadcasting both ways
        Sample((make(rng, 2, 3), 0.75)),                   # Python scalar (weak)
        Sample((make(rng, 2, 3).astype("float32"), make(rng, 3).astype("float32")), grad=False),
    ]


def _away_from_zero(rng, *shape):
    x = rand(rng, *shape)
    return np.where(np.abs(x) < 0.2, 0.5, x)


def _off_integers(rng, *shape):
    """Values at least 0.1 from every integer and half-integer (no rounding kinks)."""
    return np.asarray(rng.integers(-3, 3, size=shape) + rng.choice([0.2, 0.3, 0.7, 0.8], size=shape), "float64")


def _unit(rng, *shape):
    return rand(rng, *shape, low=-0.9, high=0.9)


_np_sigmoid = lambda x: sp.expit(x)
_np_softplus = lambda x: np.logaddexp(0, x)
UNARY = [
    ("negative", th.negative, np.negative, rand),
    ("abs", th.abs, np.abs, _away_from_zero),
    ("sign", th.sign, np.sign, _away_from_zero),
    ("exp", th.exp, np.exp, rand),
    ("expm1", th.expm1, np.expm1, rand),
    ("log", th.log, np.log, positive),
    ("log1p", th.log1p, np.log1p, positive),
    ("log2", th.log2, np.log2, positive),
    ("sqrt", th.sqrt, np.sqrt, positive),
    ("rsqrt", th.rsqrt, lambda x: 1 / np.sqrt(x), positive),
    ("square", th.square, np.square, rand),
    ("reciprocal", th.reciprocal, np.reciprocal, positive),
    ("sin", th.sin, np.sin, rand),
    ("cos", th.cos, np.cos, rand),
    ("tan", th.tan, np.tan, rand),
    ("arcsin", th.arcsin, np.arcsin, _unit),
    ("arccos", th.arccos, np.arccos, _unit),
    ("arctan", th.arctan, np.arctan, rand),
    ("sinh", th.sinh, np.sinh, rand),
    ("cosh", th.cosh, np.cosh, rand),
    ("tanh", th.tanh, np.tanh, rand),
    ("sigmoid", th.sigmoid, _np_sigmoid, rand),
    ("softplus", th.softplus, _np_softplus, rand),
    ("relu", th.relu, lambda x: np.maximum(x, 0), _away_from_zero),
    ("silu", th.silu, lambda x: x * _np_sigmoid(x), rand),
    ("gelu", th.gelu, lambda x: x * 0.5 * (1 + sp.erf(x / np.sqrt(2))), rand),
    ("gelu_tanh", lambda x: th.gelu(x, approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))), rand),
    ("leaky_relu", lambda x: th.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x), _away_from_zero),
    ("elu", th.elu, lambda x: np.where(x > 0, x, np.expm1(x)), _away_from_zero),
    ("erf", th.erf, sp.erf, rand),
    ("floor", th.floor, np.floor, _off_integers),
    ("ceil", th.ceil, np.ceil, _off_integers),
    ("round", th.round, np.round, _off_integers),
    ("round_decimals", lambda x: th.round(x, 1), lambda x: np.round(x, 1), _off_integers),
    ("clip", lambda x: th.clip(x, -0.5, 0.25), lambda x: np.clip(x, -0.5, 0.25), _away_from_zero),
    ("log10", th.log10, np.log10, positive), ("arcsinh", th.arcsinh, np.arcsinh, rand),
    ("arccosh", th.arccosh, np.arccosh, lambda rng, *shape: np.asarray(positive(rng, *shape) + 1.0)),
    ("arctanh", th.arctanh, np.arctanh, _unit), ("trunc", th.trunc, np.trunc, _off_integers),
]

ROWS = [OpInfo(name, fn, ref, _unary_samples(make), second_order=name in ("exp", "tanh", "sigmoid", "log"))
        for name, fn, ref, make in UNARY]

ROWS += [OpInfo(name, fn, ref, _unary_samples(rand), grad=False) for name, fn, ref in [
    ("isnan", th.isnan, np.isnan), ("isinf", th.isinf, np.isinf), ("isfinite", th.isfinite, np.isfinite),
    ("logical_not", th.logical_not, np.logical_not), ("signbit", th.signbit, np.signbit),
]]

_shape_error = [ErrorCase((np.zeros((3, 4)), np.zeros((5,))), {}, ShapeError, r"\(3, 4\) and \(5,\)")]

BINARY = [
    ("add", th.add, np.add, rand), ("subtract", th.subtract, np.subtract, rand),
    ("multiply", th.multiply, np.multiply, rand), ("divide", th.divide, np.divide, positive),
    ("power", th.power, np.power, positive), ("arctan2", th.arctan2, np.arctan2, positive),
    ("maximum", th.maximum, np.maximum, rand), ("minimum", th.minimum, np.minimum, rand),
    ("mod", th.mod, np.mod, positive), ("copysign", th.copysign, np.copysign, _away_from_zero),
    ("hypot", th.hypot, np.hypot, _away_from_zero), ("logaddexp", th.logaddexp, np.logaddexp, rand),
]
ROWS += [OpInfo(name, fn, ref, _binary_samples(make), errors=_shape_error,
                second_order=name in ("multiply", "divide", "power"))
         for name, fn, ref, make in BINARY]
ROWS += [OpInfo(name, fn, ref, _binary_samples(positive), grad=False, errors=_shape_error)
         for name, fn, ref in [
             ("floor_divide", th.floor_divide, np.floor_divide),
             ("equal", th.equal, np.equal), ("not_equal", th.not_equal, np.not_equal),
             ("less", th.less, np.less), ("less_equal", th.less_equal, np.less_equal),
             ("greater", th.greater, np.greater), ("greater_equal", th.greater_equal, np.greater_equal),
             ("logical_and", th.logical_and, np.logical_and), ("logical_or", th.logical_or, np.logical_or),
             ("logical_xor", th.logical_xor, np.logical_xor), ("nextafter", th.nextafter, np.nextafter)]]


def _int_samples(rng):
    a = rng.integers(-5, 6, size=(3, 4))
    b = rng.integers(1, 4, size=(4,))
    return [Sample((a, b)), Sample((a.astype("int32"), b.astype("int32"))), Sample((a > 0, b > 1))]


ROWS += [OpInfo(f"{name}_int", fn, ref, _int_samples, grad=False) for name, fn, ref in [
    ("add", th.add, np.add), ("multiply", th.multiply, np.multiply), ("divide", th.divide, np.divide),
    ("floor_divide", th.floor_divide, np.floor_divide), ("mod", th.mod, np.mod),
    ("maximum", th.maximum, np.maximum), ("bitwise_and", th.bitwise_and, np.bitwise_and),
    ("bitwise_or", th.bitwise_or, np.bitwise_or), ("bitwise_xor", th.bitwise_xor, np.bitwise_xor),
    ("left_shift", th.left_shift, np.left_shift), ("right_shift", th.right_shift, np.right_shift),
]]


def _where_samples(rng):
    return [Sample((rand(rng, 3, 4) > 0, rand(rng, 3, 4), rand(rng, 4))),
            Sample((rand(rng, 4) > 0, rand(rng, 3, 4), 0.0))]


def _cast_samples(rng):
    return [Sample((rand(rng, 3, 4),), {"dtype": "float32"}, grad=False),
            Sample((rand(rng, 3, 4).astype("float32"),), {"dtype": "float64"}, grad=False),
            Sample((rand(rng, 3, 4) * 10,), {"dtype": "int64"}, grad=False),
            Sample((rand(rng, 5) > 0,), {"dtype": "float32"}, grad=False),
            Sample((rand(rng, 3, 4).astype("float32"),), {"dtype": "float64"})]


ROWS += [
    OpInfo("where", th.where, np.where, _where_samples,
           errors=[ErrorCase((np.zeros(3) > 0, np.zeros((2, 4)), np.zeros(4)), {}, ShapeError, "broadcast")]),
    OpInfo("cast", th.cast, lambda x, dtype: x.astype(dtype), _cast_samples, grad=False),
    OpInfo("clip_tensor_bounds", th.clip, np.clip,
           lambda rng: [Sample((_away_from_zero(rng, 3, 4), np.full(4, -0.3), np.full((3, 1), 0.4)))]),
]
