"""`ConvReluPool`: max_pool(relu(conv2d(x, w, b))) over non-overlapping windows as one node,
made by the compiler's fuse_conv_pool pass (not by users).

Its kernel is generated, per layer shape, by the device's backend (`BACKENDS`): C++ on the
CPU (conv_pool_cpp.py), Triton on CUDA (conv_pool_triton.py); both define the same two
functions (conv_pool_spec.py), so the ops below, the choice and the gradients are one code
for both. It never writes the full-size convolution output: the pooled values, and for
training the argmax indices the gradient routes through. Early layers over few input
channels are where this pays (LeNet's 1 -> 6 and 6 -> 16 channels: oneDNN runs such
convolutions below its peak, and the pool then reads their whole output back). The C++ is built in a
background thread on first use (kept on disk, so a later process loads it); Triton compiles
on first use, there and then, on one zero image (a kernel it cannot compile leaves the
unfused kernels). Once built, the kernel is timed against the unfused kernels on the node's
own inputs; the faster one runs from then on, so a machine where oneDNN (or cuDNN) wins
keeps it. Until then, without a C++ compiler or Triton, on other devices, and with
THEON_CODEGEN=off, the node runs the unfused kernels: the fused conv+ReLU and ATen's pool.

The gradient needs no full-size forward value either: relu(y) > 0 at a window's argmax
exactly when the pooled value is > 0, so the ReLU mask is applied to the pooled gradient,
which is then scattered to the argmax positions (`MaxPoolScatter`) and fed to the
convolution's gradient: the unfused program's values, with a quarter of the mask work. A
first layer's weight and bias gradients come from the pooled gradient alone
(`ConvReluPoolBackward`, a second generated function of the same build).
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from .. import config
from ..autodiff import vjp
from ..graph import TensorType
from ..ops.base import Op
from ..ops.elementwise import ReluGrad
from ..ops.nn_conv import Conv, ConvBackward, ConvBackwardInput, ConvBackwardWeight
from ..ops.nn_fused import ConvRelu
from ..ops.nn_pool import MaxPool, MaxPoolScatter, MaxPoolWithIndices
from ..ops.reduce import sum as _sum
from . import cache, choices, timed
from .conv_pool_cpp import cpp_source
from .conv_pool_spec import BACKWARD, FUNCTION, INPUT_BACKWARD, ConvPoolSpec
from .conv_pool_triton import triton_source

log = logging.getLogger("theon.codegen")

MAX_CHANNELS = 16         # input channels up to which the generated loop can beat oneDNN
MAX_KERNEL = 7            # taps per side: the source unrolls every tap of a pool row's rows
MAX_WIDTH = 1024          # convolution output row: the pooled rows are kept on the stack
_NAME = "theon_conv_pool"
# device type -> the backend generating its kernels (tests point "cpu" at "triton": Triton's
# interpreter then runs the CUDA source on CPU tensors)
BACKENDS = {"cpu": "cpp", "cuda": "triton"}


def conv_plane(x_shape, w_shape, padding) -> tuple:
    """(height, width) of the convolution output (stride 1, no dilation); None where unknown."""
    return tuple(None if x_shape[2 + i] is None or w_shape[2 + i] is None
                 else x_shape[2 + i] + 2 * padding[i] - w_shape[2 + i] + 1 for i in range(2))


def fits(x_shape, w_shape, padding, pool) -> bool:
    """The shape rule: an early layer over few input channels, a small kernel, every size
    known (whether the generated kernel then wins is measured: `timed.TimedChoice`)."""
    if len(x_shape) != 4 or len(w_shape) != 4 or None in x_shape or None in w_shape:
        return False
    ho, wo = conv_plane(x_shape, w_shape, padding)
    return (x_shape[1] <= MAX_CHANNELS and max(w_shape[2:]) <= MAX_KERNEL and ho >= pool[0]
            and pool[1] <= wo <= MAX_WIDTH)


def scatter_pooled_gradient(g, pooled, indices, pool, plane):
    """The gradient at the convolution output of relu then max pool, from the pooled
    gradient g: g where the pooled value passed the ReLU, at each window's argmax."""
    scatter = MaxPoolScatter(kernel_size=tuple(pool), stride=tuple(pool), size=tuple(plane))
    return scatter(ReluGrad()(g, pooled), indices)


