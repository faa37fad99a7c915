"""Op-table rows for complex parts (conj, real, imag) and for the constructors that take
no array (linspace, empty)."""
import numpy as np

import theon as th
from theon.testing import OpInfo, Sample, rand


def _complex(rng, *shape):
    return rand(rng, *shape) + 1j * rand(rng, *shape)


def _parts_samples(rng):
    return [Sample((_complex(rng, 3, 4),), grad=False), Sample((_complex(rng, 5).astype("complex64"),), grad=False),
            Sample((rand(rng, 3),), grad=False)]


def _linspace_samples(rng):
    return [Sample((), {"start": 0.0, "stop": 1.0, "num": 5}),
            Sample((), {"start": -2, "stop": 3, "num": 4, "endpoint": False, "dtype": "float64"})]


ROWS = [
    OpInfo("conj", th.conj, np.conjugate, _parts_samples),
    OpInfo("real", th.real, np.real, _parts_samples),
    OpInfo("imag", th.imag, np.imag, _parts_samples),
    OpInfo("linspace", th.linspace, lambda **kw: np.linspace(**{**kw, "dtype": kw.get("dtype", "float32")}),
           _linspace_samples, grad=False),
    # empty's values are unspecified: the row checks its shape (and that it builds a node)
    OpInfo("empty_like", lambda x: th.logical_or(th.isnan(th.empty_like(x)), True),
           lambda x: np.ones(x.shape, bool), lambda rng: [Sample((rand(rng, 3, 4),), grad=False)]),
]
