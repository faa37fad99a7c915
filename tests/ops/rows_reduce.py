"""Op-table rows for reductions and scans (NumPy / SciPy references)."""
import numpy as np
import scipy.special as sp

import theon as th
from theon.errors import AxisError, DTypeError, ShapeError
from theon.testing import ErrorCase, OpInfo, Sample, integers, rand


def _axis_samples(extra=lambda rng: []):
    """The axis forms every reduction takes: all, one, negative, several, keepdims, none, 0-d."""
    return lambda rng: [
        Sample((rand(rng, 3, 4),)),
        Sample((rand(rng, 3, 4),), {"axis": 0}),
        Sample((rand(rng, 2, 3, 4),), {"axis": -1, "keepdims": True}),
        Sample((rand(rng, 2, 3, 4),), {"axis": (0, 2)}),
        Sample((rand(rng, 2, 3, 4),), {"axis": (1, 2), "keepdims": True}),
        Sample((rand(rng, 5),), {"axis": ()}),
        Sample((rand(rng),)),
        *extra(rng),
    ]


def _axis_errors():
    return [ErrorCase((np.zeros((3, 4)),), {"axis": 2}, AxisError, r"axis 2 is out of range.*\(3, 4\)"),
            ErrorCase((np.zeros((3, 4)),), {"axis": (0, -2)}, ShapeError, "repeated axis")]


def _int_samples(rng):
    a = integers(rng, -4, 5, 3, 4)
    return [Sample((a,), grad=False), Sample((a.astype("int32"),), {"axis": 1}, grad=False),
            Sample((a > 0,), {"axis": 0}, grad=False), Sample((a.astype("int8"),), grad=False)]


def _sum_extra(rng):
    return [*_int_samples(rng),
            Sample((rand(rng, 3, 4),), {"axis": 1, "dtype": "float32"}, grad=False),
            Sample((rand(rng, 0, 3),), {"axis": 0})]


def _prod_zeros(rng):
    # second derivatives are exact only away from zeros, so zeros get rows of their own
    x = rand(rng, 3, 4)
    x[0, 1] = 0.0          # one zero in a row
    x[1, 0] = x[1, 2] = 0  # two zeros in a row
    return [Sample((x,), {"axis": 1}), Sample((x,), {"axis": 0}), Sample((x,))]


def _mean_extra(rng):
    return [Sample((integers(rng, -4, 5, 3, 4),), {"axis": 0}, grad=False),
            Sample((rand(rng, 3, 4).astype("float32"),), {"axis": 1}, grad=False)]