@dataclass(frozen=True)
class _ConvReluPoolAttrs(Op):
    padding: tuple = (0, 0)      # the convolution's (stride 1, no dilation, one group)
    pool: tuple = (2, 2)         # the pool's window and stride (no padding, floor mode)
    _choice: dict = field(default_factory=dict, init=False, compare=False, repr=False, hash=False)
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
        return self.unfused(x, w, b, indices) if fn is None else fn(x, w, b, indices)

    def _generated(self, x, w, *timed_args):
        """The built kernel, taking and returning what `unfused` does, when it is ready and
        measured faster for this node; else None."""
        backend = BACKENDS.get(x.device.type)
        if config.CODEGEN == "off" or backend is None or x.dtype != torch.float32:
            return None
        key = (backend, tuple(x.shape), tuple(w.shape))

        def build():
            return built(self, x.shape, w.shape, self.function, backend, x.device)

        def verdict():  # kept on disk for C++ (its source names the CPU it is tuned for)
            return choices.key(_cpp_source(_spec(self, x.shape, w.shape)), self.name, *key[1:])
        return timed.generated(self._choice, key, build, self.adapt, self.unfused, *timed_args,
                               verdict=verdict if backend == "cpp" else None)

    def adapt(self, fn):
        """The built function, taking and returning what `unfused` does."""
        return lambda x, w, b, indices: _first(fn(x, w, b, indices), 2 if indices else 1)

    def grad(self, inputs, outputs, output_grads):
        x, w, b = inputs
        g = output_grads[0]
        if g is None:
            return [None, None, None]
        idx = outputs[1] if self.nout == 2 else ConvReluPoolWithIndices(self.padding, self.pool)(x, w, b)[1]
        gy = scatter_pooled_gradient(g, outputs[0], idx, self.pool,
                                     conv_plane(x.type.shape, w.type.shape, self.padding))
        return Conv(padding=self.padding).grad([x, w, b], [None], [gy])


def _first(outputs, n: int) -> tuple:
    return tuple(outputs)[:n]


def built(op, x_shape, w_shape, function: str, backend: str = "cpp", device=None):
    """`function` of the generated source for this op, shapes and backend: C++ loaded from
    the disk cache, or None while a background thread builds it (or when the build failed, or
    no compiler is here); Triton imported and compiled, or None without Triton or when it
    cannot compile for this device."""
    spec = _spec(op, x_shape, w_shape)
    if backend == "triton":
        names = (FUNCTION, BACKWARD)
        fns = function in names and _compiled(cache.triton_function(triton_source(spec), _NAME, names), spec, device)
    else:
        names = (FUNCTION, BACKWARD, INPUT_BACKWARD)
        fns = timed.can_build() and timed.cpp_function(_cpp_source(spec), _NAME, names)
    return fns[names.index(function)] if fns else None


def _spec(op, x_shape, w_shape) -> ConvPoolSpec:
    return ConvPoolSpec(x_shape[1], x_shape[2], x_shape[3], w_shape[0], tuple(w_shape[2:]),
                        tuple(op.padding), tuple(op.pool))


@functools.lru_cache(maxsize=64)
def _cpp_source(spec: ConvPoolSpec) -> str:
    """The C++ for one spec on this CPU (pure: built once per process)."""
    return cpp_source(spec, timed.cpu_signature(), *timed.vector_registers())


_compile_checked: dict = {}   # (Triton functions, device) -> those functions, or None


