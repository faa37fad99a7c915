"""Op-table rows: tensors made from no input (arange, eye), shape queries, and ops that
only steer autodiff (stop_gradient). Dtypes are given explicitly: the references are
NumPy's, whose defaults are not all theon's."""
import numpy as np

import theon as th
from theon.errors import ShapeError
from theon.testing import ErrorCase, OpInfo, Sample, rand



def _dim(x, axis):
    """th.dim gives a Python int when the dim is known, a graph value when it is not."""
    d = th.dim(x, axis)
    return d if isinstance(d, th.Variable) else th.constant(np.int64(d))


def _arange_of_dim(x, axis=0, start=0):
    """th.arange(start, x.shape[axis]): a symbolic bound while the dim is unknown."""
    return th.arange(start, x.shape[axis])


def _arange_of_dim_ref(x, axis=0, start=0):
    return np.arange(start, x.shape[axis])


def _arange_ref(*bounds, dtype=None):
    return np.arange(*[b.item() if isinstance(b, np.ndarray) else b for b in bounds], dtype=dtype)


def _arange_symbolic_samples(rng):
    """Bounds that are function inputs: the length is known only when the function runs."""
    return [Sample((np.array(5),)), Sample((np.array(2), np.array(11), 3)), Sample((-3, np.array(4))),
            Sample((np.array(7), 1, np.array(-2))), Sample((np.array(1.5), np.array(-1.0), -0.5)),
            Sample((np.array(2), 2)), Sample((0, np.array(3)), {"dtype": "float64"})]


def _complex(rng, *shape):
    return rand(rng, *shape) + 1j * rand(rng, *shape)


ROWS = [
    OpInfo("linspace", th.linspace, np.linspace, lambda rng: [
        Sample((0.0, 1.0, 5), {"dtype": "float64"}), Sample((-2, 3, 7), {"endpoint": False, "dtype": "float64"}),
        Sample((1.0, 1.0, 1), {"dtype": "float32"}), Sample((0, 10, 0), {"dtype": "float64"}),
    ], grad=False),
    # complex gradients are checked against torch.autograd in test_complex_grad.py
    OpInfo("conj", th.conj, np.conj, lambda rng: [Sample((_complex(rng, 3, 4),)), Sample((rand(rng, 5),))],
           grad=False),
    OpInfo("real", th.real, np.real, lambda rng: [Sample((_complex(rng, 3, 4),)), Sample((rand(rng, 5),))],
           grad=False),
    OpInfo("imag", th.imag, np.imag, lambda rng: [Sample((_complex(rng, 2, 3),))], grad=False),
    OpInfo("arange", th.arange, np.arange, lambda rng: [
        Sample((5,)), Sample((2, 11, 3)), Sample((-3, 3, 2), {"dtype": "int32"}),
        Sample((0.0, 1.0, 0.25), {"dtype": "float32"}), Sample((1.5, -1.0, -0.5), {"dtype": "float64"}),
    ], grad=False),
    OpInfo("arange_of_dim", _arange_of_dim, _arange_of_dim_ref, lambda rng: [
        Sample((rand(rng, 4, 3),)), Sample((rand(rng, 4, 3),), {"axis": 1, "start": 1})], grad=False),
    OpInfo("arange_symbolic", th.arange, _arange_ref, _arange_symbolic_samples, grad=False,
           known_failures={"infer": "the length depends on the bounds' values: that dim stays None"},
           errors=[ErrorCase((np.array([3]),), {}, ShapeError, "a symbolic bound must be a real scalar"),
                   ErrorCase((np.array(True),), {}, ShapeError, "a symbolic bound must be a real scalar"),
                   ErrorCase((np.array(3), 5, 0), {}, ValueError, "step must not be zero")]),
    OpInfo("eye", th.eye, np.eye, lambda rng: [
        Sample((3,), {"dtype": "float32"}), Sample((3, 4), {"k": 1, "dtype": "float64"}),
        Sample((4, 2), {"k": -1, "dtype": "int64"}),
    ], grad=False),
    OpInfo("dim", _dim, lambda x, axis: np.int64(x.shape[axis]), lambda rng: [
        Sample((rand(rng, 3, 4), 1)), Sample((rand(rng, 2, 5, 1), -2)),
    ], grad=False),
    OpInfo("invert", th.invert, np.invert, lambda rng: [
        Sample((rng.integers(-5, 6, size=(3, 4)),)), Sample((rng.integers(0, 255, size=5).astype("uint8"),)),
        Sample((rand(rng, 4) > 0,)),
    ], grad=False),
    # its gradient is zero by definition, which finite differences cannot confirm: see
    # tests/test_autodiff.py for the gradient
    OpInfo("stop_gradient", th.stop_gradient, lambda x: x, lambda rng: [Sample((rand(rng, 3, 4),))],
           grad=False),
]
