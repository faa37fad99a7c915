"""Op-table rows for th.fft (numpy.fft references). The table differentiates float inputs
and float outputs, so each row takes the signal as its real part (and, in complex
samples, its imaginary part as a second array) and returns the result's real and
imaginary parts (real transforms: the result itself)."""
import numpy as np

import theon as th
from theon.errors import AxisError, DTypeError, ShapeError
from theon.testing import ErrorCase, OpInfo, Sample, integers, rand

_COMPLEX = {"float32": "complex64", "float64": "complex128"}


def _signal(parts):
    if len(parts) == 1:
        return parts[0]
    re, im = parts
    dtype = _COMPLEX[re.dtype]
    return th.cast(re, dtype) + th.cast(im, dtype) * 1j


def _np_signal(parts):
    if len(parts) == 1:
        return parts[0]
    re, im = parts
    return (re + 1j * im).astype(_COMPLEX[re.dtype.name])


def _split(y):
    return (th.real(y), th.imag(y)) if y.dtype.startswith("complex") else y


def _np_split(y):
    return (np.real(y), np.imag(y)) if np.iscomplexobj(y) else y


def _row(name, samples, complex_input=True, **kw):
    fn, ref = getattr(th.fft, name), getattr(np.fft, name)

    def op(*parts, **kwargs):
        return _split(fn(_signal(parts), **kwargs))

    def reference(*parts, **kwargs):
        return _np_split(ref(_np_signal(parts), **kwargs))

    def all_samples(rng):
        out = samples(rng)
        if complex_input:  # the same calls on complex signals
            out += [Sample((s.args[0], rand(rng, *s.args[0].shape, dtype=s.args[0].dtype.name)), s.kwargs, s.grad)
                    for s in out[:3]]  # small: finite differences cost 2 runs per element
        return out
    return OpInfo(name, op, reference, all_samples, **kw)


def _one_d(rng):
    return [Sample((rand(rng, 2, 6),)), Sample((rand(rng, 7),), {"n": 5, "norm": "ortho"}),
            Sample((rand(rng, 4, 3),), {"n": 6, "axis": 0, "norm": "forward"}),
            Sample((rand(rng, 6, dtype="float32"),), grad=False), Sample((integers(rng, -3, 3, 5),), grad=False)]


def _n_d(rng):
    return [Sample((rand(rng, 2, 3),)), Sample((rand(rng, 2, 2, 3),), {"s": (4, 3), "axes": (2, 0), "norm": "ortho"}),
            Sample((rand(rng, 2, 2, 3),), {"norm": "forward"}),
            Sample((rand(rng, 3, 4, dtype="float32"),), {"axes": (1,)}, grad=False)]


def _two_d(rng):
    return [Sample((rand(rng, 2, 3),)), Sample((rand(rng, 2, 2, 3),), {"s": (3, 4), "norm": "ortho"}),
            Sample((rand(rng, 3, 2, 2),), {"axes": (0, 1), "norm": "forward"})]


_ERRORS_1D = [ErrorCase((np.zeros(4),), {"norm": "bogus"}, ValueError, "invalid norm"),
              ErrorCase((np.zeros(4),), {"n": 0}, ValueError, "at least 1"),
              ErrorCase((np.zeros(4),), {"axis": 1}, AxisError, "out of range")]
_REAL_ONLY = [ErrorCase((np.zeros(4), np.zeros(4)), {}, DTypeError, "takes real input")]
_ERRORS_ND = [ErrorCase((np.zeros((2, 3)),), {"axes": (0, 0)}, ShapeError, "repeated axis"),
              ErrorCase((np.zeros((2, 3)),), {"s": (2, 3, 4), "axes": (0, 1)}, ValueError, "same length")]

ROWS = [
    _row("fft", _one_d, errors=_ERRORS_1D, second_order=True),
    _row("ifft", _one_d, errors=_ERRORS_1D),
    _row("rfft", _one_d, complex_input=False, errors=_ERRORS_1D + _REAL_ONLY, second_order=True),
    _row("irfft", _one_d, errors=_ERRORS_1D, second_order=True),
    _row("hfft", _one_d, errors=_ERRORS_1D),
    _row("ihfft", _one_d, complex_input=False, errors=_REAL_ONLY),
    _row("fftn", _n_d, errors=_ERRORS_ND),
    _row("ifftn", _n_d),
    _row("rfftn", _n_d, complex_input=False, errors=_ERRORS_ND),
    _row("irfftn", _n_d),
    _row("fft2", _two_d),
    _row("ifft2", _two_d),
    _row("rfft2", _two_d, complex_input=False),
    _row("irfft2", _two_d),
    OpInfo("fftshift", th.fft.fftshift, np.fft.fftshift, lambda rng: [
        Sample((rand(rng, 5),)), Sample((rand(rng, 3, 4),), {"axes": 0}), Sample((rand(rng, 2, 3, 5),), {"axes": (2, 1)}),
        Sample((integers(rng, 0, 9, 4, 5),), grad=False)],
        errors=[ErrorCase((np.zeros(3),), {"axes": 1}, AxisError, "out of range")]),
    OpInfo("ifftshift", th.fft.ifftshift, np.fft.ifftshift, lambda rng: [
        Sample((rand(rng, 5),)), Sample((rand(rng, 3, 4),), {"axes": (-1,)}), Sample((rand(rng, 2, 3, 5),))]),
]
