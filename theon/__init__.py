"""theon: a symbolic deep-learning framework. Describe a computation as a graph, differentiate
it symbolically, and compile it into a fast program for the CPU or a CUDA GPU.

Every public name is listed here on purpose (tests/api keeps a snapshot of the surface).
Operator classes live in `theon.ops`; `th.*` gives the functions that build them.
"""
from . import config, errors
from .graph import Constant, Shared, TensorType, Variable, constant, shared
from .ops.base import Op, tensor
from .ops.custom import op
from .ops.axes import broadcast_shapes
from .ops.base import result_dtype
from .ops.broadcast import broadcast_to
from .ops.dtypes import can_cast, isdtype, result_type
from .ops.constructors import (
    arange, empty, empty_like, eye, full, full_like, linspace, ones, ones_like, zeros, zeros_like,
)
from .ops.dims import dim
from .ops.elementwise import (
    abs, add, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, bitwise_and, bitwise_or,
    bitwise_xor, cast, ceil, clip, conj, copysign, cos, cosh, divide, elu, equal, erf, exp, expm1,
    floor, floor_divide, gelu, greater, greater_equal, hypot, imag, invert, isfinite, isinf, isnan,
    leaky_relu, left_shift, less, less_equal, log, log1p, log2, log10, logaddexp, logical_and,
    logical_not, logical_or, logical_xor, maximum, minimum, mod, multiply, negative, nextafter,
    not_equal, power, real, reciprocal, relu, right_shift, round, rsqrt, sigmoid, sign, signbit,
    silu, sin, sinh, softplus, sqrt, square, subtract, tan, tanh, true_divide, trunc, where,
)
from .ops.gradient import stop_gradient
from .ops.matrix import cross, diag, diagonal, diff, kron, meshgrid, norm, trace, vecdot
from .ops.histogram import histogram, histogram_bin_edges
from .ops.search import argwhere, bincount, nonzero, searchsorted, unique
from .ops.search import count_nonzero, unique_all, unique_counts, unique_inverse, unique_values
from .ops.sorting import argsort, sort, topk
from .ops.quantile import median, percentile, quantile
from .ops.special import cbrt, digamma, erfinv, exp2, isclose, lgamma, nan_to_num, polygamma
from .ops.index import inc_subtensor, index_add, one_hot, set_subtensor, take, take_along_axis
from .ops.scatter import put_along_axis
from .ops.linalg import (
    cholesky, det, dot, einsum, inv, matmul, matrix_transpose, outer, slogdet, solve,
    solve_triangular, tensordot, tril, triu, vdot,
)
from .ops.random import (
    RandomState, bernoulli, categorical, default_rng, normal, permutation, seed, uniform,
)
from .ops.rearrange import flip, pad, repeat, roll, tile
from .ops.reduce import (
    all, amax, amin, any, argmax, argmin, cumprod, cumsum, cumulative_prod, cumulative_sum,
    logsumexp, max, mean, min, prod, std, sum, var,
)
from .ops.shape import (
    broadcast_arrays, concatenate, expand_dims, flatten, moveaxis, ravel, reshape, split, squeeze, stack, swapaxes,
    transpose, unstack,
)
from .autodiff import grad, hessian, jacobian, jvp, vjp
from .control.graph_op import op_from_graph
from .control import cond, scan, while_loop
from .compile import Function, function
from . import control, data, distributed, fft, graph, io, linalg, nn, ops, optim, testing
from . import caffe, keras
from . import zoo
from . import callbacks, printing
from . import onnx  # imports the onnx package only when a model is loaded

__version__ = "0.1.0"
