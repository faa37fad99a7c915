"""Weight initialisers: NumPy functions of (shape, dtype, rng, fan_in, fan_out).

Every layer draws its parameters from its own `numpy.random.Generator` (see `layer_rng`),
so a model built after `th.seed(n)`, or with `seed=`, gets the same weights every time.
Normal initialisers draw from a plain (untruncated) normal distribution, as torch's
`xavier_normal_` / `kaiming_normal_` do.
"""
from __future__ import annotations

import hashlib
import inspect
import math

import numpy as np
from ..ops.random import default_rng

__all__ = ["Initializer", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "Zeros",
           "Ones", "Constant", "Orthogonal", "RandomUniform", "RandomNormal", "get", "serialize",
           "compute_fans", "layer_rng"]


def compute_fans(shape: tuple) -> tuple:
    """(fan_in, fan_out) for theon's layouts: 2-d weights are (in, out) (Dense); weights of
    rank >= 3 are torch's convolution layout (out, in, *kernel)."""
    shape = tuple(int(d) for d in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    field = math.prod(shape[2:])
    return shape[1] * field, shape[0] * field


# i.i.d. initialisers draw a large weight this many values at a time (the same values as one
# draw): its float64 sample then never exists whole beside the cast copy, which kept a model's
# resident memory 1.5x its float32 weights' size after building it
_CHUNK = 1 << 16


class Initializer:
    """Base class: `init(shape, dtype, rng, fan_in=None, fan_out=None) -> np.ndarray`.

    Subclasses whose values are independent draws in order set `iid = True`: `sample` of a
    flat shape (n,) must then give the next n values of the one draw of the whole shape."""

    name = "initializer"
    iid = False

    def __call__(self, shape, dtype="float32", rng=None, fan_in=None, fan_out=None) -> np.ndarray:
        shape = tuple(int(d) for d in shape)
        if fan_in is None or fan_out is None:
            fi, fo = compute_fans(shape)
            fan_in = fi if fan_in is None else fan_in
            fan_out = fo if fan_out is None else fan_out
        rng = np.random.default_rng() if rng is None else rng
        size = math.prod(shape)
        if not self.iid or size <= _CHUNK:
            return np.asarray(self.sample(shape, rng, fan_in, fan_out), dtype=np.float64).astype(dtype)
        out = np.empty(size, dtype)
        for start in range(0, size, _CHUNK):
            n = min(_CHUNK, size - start)
            out[start:start + n] = np.asarray(self.sample((n,), rng, fan_in, fan_out), dtype=np.float64)
        return out.reshape(shape)

    def sample(self, shape, rng, fan_in, fan_out) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class GlorotUniform(Initializer):
    """U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    name = "glorot_uniform"
    iid = True

    def sample(self, shape, rng, fan_in, fan_out):
        limit = math.sqrt(6.0 / max(fan_in + fan_out, 1))
        return rng.uniform(-limit, limit, shape)


class GlorotNormal(Initializer):
    """N(0, 2 / (fan_in + fan_out))."""
    name = "glorot_normal"
    iid = True

    def sample(self, shape, rng, fan_in, fan_out):
        return rng.normal(0.0, math.sqrt(2.0 / max(fan_in + fan_out, 1)), shape)


class HeUniform(Initializer):
    """U(-a, a), a = sqrt(6 / fan_in) (He et al., 2015)."""
    name = "he_uniform"
    iid = True

    def sample(self, shape, rng, fan_in, fan_out):
        limit = math.sqrt(6.0 / max(fan_in, 1))
        return rng.uniform(-limit, limit, shape)


class HeNormal(Initializer):
    """N(0, 2 / fan_in)."""
    name = "he_normal"
    iid = True

    def sample(self, shape, rng, fan_in, fan_out):
        return rng.normal(0.0, math.sqrt(2.0 / max(fan_in, 1)), shape)


class Constant(Initializer):
    """Every element `value`."""
    name = "constant"
    iid = True

    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def sample(self, shape, rng, fan_in, fan_out):
        return np.full(shape, self.value)

    def get_config(self) -> dict:
        return {"value": self.value}


class Zeros(Constant):
    name = "zeros"

    def __init__(self):
        super().__init__(0.0)

    def get_config(self) -> dict:
        return {}


class Ones(Constant):
    name = "ones"

    def __init__(self):
        super().__init__(1.0)

    def get_config(self) -> dict:
        return {}


class RandomUniform(Initializer):
    """U(minval, maxval)."""
    name = "random_uniform"
    iid = True

    def __init__(self, minval: float = -0.05, maxval: float = 0.05):
        self.minval, self.maxval = float(minval), float(maxval)

    def sample(self, shape, rng, fan_in, fan_out):
        return rng.uniform(self.minval, self.maxval, shape)

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval}


class RandomNormal(Initializer):
    """N(mean, stddev^2)."""
    name = "random_normal"
    iid = True

    def __init__(self, mean: float = 0.0, stddev: float = 0.05):
        self.mean, self.stddev = float(mean), float(stddev)

    def sample(self, shape, rng, fan_in, fan_out):
        return rng.normal(self.mean, self.stddev, shape)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev}


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times `gain`, over (shape[0], prod(shape[1:]))
    (Saxe et al., 2014); rows are orthonormal when there are fewer rows than columns."""
    name = "orthogonal"

    def __init__(self, gain: float = 1.0):
        self.gain = float(gain)

    def sample(self, shape, rng, fan_in, fan_out):
        if len(shape) < 2:
            raise ValueError(f"orthogonal initializer needs a shape of rank >= 2, got {shape}")
        rows, cols = shape[0], math.prod(shape[1:])
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.where(np.diag(r) == 0, 1.0, np.diag(r)))  # unique: positive diag(r)
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self) -> dict:
        return {"gain": self.gain}


