"""Random draws: uniform, normal, bernoulli, categorical, permutation.

An RNG state (`RandomState`) is two shared int64 scalars, `seed` and `counter`. Every draw is
one node whose inputs are (seed, counter, *params, *dims) and whose op carries a unique
`draw_id` (so hash-consing never merges two draws) and `stream`, the draw's index among the
draws built from its state. The kernel seeds a torch.Generator from hash(seed, counter,
stream) and draws with it. `counter.default_update = counter + 1`, so every call of a
compiled function advances the counter once: calls differ, draws in one graph differ (their
streams differ), and the same seed gives the same values in separately built functions.
Values depend on the device type (CPU and CUDA generators differ).
"""
from __future__ import annotations

import contextlib
import itertools
import secrets
import threading
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ..backend.interop import torch_dtype
from ..errors import DTypeError, ShapeError
from ..graph import Constant, TensorType, Variable, canonical_dtype, format_shape, is_float, shared
from .axes import broadcast_shapes
from .base import Op, as_variable, float_dtype, result_dtype
from .dims import resolve_shape, runtime_shape, split_shape
from .elementwise import add, cast_to

_M64 = (1 << 64) - 1
_draw_ids = itertools.count()


class RandomState:
    """An RNG state: shared `seed` and `counter` (int64 scalars) that draws read.

    The state lives on the CPU: kernels read it on the host to seed a generator, and a
    CPU scalar costs no device sync.
    """

    def __init__(self, seed: int | None = 0, device="cpu"):
        self.seed = shared(_int64(seed), name="rng_seed", dtype="int64", device=device)
        self.counter = shared(np.int64(0), name="rng_counter", dtype="int64", device=device)
        self.counter.default_update = add(self.counter, 1)
        self._streams = itertools.count()

    def set_seed(self, seed: int | None) -> None:
        """Start over from `seed`: the counter and the draw numbering restart too, so
        graphs built and called after this repeat what they gave after the last same seed."""
        self.seed.set_value(_int64(seed))
        self.counter.set_value(np.int64(0))
        self._streams = itertools.count()

    def next_stream(self) -> int:
        return next(self._streams)

    def __repr__(self) -> str:
        return f"RandomState(seed={int(self.seed.get_value())}, counter={int(self.counter.get_value())})"


def _int64(seed) -> np.int64:
    if seed is None:
        seed = secrets.randbits(63)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"a seed must be an int, got {seed!r}")
    return np.array(int(seed) & _M64, dtype=np.uint64).astype(np.int64)[()]


_default: RandomState | None = None


def default_rng() -> RandomState:
    """The module-level RandomState that draws use when given no `rng` (made on first use)."""
    global _default
    if _default is None:
        _default = RandomState(0)
    return _default


def seed(n: int | None) -> None:
    """Seed the default RandomState (`th.seed(0)`); its counter and draw numbering restart."""
    default_rng().set_seed(n)


# ---- seeding a generator from (seed, counter, stream) ----------------------------------