def _var_samples(rng):
    return [Sample((rand(rng, 3, 4),)), Sample((rand(rng, 3, 4),), {"axis": 0, "ddof": 1}),
            Sample((rand(rng, 2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
            Sample((rand(rng, 2, 3, 4),), {"axis": -1, "ddof": 2}),
            Sample((integers(rng, -4, 5, 3, 4),), {"axis": 1}, grad=False)]


def _std_samples(rng):
    return [Sample((rand(rng, 3, 4),)), Sample((rand(rng, 3, 4),), {"axis": 1, "ddof": 1}),
            Sample((rand(rng, 2, 3, 4),), {"axis": (0, 1), "keepdims": True})]


def _max_extra(rng):
    ties = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    return [Sample((ties,), {"axis": 1}, grad=False),
            Sample((integers(rng, -4, 5, 3, 4),), {"axis": 0}, grad=False),
            Sample((rand(rng, 3, 4) > 0,), {"axis": 1}, grad=False),
            Sample((np.array([[1.0, np.nan], [0.5, 0.25]]),), {"axis": 1}, grad=False)]


def _arg_samples(rng):
    ties = integers(rng, 0, 3, 4, 5)
    return [Sample((rand(rng, 3, 4),)), Sample((rand(rng, 3, 4),), {"axis": 0}),
            Sample((rand(rng, 2, 3, 4),), {"axis": -1, "keepdims": True}),
            Sample((rand(rng, 2, 3),), {"keepdims": True}),
            Sample((ties,), {"axis": 1}), Sample((ties > 0,), {"axis": 0}), Sample((rand(rng),))]


def _logsumexp_extra(rng):
    return [Sample((rand(rng, 3, 4) * 800,), {"axis": 1}, grad=False),
            Sample((np.array([[-np.inf, -np.inf], [0.0, -np.inf]]),), {"axis": 1}, grad=False),
            Sample((integers(rng, -4, 5, 3, 4),), {"axis": 0}, grad=False)]


def _bool_samples(rng):
    x = rand(rng, 3, 4)
    x[0] = 0.0
    return [Sample((x,)), Sample((x,), {"axis": 1}), Sample((x > 0,), {"axis": 0, "keepdims": True}),
            Sample((integers(rng, 0, 2, 2, 3, 4),), {"axis": (0, 2)}), Sample((x,), {"axis": ()}),
            Sample((np.array([np.nan, 0.0]),))]


def _scan_samples(rng):
    return [Sample((rand(rng, 3, 4),)), Sample((rand(rng, 3, 4),), {"axis": 1}),
            Sample((rand(rng, 2, 3, 4),), {"axis": -2}),
            Sample((integers(rng, -3, 4, 3, 4).astype("int32"),), {"axis": 0}, grad=False),
            Sample((integers(rng, 0, 2, 5) > 0,), grad=False),
            Sample((rand(rng, 3, 4),), {"axis": 0, "dtype": "float32"}, grad=False)]


def _cumulative_samples(rng):
    return [Sample((rand(rng, 4),)), Sample((rand(rng, 2, 3),), {"axis": 1, "include_initial": True}),
            Sample((rand(rng, 2, 3),), {"axis": -2}), Sample((rand(rng),), {"include_initial": True}),
            Sample((integers(rng, -3, 4, 5, dtype="int8"),), {"include_initial": True}, grad=False),
            Sample((rand(rng, 3, 2),), {"axis": 0, "dtype": "float32"}, grad=False)]


def _cumprod_zeros(rng):
    x = rand(rng, 3, 5)
    x[0, 2] = 0.0            # one zero
    x[1, 1] = x[1, 3] = 0.0  # two zeros
    x[2, 0] = 0.0            # zero first
    return [Sample((x,), {"axis": 1}), Sample((x,), {"axis": 0}), Sample((x,))]


_float_error = [ErrorCase((np.zeros((3, 4)),), {"dtype": "int64"}, DTypeError, "float dtype")]

ROWS = [
    OpInfo("sum", th.sum, np.sum, _axis_samples(extra=_sum_extra), errors=_axis_errors(),
           second_order=True),
    OpInfo("prod", th.prod, np.prod, _axis_samples(extra=_int_samples), errors=_axis_errors(),
           second_order=True),
    OpInfo("prod_zeros", th.prod, np.prod, _prod_zeros),
    OpInfo("mean", th.mean, np.mean, _axis_samples(extra=_mean_extra),
           errors=_axis_errors() + _float_error, second_order=True),
    OpInfo("var", th.var, np.var, _var_samples, errors=_axis_errors(), second_order=True),
    OpInfo("std", th.std, np.std, _std_samples, errors=_axis_errors()),
    OpInfo("max", th.max, np.max, _axis_samples(extra=_max_extra), second_order=True,
           errors=_axis_errors() + [
               ErrorCase((np.zeros((0, 3)),), {"axis": 0}, ShapeError, r"zero-size axis of shape \(0, 3\)"),
               ErrorCase((np.zeros(3, dtype=complex),), {}, DTypeError, "complex")]),
    OpInfo("min", th.min, np.min, _axis_samples(extra=_max_extra), second_order=True,
           errors=_axis_errors()),
    OpInfo("argmax", th.argmax, np.argmax, _arg_samples, grad=False,
           errors=[ErrorCase((np.zeros((3, 4)),), {"axis": 2}, AxisError, "out of range"),
                   ErrorCase((np.zeros((2, 0)),), {"axis": 1}, ShapeError, "zero-size")]),
    OpInfo("argmin", th.argmin, np.argmin, _arg_samples, grad=False),
    OpInfo("logsumexp", th.logsumexp, sp.logsumexp, _axis_samples(extra=_logsumexp_extra),
           second_order=True, errors=_axis_errors()),
    OpInfo("any", th.any, np.any, _bool_samples, grad=False, errors=_axis_errors()),
    OpInfo("all", th.all, np.all, _bool_samples, grad=False),
    OpInfo("cumsum", th.cumsum, np.cumsum, _scan_samples, second_order=True,
           errors=[ErrorCase((np.zeros((3, 4)),), {"axis": 3}, AxisError, "out of range")]),
    OpInfo("cumprod", th.cumprod, np.cumprod, _scan_samples, second_order=True),
    OpInfo("cumprod_zeros", th.cumprod, np.cumprod, _cumprod_zeros),
    OpInfo("cumulative_sum", th.cumulative_sum, np.cumulative_sum, _cumulative_samples, second_order=True,
           errors=[ErrorCase((np.zeros((2, 3)),), {}, ValueError, "axis is required")]),
    OpInfo("cumulative_prod", th.cumulative_prod, np.cumulative_prod, _cumulative_samples,
           errors=[ErrorCase((np.zeros((2, 3)),), {"axis": 2}, AxisError, "out of range")]),
]