_CLASSES = {c.name: c for c in (GlorotUniform, GlorotNormal, HeUniform, HeNormal, Zeros, Ones,
                                Constant, Orthogonal, RandomUniform, RandomNormal)}
_ALIASES = {"xavier_uniform": "glorot_uniform", "xavier_normal": "glorot_normal",
            "kaiming_uniform": "he_uniform", "kaiming_normal": "he_normal", "uniform": "random_uniform",
            "normal": "random_normal"}


class _Wrapped(Initializer):
    """A user callable taking any of (shape, dtype, rng, fan_in, fan_out) by name."""

    def __init__(self, fn):
        self.fn = fn
        self.name = getattr(fn, "__qualname__", repr(fn))
        try:
            params = inspect.signature(fn).parameters
            self.accepts = {n for n, p in params.items()
                            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
            self.var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
        except (TypeError, ValueError):
            self.accepts, self.var_kw = {"shape", "dtype"}, False

    def __call__(self, shape, dtype="float32", rng=None, fan_in=None, fan_out=None):
        fi, fo = compute_fans(shape)
        available = {"dtype": dtype, "rng": np.random.default_rng() if rng is None else rng,
                     "fan_in": fi if fan_in is None else fan_in, "fan_out": fo if fan_out is None else fan_out}
        kwargs = {k: v for k, v in available.items() if self.var_kw or k in self.accepts}
        value = np.asarray(self.fn(tuple(shape), **kwargs))
        if value.shape != tuple(shape):
            raise ValueError(f"initializer {self.name} returned shape {value.shape}, expected {tuple(shape)}")
        return value.astype(dtype)


def get(spec, custom_objects: dict | None = None) -> Initializer:
    """An Initializer from a name ('glorot_uniform', 'he_normal', 'zeros', 'orthogonal', ...),
    a config dict ({"class_name": ..., "config": {...}}), an Initializer, or a callable
    `fn(shape, dtype=..., rng=..., fan_in=..., fan_out=...)` taking any of those by name."""
    custom_objects = custom_objects or {}
    if isinstance(spec, Initializer):
        return spec
    if isinstance(spec, dict):
        name, config = spec.get("class_name"), spec.get("config", {})
        if name in custom_objects:
            return get(custom_objects[name])
        cls = _CLASSES.get(_ALIASES.get(name, name))
        if cls is None:
            raise ValueError(f"unknown initializer {name!r}; pass it in custom_objects")
        return cls(**config)
    if isinstance(spec, str):
        if spec in custom_objects:
            return get(custom_objects[spec])
        cls = _CLASSES.get(_ALIASES.get(spec, spec))
        if cls is None:
            raise ValueError(f"unknown initializer {spec!r}; known: {', '.join(sorted(_CLASSES))}")
        return cls()
    if callable(spec):
        return _Wrapped(spec)
    raise TypeError(f"an initializer must be a name, an Initializer or a callable, got {spec!r}")


def serialize(init: Initializer):
    """A JSON-able description: the name for built-ins without arguments, else a dict.
    A user callable is described by its qualified name, resolved by `custom_objects`."""
    if isinstance(init, _Wrapped) or type(init).name not in _CLASSES:
        return init.name
    config = init.get_config()
    return init.name if not config else {"class_name": init.name, "config": config}


# ---- per-layer generators ---------------------------------------------------------------

_sequence = {"streams": None, "count": 0}


def _words(value: int) -> list:
    value &= (1 << 64) - 1
    return [value & 0xFFFFFFFF, value >> 32]


def layer_rng(seed=None, key: str = "") -> np.random.Generator:
    """The Generator a layer draws its initial weights from.

    seed given (a layer's or a model's `seed=`): derived from (seed, key) only.
    Otherwise from the default RandomState's seed (`th.seed(n)`, 0 when never called) and
    the number of layers built since that seed was set, so building the same model again
    after the same `th.seed(n)` repeats its weights, and consecutive models differ.
    """
    digest = hashlib.sha256(key.encode()).digest()
    key_words = list(np.frombuffer(digest[:8], dtype=np.uint32))
    if seed is not None:
        return np.random.default_rng([*_words(int(seed)), *key_words, 1])
    state = default_rng()
    # set_seed installs a fresh draw-numbering counter: that object marks a seeding epoch
    # (kept referenced, so a later epoch's counter can never reuse its identity)
    epoch = getattr(state, "_streams", None)
    if _sequence["streams"] is not epoch:
        _sequence["streams"], _sequence["count"] = epoch, 0
    n = _sequence["count"]
    _sequence["count"] += 1
    return np.random.default_rng([*_words(int(state.seed.get_value())), n, 0])