def _splitmix(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def generator_seed(seed: int, counter: int, stream: int) -> int:
    """A 63-bit generator seed; nearby (seed, counter, stream) triples give unrelated seeds."""
    z = _splitmix(seed & _M64)
    z = _splitmix(z ^ (counter & _M64))
    z = _splitmix(z ^ (stream & _M64))
    return z & ((1 << 63) - 1)


_local = threading.local()


def thread_generator(device) -> torch.Generator:
    """This thread's generator for `device` (one per thread and device keeps concurrent
    calls apart)."""
    device = torch.device(device if device is not None else "cpu")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    cache = getattr(_local, "generators", None)
    if cache is None:
        cache = _local.generators = {}
    gen = cache.get(device)
    if gen is None:
        gen = cache[device] = torch.Generator(device=device)
    return gen


@contextlib.contextmanager
def recorded_draws():
    """Draws made inside are recorded into a CUDA graph (compile/capture.py): they take
    this thread's generator as it stands instead of reseeding it from (seed, counter), a
    host read a graph cannot record. The graph registers the generator, whose philox
    offset then advances on every replay, so each replay draws anew."""
    before = getattr(_local, "recording", False)
    _local.recording = True
    try:
        yield
    finally:
        _local.recording = before


def _generator(device, seed_t, counter_t, stream) -> torch.Generator:
    """This thread's generator for `device`, reseeded for this draw (reseeding is cheap)."""
    gen = thread_generator(device)
    if getattr(_local, "recording", False):
        return gen
    if seed_t.device.type == "cpu" and counter_t.device.type == "cpu":
        s, c = int(seed_t), int(counter_t)
    else:
        s, c = torch.stack([seed_t.reshape(()), counter_t.reshape(())]).tolist()  # one sync
    gen.manual_seed(generator_seed(s, c, stream))
    return gen


# ---- the draw ops ---------------------------------------------------------------------

@dataclass(frozen=True)
class Draw(Op):
    """Base of the draw ops. Inputs: (seed, counter, *tensor params, *shape inputs).

    With `template` set the shape inputs are the symbolic dims of the template; with
    `template=None` they are tensors whose broadcast shape is the output shape.
    """
    draw_id: int = 0
    stream: int = 0
    template: tuple | None = ()
    dtype: str = "float32"
    impure: ClassVar[bool] = True
    differentiable: ClassVar[bool] = False
    needs_device: ClassVar[bool] = True

    def infer(self, seed, counter, *shape_inputs):
        _check_state(seed, counter)
        return [TensorType(self.dtype, self._static_shape(shape_inputs))]

    def _static_shape(self, shape_inputs) -> tuple:
        if self.template is None:
            return broadcast_shapes(*(v.type.shape for v in shape_inputs))
        return resolve_shape(self.template, shape_inputs)

    def _shape(self, shape_inputs) -> tuple:
        if self.template is None:
            return tuple(torch.broadcast_shapes(*(t.shape for t in shape_inputs)))
        return runtime_shape(self.template, shape_inputs)

    def _empty(self, shape_inputs, device, out):
        if out is not None:
            return out
        return torch.empty(self._shape(shape_inputs), dtype=torch_dtype(self.dtype), device=device)

    def grad(self, inputs, outputs, output_grads):
        return [None] * len(inputs)


def _check_state(seed, counter):
    for what, v in (("seed", seed), ("counter", counter)):
        if v.dtype != "int64" or v.ndim != 0:
            raise DTypeError(f"the RNG {what} must be an int64 scalar, got {v.type}")


@dataclass(frozen=True)
class Uniform(Draw):
    low: float = 0.0
    high: float = 1.0
    name: ClassVar[str] = "uniform"
    supports_out: ClassVar[bool] = True

    def kernel(self, seed, counter, *dims, out=None, device=None):
        gen = _generator(device, seed, counter, self.stream)
        return self._empty(dims, device, out).uniform_(self.low, self.high, generator=gen)


@dataclass(frozen=True)
class Normal(Draw):
    loc: float = 0.0
    scale: float = 1.0
    name: ClassVar[str] = "normal"
    supports_out: ClassVar[bool] = True

    def kernel(self, seed, counter, *dims, out=None, device=None):
        gen = _generator(device, seed, counter, self.stream)
        return self._empty(dims, device, out).normal_(self.loc, self.scale, generator=gen)


@dataclass(frozen=True)
class Bernoulli(Draw):
    """1 with probability p, else 0. `p` is the attribute, or (when None) a tensor input;
    with `template=None` the output takes the tensor p's shape."""
    p: float | None = 0.5
    name: ClassVar[str] = "bernoulli"
    supports_out: ClassVar[bool] = True

    def infer(self, seed, counter, *rest):
        _check_state(seed, counter)
        if self.p is None:
            p, dims = rest[0], rest[1:]
            if not is_float(p.dtype):
                raise DTypeError(f"probabilities must be floats, got {p.type}")
            shape = p.type.shape if self.template is None else resolve_shape(self.template, dims)
            _check_fits(p.type.shape, shape, "p")
            return [TensorType(self.dtype, shape)]
        return [TensorType(self.dtype, self._static_shape(rest))]

    def kernel(self, seed, counter, *rest, out=None, device=None):
        gen = _generator(device, seed, counter, self.stream)
        if self.p is None:
            p, dims = rest[0], rest[1:]
            target = self._empty(dims if self.template is not None else (p,), device, out)
            return target.bernoulli_(p, generator=gen)
        return self._empty(rest, device, out).bernoulli_(self.p, generator=gen)


@dataclass(frozen=True)
class Categorical(Draw):
    """`num_samples` class indices per row of `logits` (with replacement, last axis).
    Output shape: logits.shape[:-1] + (num_samples,)."""
    num_samples: int = 1
    name: ClassVar[str] = "categorical"

    def infer(self, seed, counter, logits):
        _check_state(seed, counter)
        if logits.ndim == 0:
            raise ShapeError("logits need at least one axis (the classes), got a scalar")
        if not is_float(logits.dtype):
            raise DTypeError(f"logits must be floats, got {logits.type}")
        if logits.type.shape[-1] == 0:
            raise ShapeError(f"logits of shape {format_shape(logits.type.shape)} have no classes")
        return [TensorType("int64", logits.type.shape[:-1] + (self.num_samples,))]

    def kernel(self, seed, counter, logits, device=None):
        gen = _generator(device if device is not None else logits.device, seed, counter, self.stream)
        k = logits.shape[-1]
        if k == 0:
            raise ValueError(f"categorical: logits of shape {tuple(logits.shape)} have no classes")
        compute = logits if logits.dtype in (torch.float32, torch.float64) else logits.float()
        probs = torch.softmax(compute.reshape(-1, k), dim=-1)
        if probs.shape[0] == 0:
            idx = torch.empty(0, self.num_samples, dtype=torch.int64, device=logits.device)
        else:
            idx = torch.multinomial(probs, self.num_samples, replacement=True, generator=gen)
        return idx.reshape(*logits.shape[:-1], self.num_samples)


@dataclass(frozen=True)
class Permutation(Draw):
    n: int = 0
    name: ClassVar[str] = "permutation"

    def infer(self, seed, counter):
        _check_state(seed, counter)
        return [TensorType("int64", (self.n,))]

    def kernel(self, seed, counter, device=None):
        gen = _generator(device, seed, counter, self.stream)
        return torch.randperm(self.n, generator=gen, device=device if device is not None else "cpu")


# ---- public functions -----------------------------------------------------------------

def _state(rng) -> RandomState:
    rng = default_rng() if rng is None else rng
    if not isinstance(rng, RandomState):
        raise TypeError(f"rng must be a theon RandomState, got {type(rng).__name__}")
    return rng


def _ids(rng: RandomState) -> dict:
    return {"draw_id": next(_draw_ids), "stream": rng.next_stream()}


def _is_tensor(v) -> bool:
    return isinstance(v, Variable) or (not isinstance(v, (bool, int, float, np.number)))


def _float(v, what: str) -> float:
    if isinstance(v, (bool, np.bool_)):
        raise DTypeError(f"{what} must be a number, got {v!r}")
    return float(v)


def _float_out(dtype) -> str:
    dtype = canonical_dtype(dtype)
    if not dtype.startswith("float"):
        raise DTypeError(f"random draws give float dtypes, got {dtype}")
    return dtype


def _check_fits(param_shape, shape, what):
    """A parameter must broadcast to the output shape without enlarging it (NumPy's rule)."""
    try:
        full = broadcast_shapes(param_shape, shape)
    except ShapeError:
        full = None
    if full is None or len(full) != len(shape) or any(
            s is not None and f != s for f, s in zip(full, shape)):
        raise ShapeError(f"{what} of shape {format_shape(param_shape)} does not broadcast to "
                         f"size {format_shape(shape)}")


def _affine_draw(cls, a, b, size, dtype, rng, op_name):
    """A standard draw of `cls` moved by tensor parameters: a + b * x (uniform: a + (b-a) * x).
    Built from theon ops, so gradients reach the parameters (reparameterisation)."""
    state = _state(rng)
    a, b = as_variable(a), as_variable(b)
    dtype = _float_out(dtype) if dtype is not None else float_dtype(result_dtype(a, b))
    weak = [isinstance(v, Constant) and v.weak for v in (a, b)]
    a, b = cast_to(a, dtype), cast_to(b, dtype)
    params = [v for v, w in zip((a, b), weak) if not w]
    if size is None:
        template, shape_inputs = None, params
    else:
        template, shape_inputs = split_shape(size)
        shape = resolve_shape(template, shape_inputs)
        for v, what in zip((a, b), ("low", "high") if op_name == "uniform" else ("loc", "scale")):
            _check_fits(v.type.shape, shape, what)
    standard = {"low": 0.0, "high": 1.0} if cls is Uniform else {"loc": 0.0, "scale": 1.0}
    x = cls(template=template, dtype=dtype, **_ids(state), **standard)(state.seed, state.counter, *shape_inputs)
    return a + (b - a) * x if cls is Uniform else a + b * x


def uniform(low=0.0, high=1.0, size=None, dtype=None, rng=None):
    """Samples from [low, high). Python-number bounds are attributes of one draw; tensor
    bounds give `low + (high - low) * u` (differentiable in the bounds). `size` defaults to
    the bounds' broadcast shape; dims may be symbolic. dtype: float32 for Python bounds,
    else the bounds' float dtype."""
    if _is_tensor(low) or _is_tensor(high):
        return _affine_draw(Uniform, low, high, size, dtype, rng, "uniform")
    low, high = _float(low, "low"), _float(high, "high")
    if not low <= high:
        raise ValueError(f"uniform: low ({low}) must not exceed high ({high})")
    state = _state(rng)
    template, dims = split_shape(() if size is None else size)
    return Uniform(template=template, dtype=_float_out(dtype or "float32"), low=low, high=high,
                   **_ids(state))(state.seed, state.counter, *dims)


def normal(loc=0.0, scale=1.0, size=None, dtype=None, rng=None):
    """Gaussian samples. Tensor loc/scale give `loc + scale * z` (differentiable in them);
    otherwise as `uniform`."""
    if _is_tensor(loc) or _is_tensor(scale):
        return _affine_draw(Normal, loc, scale, size, dtype, rng, "normal")
    loc, scale = _float(loc, "loc"), _float(scale, "scale")
    if not scale >= 0:
        raise ValueError(f"normal: scale must be non-negative, got {scale}")
    state = _state(rng)
    template, dims = split_shape(() if size is None else size)
    return Normal(template=template, dtype=_float_out(dtype or "float32"), loc=loc, scale=scale,
                  **_ids(state))(state.seed, state.counter, *dims)


def bernoulli(p, size=None, dtype=None, rng=None):
    """1.0 with probability `p`, else 0.0. `p` is a number or a tensor of probabilities
    (not differentiated). Shape: `size`, else p's shape. dtype: float32 for a number p,
    else p's float dtype; bool and int dtypes are allowed."""
    state = _state(rng)
    if _is_tensor(p):
        p = as_variable(p)
        p = cast_to(p, float_dtype(p.dtype))
        dtype = p.dtype if dtype is None else canonical_dtype(dtype)
        inputs = [p]
        template = None
        if size is not None:
            template, dims = split_shape(size)
            inputs += dims
        op = Bernoulli(template=template, dtype=_bernoulli_dtype(dtype), p=None, **_ids(state))
        return op(state.seed, state.counter, *inputs)
    p = _float(p, "p")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"bernoulli: p must lie in [0, 1], got {p}")
    template, dims = split_shape(() if size is None else size)
    op = Bernoulli(template=template, dtype=_bernoulli_dtype(dtype or "float32"), p=p, **_ids(state))
    return op(state.seed, state.counter, *dims)


