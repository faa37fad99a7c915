"""`ConvReluPool`: max_pool(relu(conv2d(x, w, b))) over non-overlapping windows as one node,
made by the compiler's fuse_conv_pool pass (not by users).

Its kernel is generated C++ (conv_pool_cpp.py) that never writes the full-size convolution
output: the pooled values, and for training the argmax indices the gradient routes
through. A first layer over few input channels is where this pays (LeNet's 1 -> 6
channels: oneDNN runs such a convolution far below its peak, and the pool then reads its
whole output back). The kernel is built in a background thread on first use (kept on disk,
so a later process loads it), and once built it is timed against the unfused kernels on the
node's own inputs; the faster one runs from then on, so a machine where oneDNN wins keeps
oneDNN. The verdict is kept on disk too (codegen/choices.py): a later process runs the
winner from its first call and never sets up the loser. Until then, on other devices, and
with THEON_CODEGEN=off, the node runs the unfused kernels: the fused conv+ReLU and ATen's
pool.

The gradient needs no full-size forward value either: relu(y) > 0 at a window's argmax
exactly when the pooled value is > 0, so the ReLU mask is applied to the pooled gradient,
which is then scattered to the argmax positions (`MaxPoolScatter`) and fed to the
convolution's gradient: the unfused program's values, with a quarter of the mask work. A
first layer's weight and bias gradients come from the pooled gradient alone
(`ConvReluPoolBackward`, a second generated function of the same build).
"""
from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch

from .. import config
from ..autodiff import vjp
from ..graph import TensorType
from ..ops.base import Op
from ..ops.elementwise import ReluGrad
from ..ops.nn_conv import Conv, ConvBackwardWeight
from ..ops.nn_fused import ConvRelu
from ..ops.nn_pool import MaxPool, MaxPoolScatter, MaxPoolWithIndices
from ..ops.reduce import sum as _sum
from . import cache, choices
from .conv_pool_cpp import BACKWARD, FUNCTION, cpp_source

MAX_CHANNELS = 4          # input channels up to which the generated loop can beat oneDNN
MAX_PLANE = 16384         # convolution output elements per plane the kernel keeps on its stack
_NAME = "theon_conv_pool"
_CFLAGS = ("-march=native",)  # tuned for this CPU: the CPU goes into the source's hash


@dataclass(frozen=True)
class ConvPoolSpec:
    """What the generated source is specialised to."""
    channels: int
    height: int
    width: int
    out_channels: int
    kernel: tuple
    padding: tuple
    pool: tuple


def conv_plane(x_shape, w_shape, padding) -> tuple:
    """(height, width) of the convolution output (stride 1, no dilation); None where unknown."""
    return tuple(None if x_shape[2 + i] is None or w_shape[2 + i] is None
                 else x_shape[2 + i] + 2 * padding[i] - w_shape[2 + i] + 1 for i in range(2))


def fits(x_shape, w_shape, padding, pool) -> bool:
    """The shape rule: a first layer over few input channels whose output plane fits on
    the stack, every size known."""
    if len(x_shape) != 4 or len(w_shape) != 4 or None in x_shape or None in w_shape:
        return False
    ho, wo = conv_plane(x_shape, w_shape, padding)
    return (x_shape[1] <= MAX_CHANNELS and ho >= pool[0] and wo >= pool[1] and ho * wo <= MAX_PLANE)


def scatter_pooled_gradient(g, pooled, indices, pool, plane):
    """The gradient at the convolution output of relu then max pool, from the pooled
    gradient g: g where the pooled value passed the ReLU, at each window's argmax."""
    scatter = MaxPoolScatter(kernel_size=tuple(pool), stride=tuple(pool), size=tuple(plane))
    return scatter(ReluGrad()(g, pooled), indices)


