"""Op-table rows: tensors made from no input (arange, eye), shape queries, and ops that
only steer autodiff (stop_gradient). Dtypes are given explicitly: the references are
NumPy's, whose defaults are not all theon's."""
import numpy as np

import theon as th
from theon.testing import OpInfo, Sample, rand



def _dim(x, axis):
    """th.dim gives a Python int when the dim is known, a graph value when it is not."""
    d = th.dim(x, axis)
    return d if isinstance(d, th.Variable) else th.constant(np.int64(d))


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
