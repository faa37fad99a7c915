"""th.fft against numpy.fft (values, dtypes, argument rules) and its gradients: against
torch.autograd for complex inputs (theon follows torch's convention, dL/dRe + i dL/dIm),
by finite differences in float64 for real inputs, always real for real inputs."""
import numpy as np
import pytest
import torch

import theon as th
from theon.errors import DTypeError
from theon.testing import verify_grad

rng = np.random.default_rng(0)

ONE_D = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
N_D = ["fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn"]
REAL_ONLY = {"rfft", "ihfft", "rfft2", "rfftn"}


def _c(*shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _loss(y, lib):
    """A real loss of every part of y: |y|^2, Re y and Im y all weigh in."""
    if lib is th:
        parts = th.sum(th.abs(y) ** 2) + th.sum(th.real(y) * np.float64(0.3))
        return parts + (th.sum(th.imag(y)) if y.dtype.startswith("complex") else 0.0)
    parts = (y.abs() ** 2).sum() + (y.real * 0.3).sum()
    return parts + (y.imag.sum() if y.is_complex() else 0.0)


# n: crop (5 < 7), pad (11, 12 > 7), odd and even transform lengths
_ARGS = [{}, {"n": 5, "norm": "ortho"}, {"n": 11, "norm": "forward"}, {"n": 12}, {"axis": 0, "norm": "ortho"}]
_ARGS_ND = [{}, {"s": (5, 6), "axes": (-2, -1), "norm": "ortho"}, {"s": (3, 9), "axes": (0, 2), "norm": "forward"},
            {"axes": (2, 0)}, {"s": (-1, 4), "axes": (1, 2)}]
_GRAD_CASES = ([(f, kw, c) for f in ONE_D for kw in _ARGS for c in (False, True) if not (c and f in REAL_ONLY)]
               + [(f, kw, c) for f in N_D for kw in _ARGS_ND for c in (False, True) if not (c and f in REAL_ONLY)])


def _torch_kwargs(name, kw):
    kw = dict(kw)   # torch spells "the input's length" in s as -1 too
    if "axes" in kw:
        kw["dim"] = kw.pop("axes")
    if "axis" in kw:
        kw["dim"] = kw.pop("axis")
    if name in N_D and name.endswith("2") and "dim" not in kw:
        kw["dim"] = (-2, -1)
    return kw


@pytest.mark.parametrize("name,kw,is_complex", _GRAD_CASES,
                         ids=[f"{f}-{k}-{'c' if c else 'r'}" for f, k, c in _GRAD_CASES])
def test_values_and_gradients_match_numpy_and_torch(name, kw, is_complex):
    x0 = _c(3, 4, 7) if is_complex else rng.standard_normal((3, 4, 7))
    x = th.tensor("x", x0.shape, x0.dtype.name)
    y = getattr(th.fft, name)(x, **kw)
    y_val, g_val = th.function([x], [y, th.grad(_loss(y, th), x)])(x0)
    want = getattr(np.fft, name)(x0, **kw)
    assert y_val.dtype == want.dtype and y_val.shape == want.shape
    np.testing.assert_allclose(y_val, want, rtol=1e-10, atol=1e-10)
    xt = torch.tensor(x0, requires_grad=True)
    (g_want,) = torch.autograd.grad(_loss(getattr(torch.fft, name)(xt, **_torch_kwargs(name, kw)), torch), xt)
    assert g_val.dtype == x0.dtype   # real inputs get real gradients
    np.testing.assert_allclose(g_val, g_want.resolve_conj().numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "hfft", "ihfft", "rfftn", "irfftn"])
def test_real_input_gradients_by_finite_differences(name):
    kw = {"n": 6, "norm": "ortho"} if name in ONE_D else {"s": (3, 5)}

    def fn(x):
        y = getattr(th.fft, name)(x, **kw)
        return th.stack([th.real(y), th.imag(y)]) if y.dtype.startswith("complex") else y
    verify_grad(fn, [rng.standard_normal((3, 5))], order=1)
    verify_grad(fn, [rng.standard_normal((3, 5))], order=2, rtol=1e-3, atol=1e-5)


def test_complex_input_gradients_by_finite_differences():
    def fn(re, im):
        y = th.fft.irfftn(th.cast(re, "complex128") + th.cast(im, "complex128") * 1j, s=(4, 6), norm="forward")
        return th.real(th.fft.fft(th.abs(th.fft.ifft(y, n=5)) ** 2, axis=0))
    verify_grad(fn, [rng.standard_normal((3, 4)), rng.standard_normal((3, 4))])


@pytest.mark.parametrize("dtype,want", [("float32", "complex64"), ("float64", "complex128"), ("complex64", "complex64"),
                                        ("int64", "complex128"), ("bool", "complex128"), ("float16", "complex64")])