@dataclass(frozen=True)
class _ConvReluPoolAttrs(Op):
    padding: tuple = (0, 0)      # the convolution's (stride 1, no dilation, one group)
    pool: tuple = (2, 2)         # the pool's window and stride (no padding, floor mode)
    _choice: dict = field(default_factory=dict, compare=False, repr=False, hash=False)
    allocates: ClassVar[bool] = True
    function: ClassVar[str] = FUNCTION

    def infer(self, x, w, b):
        (y,) = Conv(padding=self.padding).infer(x, w, b)
        shape = y.shape[:2] + tuple(None if s is None else s // p for s, p in zip(y.shape[2:], self.pool))
        return [TensorType(y.dtype, shape), TensorType("int64", shape)][:self.nout]

    def unfused(self, x, w, b, indices: bool):
        y = ConvRelu(padding=self.padding).kernel(x, w, b)
        pool = {"kernel_size": self.pool, "stride": self.pool}
        if indices:
            return MaxPoolWithIndices(**pool).kernel(y)
        return (MaxPool(**pool, formulation="strided").kernel(y),)

    def run(self, x, w, b, indices: bool):
        fn = self._generated(x, w, x, w, b, indices)
        if fn is None:
            return self.unfused(x, w, b, indices)
        out, idx = fn(x, w, b, indices)
        return (out, idx) if indices else (out,)

    def _generated(self, x, w, *timed_args):
        """The built kernel when it is ready and measured faster for this node, else None."""
        if config.CODEGEN == "off" or x.device.type != "cpu" or x.dtype != torch.float32 or not _can_build():
            return None
        key = (tuple(x.shape), tuple(w.shape))
        choice = self._choice.get(key)
        if choice is None:
            fn = built(self, x.shape, w.shape, self.function)
            if fn is None:
                return None      # building (or failed): the unfused kernels meanwhile
            verdict = choices.key(_source(tuple(self.padding), tuple(self.pool), *key), self.function, *key)
            choice = self._choice[key] = _Choice(self.adapt(fn), verdict)
        return choice.pick(self, *timed_args)

    def adapt(self, fn):
        """The built function called with the unfused kernels' arguments."""
        return fn

    def grad(self, inputs, outputs, output_grads):
        x, w, b = inputs
        g = output_grads[0]
        if g is None:
            return [None, None, None]
        idx = outputs[1] if self.nout == 2 else ConvReluPoolWithIndices(self.padding, self.pool)(x, w, b)[1]
        gy = scatter_pooled_gradient(g, outputs[0], idx, self.pool,
                                     conv_plane(x.type.shape, w.type.shape, self.padding))
        return Conv(padding=self.padding).grad([x, w, b], [None], [gy])


class _Choice:
    """Generated or unfused, decided once per machine, kernel and shapes by timing both on
    the call's own inputs (three alternating runs each, the best of each): on the second
    call, so a first training step never pays for the timing (it runs the generated kernel,
    which also skips oneDNN's one-time set-up of the convolution). The verdict is saved
    under `verdict` (choices.py); a node that finds one there runs the winner from its first
    call and times nothing."""

    def __init__(self, fn, verdict: str):
        self.fn = fn
        self.verdict = verdict
        self.use = choices.load(verdict)
        self.calls = 0

    def pick(self, op, *args):
        self.calls += 1
        if self.use is None:
            if self.calls == 1:
                return self.fn
            fused = lambda: self.fn(*args)  # noqa: E731
            unfused = lambda: op.unfused(*args)  # noqa: E731
            best = {fused: float("inf"), unfused: float("inf")}
            for _ in range(3):
                for run in best:
                    start = time.perf_counter()
                    run()
                    best[run] = min(best[run], time.perf_counter() - start)
            self.use = best[fused] < best[unfused]
            choices.save(self.verdict, self.use)
        return self.fn if self.use else None


@functools.lru_cache(maxsize=64)
def _source(padding: tuple, pool: tuple, x_shape: tuple, w_shape: tuple) -> str:
    """The generated C++ for these attributes and shapes (pure: cached)."""
    spec = ConvPoolSpec(x_shape[1], x_shape[2], x_shape[3], w_shape[0], tuple(w_shape[2:]), padding, pool)
    return cpp_source(spec, _cpu_signature())


def built(op, x_shape, w_shape, function: str):
    """`function` of the generated source for this op and shapes: loaded from the disk
    cache, or None while a background thread builds it (or when the build failed)."""
    source = _source(tuple(op.padding), tuple(op.pool), tuple(x_shape), tuple(w_shape))
    fns = cache.cpp_function(source, _NAME, (FUNCTION, BACKWARD), _CFLAGS)
    return None if fns is None else fns[(FUNCTION, BACKWARD).index(function)]


@dataclass(frozen=True)
class ConvReluPool(_ConvReluPoolAttrs):
    """(x, w, b) -> max_pool(relu(conv2d(x, w, b, padding)), pool, pool)."""
    name: ClassVar[str] = "conv_relu_pool"
    nout: ClassVar[int] = 1

    def kernel(self, x, w, b):
        return self.run(x, w, b, False)[0]

    def superset(self):
        """The twin that also returns the argmax (a compiled training graph runs one)."""
        return ConvReluPoolWithIndices(self.padding, self.pool)


@dataclass(frozen=True)
class ConvReluPoolWithIndices(_ConvReluPoolAttrs):
    """(x, w, b) -> (pooled values, int64 flat argmax of each window in the conv output's plane)."""
    name: ClassVar[str] = "conv_relu_pool_with_indices"
    nout: ClassVar[int] = 2

    def kernel(self, x, w, b):
        return self.run(x, w, b, True)


@dataclass(frozen=True)
class ConvReluPoolBackward(_ConvReluPoolAttrs):
    """(g, pooled, indices, x, w_like) -> (weight gradient, bias gradient) of a
    ConvReluPoolWithIndices, from its pooled gradient: a window's g, where the ReLU passed
    it, times the input patch under the window's argmax (generated: a quarter of the
    positions of the unfused scatter and full-size weight gradient, and no scatter).
    Made by the fuse_conv_pool pass where the layer's input needs no gradient. An infinity in
    x outside every argmax patch gives 0 here where the unfused kernels give NaN (0 * inf)."""
    name: ClassVar[str] = "conv_relu_pool_backward"
    nout: ClassVar[int] = 2
    function: ClassVar[str] = BACKWARD

    def infer(self, g, pooled, indices, x, w_like):
        return [TensorType(g.dtype, w_like.type.shape), TensorType(g.dtype, (w_like.type.shape[0],))]

    def kernel(self, g, pooled, indices, x, w_like):
        fn = self._generated(x, w_like, g, pooled, indices, x, w_like)
        return self.unfused(g, pooled, indices, x, w_like) if fn is None else tuple(fn(g, pooled, indices, x, w_like))

    def adapt(self, fn):
        return lambda g, pooled, indices, x, w_like: fn(g, pooled, indices, x)

    def unfused(self, g, pooled, indices, x, w_like):
        scatter = MaxPoolScatter(kernel_size=self.pool, stride=self.pool,
                                 size=conv_plane(x.shape, w_like.shape, self.padding))
        full = scatter.kernel(ReluGrad().kernel(g, pooled), indices)
        return (ConvBackwardWeight(padding=self.padding).kernel(full, x, w_like), full.sum((0, 2, 3)))

    def decompose(self, inputs) -> list:
        g, pooled, indices, x, w_like = inputs
        full = scatter_pooled_gradient(g, pooled, indices, self.pool,
                                       conv_plane(x.type.shape, w_like.type.shape, self.padding))
        return [ConvBackwardWeight(padding=self.padding)(full, x, w_like), _sum(full, axis=(0, 2, 3))]

    def grad(self, inputs, outputs, output_grads):
        return vjp(self.decompose(inputs), list(inputs), list(output_grads))


@functools.lru_cache(maxsize=None)
def _can_build() -> bool:
    """A C++ compiler and ninja (th.ops.load_inline's build tool) are here: without them the
    unfused kernels run, silently (generated kernels are an optimisation, not a feature)."""
    return shutil.which("ninja") is not None and shutil.which(os.environ.get("CXX", "c++")) is not None


@functools.lru_cache(maxsize=None)
def _cpu_signature() -> str:
    """The CPU the source is compiled for (-march=native): model and instruction sets."""
    text = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    if info.is_file():
        lines = [ln for ln in info.read_text().splitlines() if ln.startswith(("model name", "flags"))]
        text = "\n".join(dict.fromkeys(lines))
    return "cpu " + hashlib.sha256(text.encode()).hexdigest()[:16]