def _bernoulli_dtype(dtype) -> str:
    dtype = canonical_dtype(dtype)
    if dtype.startswith("complex"):
        raise DTypeError(f"bernoulli cannot give {dtype}")
    return dtype


def categorical(logits, num_samples=1, rng=None):
    """Class indices (int64) drawn from softmax(logits) along the last axis, with
    replacement; shape logits.shape[:-1] + (num_samples,)."""
    if not isinstance(num_samples, (int, np.integer)) or isinstance(num_samples, bool) or num_samples < 1:
        raise ValueError(f"categorical: num_samples must be a positive int, got {num_samples!r}")
    state = _state(rng)
    logits = as_variable(logits)
    if logits.dtype.startswith("complex"):
        raise DTypeError(f"categorical: logits must be real, got {logits.type}")
    logits = cast_to(logits, float_dtype(logits.dtype))
    return Categorical(template=None, dtype="int64", num_samples=int(num_samples),
                       **_ids(state))(state.seed, state.counter, logits)


def permutation(n, rng=None):
    """A random ordering of 0..n-1 (int64); `n` is a Python int."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"permutation: n must be a non-negative Python int, got {n!r}")
    state = _state(rng)
    return Permutation(template=(int(n),), dtype="int64", n=int(n), **_ids(state))(state.seed, state.counter)


__all__ = [
    "RandomState", "default_rng", "seed", "uniform", "normal", "bernoulli", "categorical",
    "permutation",
]