def test_result_dtypes_are_numpy_2s(dtype, want):
    x0 = (rng.standard_normal(6) * 3).astype(dtype)
    x = th.tensor("x", (6,), dtype)
    outs = [th.fft.fft(x), th.fft.ifftn(x), th.fft.irfft(x), th.fft.hfft(x)]
    if not dtype.startswith("complex"):
        outs += [th.fft.rfft(x), th.fft.ihfft(x)]
    got = th.function([x], outs)(x0)
    refs = [np.fft.fft, np.fft.ifftn, np.fft.irfft, np.fft.hfft, np.fft.rfft, np.fft.ihfft]
    assert th.fft.fft(x).dtype == want
    for g, o, ref in zip(got, outs, refs):
        w = ref(x0)
        assert g.dtype == w.dtype == np.dtype(o.dtype), (ref.__name__, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=2e-3 if dtype in ("float16", "float32", "complex64") else 1e-10, atol=1e-4)


def test_unknown_dims_are_read_at_run_time():
    x = th.tensor("x", (None, None), "float64")
    ys = [th.fft.rfft(x), th.fft.irfft(th.fft.rfft(x), n=None), th.fft.fft2(x, s=(4, 6)), th.fft.fftshift(x)]
    assert ys[0].type.shape == (None, None) and ys[2].type.shape == (4, 6)
    loss = sum(th.sum(th.abs(y) ** 2) for y in ys)
    f = th.function([x], ys + [th.grad(loss, x)])
    for shape in [(2, 5), (3, 8)]:
        x0 = rng.standard_normal(shape)
        got = f(x0)
        np.testing.assert_allclose(got[0], np.fft.rfft(x0), atol=1e-12)
        np.testing.assert_allclose(got[1], np.fft.irfft(np.fft.rfft(x0)), atol=1e-12)
        np.testing.assert_allclose(got[2], np.fft.fft2(x0, s=(4, 6)), atol=1e-12)
        np.testing.assert_allclose(got[3], np.fft.fftshift(x0))
        xt = torch.tensor(x0, requires_grad=True)
        yt = [torch.fft.rfft(xt), torch.fft.irfft(torch.fft.rfft(xt)), torch.fft.fft2(xt, s=(4, 6)), torch.fft.fftshift(xt)]
        (want,) = torch.autograd.grad(sum((y.abs() ** 2).sum() for y in yt), xt)
        np.testing.assert_allclose(got[4], want.numpy(), atol=1e-10)


@pytest.mark.parametrize("n,d", [(1, 1.0), (8, 0.1), (9, 2.0)])
def test_frequencies_and_shifts(n, d):
    np.testing.assert_allclose(th.function([], th.fft.fftfreq(n, d))(), np.fft.fftfreq(n, d), rtol=1e-6)
    np.testing.assert_allclose(th.function([], th.fft.rfftfreq(n, d, dtype="float64"))(), np.fft.rfftfreq(n, d))
    assert th.fft.fftfreq(n).dtype == "float32"   # theon's default float dtype
    x0 = rng.standard_normal((n, 3))
    x = th.tensor("x", x0.shape, "float64")
    got = th.function([x], [th.fft.fftshift(x), th.fft.ifftshift(x, axes=0), th.fft.ifftshift(th.fft.fftshift(x))])(x0)
    np.testing.assert_array_equal(got[0], np.fft.fftshift(x0))
    np.testing.assert_array_equal(got[1], np.fft.ifftshift(x0, axes=0))
    np.testing.assert_array_equal(got[2], x0)


def test_bad_arguments_are_clear_errors():
    x = th.tensor("x", (4, 3), "float64")
    z = th.tensor("z", (None,), "complex128")
    with pytest.raises(ValueError, match="invalid norm 'bogus'"):
        th.fft.fft(x, norm="bogus")
    with pytest.raises(ValueError, match="invalid number of FFT data points"):
        th.fft.rfft(x, n=0)
    with pytest.raises(DTypeError, match="takes real input"):
        th.fft.rfft(z)
    with pytest.raises(th.errors.AxisError, match="out of range"):
        th.fft.fft(x, axis=2)
    with pytest.raises(th.errors.ShapeError, match="repeated axis"):
        th.fft.fftn(x, axes=(1, -1))
    with pytest.raises(ValueError, match="same length"):
        th.fft.fftn(x, s=(2,), axes=(0, 1))
    with pytest.raises(ValueError, match="positive int"):
        th.fft.fftfreq(0)
    f = th.function([z], th.fft.irfft(z))
    with pytest.raises(Exception, match="invalid number of FFT data points"):  # 2*(1-1) points
        f(np.ones(1, complex))