def _compiled(fns, spec, device):
    """The Triton functions once each kernel has compiled for `device` (Triton compiles on
    the first launch: here, on one zero image), or None when one failed (logged once)."""
    if fns is None:
        return None
    key = (fns, str(device))
    if key not in _compile_checked:
        forward, backward = fns
        x = torch.zeros((1, spec.channels, spec.height, spec.width), device=device)
        w = torch.zeros((spec.out_channels, spec.channels, *spec.kernel), device=device)
        try:
            forward(x, w, w[:, 0, 0, 0], False)
            pooled, idx = forward(x, w, w[:, 0, 0, 0], True)
            backward(pooled, pooled, idx, x)
            _compile_checked[key] = fns
        except Exception as e:  # a GPU Triton cannot compile for keeps the unfused kernels
            log.warning("theon: the Triton conv+ReLU+pool kernel failed to compile; running the "
                        "unfused kernels:\n%s", e)
            _compile_checked[key] = None
    return _compile_checked[key]


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
class _PooledGradients(_ConvReluPoolAttrs):
    """The gradients of a ConvReluPoolWithIndices from its pooled gradient: (g, pooled,
    indices, x, w) -> what `decompose` lists."""

    def kernel(self, g, pooled, indices, x, w):
        fn = self._generated(x, w, g, pooled, indices, x, w)
        return self.unfused(g, pooled, indices, x, w) if fn is None else fn(g, pooled, indices, x, w)

    def adapt(self, fn):
        return lambda g, pooled, indices, x, w: tuple(fn(g, pooled, indices, x, w))[:self.nout]

    def full_gradient(self, g, pooled, indices, x, w):
        """The gradient at the convolution output (the unfused kernels' scatter)."""
        scatter = MaxPoolScatter(kernel_size=self.pool, stride=self.pool, size=conv_plane(x.shape, w.shape, self.padding))
        return scatter.kernel(ReluGrad().kernel(g, pooled), indices)

    def grad(self, inputs, outputs, output_grads):
        return vjp(self.decompose(inputs), list(inputs), list(output_grads))


@dataclass(frozen=True)
class ConvReluPoolBackward(_PooledGradients):
    """(g, pooled, indices, x, w_like) -> (weight gradient, bias gradient) of a
    ConvReluPoolWithIndices, from its pooled gradient: a window's g, where the ReLU passed
    it, times the input patch under the window's argmax (generated: one pass that scatters
    each image's window gradients into a plane it keeps in cache and correlates that with
    the input, instead of the unfused full-size scatter, ReLU mask and weight gradient).
    Made by the fuse_conv_pool pass where the layer's input needs no gradient. An infinity in
    x that only convolution rows outside every pool window read gives 0 here where the
    unfused kernels give NaN (0 * inf)."""
    name: ClassVar[str] = "conv_relu_pool_backward"
    nout: ClassVar[int] = 2
    function: ClassVar[str] = BACKWARD

    def infer(self, g, pooled, indices, x, w_like):
        return [TensorType(g.dtype, w_like.type.shape), TensorType(g.dtype, (w_like.type.shape[0],))]

    def adapt(self, fn):
        return lambda g, pooled, indices, x, w_like: _first(fn(g, pooled, indices, x), 2)

    def unfused(self, g, pooled, indices, x, w_like):
        full = self.full_gradient(g, pooled, indices, x, w_like)
        return (ConvBackwardWeight(padding=self.padding).kernel(full, x, w_like), full.sum((0, 2, 3)))

    def decompose(self, inputs) -> list:
        g, pooled, indices, x, w_like = inputs
        full = scatter_pooled_gradient(g, pooled, indices, self.pool,
                                       conv_plane(x.type.shape, w_like.type.shape, self.padding))
        return [ConvBackwardWeight(padding=self.padding)(full, x, w_like), _sum(full, axis=(0, 2, 3))]


@dataclass(frozen=True)
class ConvReluPoolBackwardWithInput(_PooledGradients):
    """(g, pooled, indices, x, w) -> (weight, bias and input gradients): the above for a layer
    whose input needs a gradient too (LeNet's second); the input gradient correlates each
    image's scattered planes with the flipped weights. Generated by the C++ backend only (on
    CUDA, cuDNN's backward runs)."""
    name: ClassVar[str] = "conv_relu_pool_backward_with_input"
    nout: ClassVar[int] = 3
    function: ClassVar[str] = INPUT_BACKWARD

    def infer(self, g, pooled, indices, x, w):
        return [TensorType(g.dtype, w.type.shape), TensorType(g.dtype, (w.type.shape[0],)),
                TensorType(g.dtype, x.type.shape)]

    def unfused(self, g, pooled, indices, x, w):
        full = self.full_gradient(g, pooled, indices, x, w)
        gx, gw = ConvBackward(padding=self.padding).kernel(full, x, w)
        return gw, full.sum((0, 2, 3)), gx

    def decompose(self, inputs) -> list:
        g, pooled, indices, x, w = inputs
        full = scatter_pooled_gradient(g, pooled, indices, self.pool,
                                       conv_plane(x.type.shape, w.type.shape, self.padding))
        return [ConvBackwardWeight(padding=self.padding)(full, x, w), _sum(full, axis=(0, 2, 3)),
                ConvBackwardInput(padding=self.padding)(full, w, x)]
