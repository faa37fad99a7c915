"""theon layers with Caffe's own semantics, for the Caffe layer types theon's general layers
do not cover exactly: pooling with Caffe's rounding, InnerProduct over trailing axes,
Scale/Bias along an axis range, Eltwise with coefficients, Power, Slice, Flatten and
Reshape with Caffe's axis arguments, and Split. Each is a plain theon layer (configs,
weights by name, trainable) and works on any input, not only imported ones.

Axes are counted as Caffe counts them, the batch axis being 0.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ShapeError
from ..graph import constant, format_shape
from ..nn import initializers
from ..nn.layer import Layer
from ..ops.dims import dim
from ..ops.elementwise import maximum
from ..ops.nn_conv import linear
from ..ops.nn_pool import avg_pool2d, max_pool2d
from ..ops.rearrange import pad
from ..ops.reduce import amax, mean
from ..ops.shape import reshape

__all__ = ["CaffePooling", "CaffeInnerProduct", "CaffeScale", "CaffeEltwise", "CaffePower", "CaffeSlice",
           "CaffeFlatten", "CaffeReshape", "CaffeSplit", "caffe_pooled_size"]


def _pair(value, what: str) -> tuple:
    t = (int(value),) * 2 if isinstance(value, (int, np.integer)) else tuple(int(v) for v in value)
    if len(t) != 2:
        raise ValueError(f"{what} must be an int or two ints, got {value!r}")
    return t


def _axis(layer, axis: int, rank: int, allow_end: bool = False) -> int:
    """A Caffe axis (negative counts from the end) as a non-negative one, not the batch axis."""
    a = axis + rank + (1 if allow_end else 0) if axis < 0 else axis
    if not 1 <= a <= (rank if allow_end else rank - 1):
        raise ShapeError(f"layer {layer.name!r} ({type(layer).__name__}): axis {axis} is out of range for "
                         f"inputs of rank {rank}, or is the batch axis 0")
    return a


def caffe_pooled_size(size: int, kernel: int, stride: int, pad: int, ceil: bool = True) -> int:
    """Caffe's number of pooling windows along a dim: rounded up (or down), and with padding,
    a last window that would start in the right padding is dropped."""
    span = size + 2 * pad - kernel
    out = (-(-span // stride) if ceil else span // stride) + 1
    if pad and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _torch_pooled_size(size, kernel, stride, pad, ceil):
    span = size + 2 * pad - kernel
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    return out


class CaffePooling(Layer):
    """Max or average pooling of (N, C, H, W) as Caffe computes it: Caffe's output size
    (caffe_pooled_size, rounded up by default), padding up to kernel - 1 (never winning a
    max), averages dividing by the window's extent inside the padded input (so padding
    counts, but not the part of a last window beyond it). global_pooling: over all of H
    and W, giving (N, C, 1, 1)."""

    def __init__(self, method: str = "max", kernel_size=1, strides=1, padding=0, global_pooling: bool = False,
                 round_mode: str = "ceil", **kwargs):
        super().__init__(**kwargs)
        if method not in ("max", "ave"):
            raise ValueError(f"CaffePooling: method must be 'max' or 'ave', got {method!r}")
        if round_mode not in ("ceil", "floor"):
            raise ValueError(f"CaffePooling: round_mode must be 'ceil' or 'floor', got {round_mode!r}")
        self.method, self.round_mode, self.global_pooling = method, round_mode, bool(global_pooling)
        self.kernel_size = _pair(kernel_size, "CaffePooling kernel_size")
        self.strides = _pair(strides, "CaffePooling strides")
        self.padding = _pair(padding, "CaffePooling padding")
        if min(self.kernel_size) < 1 or min(self.strides) < 1 or min(self.padding) < 0:
            raise ValueError(f"CaffePooling: kernel_size and strides must be positive and padding non-negative, "
                             f"got {self.kernel_size}, {self.strides}, {self.padding}")
        if any(p >= k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"CaffePooling: padding {self.padding} must be smaller than the kernel "
                             f"{self.kernel_size} (as Caffe requires)")
        if self.global_pooling and (any(self.padding) or self.strides != (1, 1)):
            raise ValueError("CaffePooling: global pooling takes no padding and stride 1 (as Caffe requires)")

    def _check(self, input_shape):
        if len(input_shape) != 3:
            raise ShapeError(f"layer {self.name!r} (CaffePooling) expects inputs (N, C, H, W), got "
                             f"{format_shape((None, *input_shape))}")

    def output_shape(self, input_shape):
        self._check(input_shape)
        if self.global_pooling:
            return (input_shape[0], 1, 1)
        out = []
        for n, k, s, p in zip(input_shape[1:], self.kernel_size, self.strides, self.padding):
            if n is not None and n + 2 * p < k:
                raise ShapeError(f"layer {self.name!r} (CaffePooling): the kernel {self.kernel_size} is larger "
                                 f"than the padded input {format_shape((None, *input_shape))}")
            out.append(None if n is None else caffe_pooled_size(n, k, s, p, self.round_mode == "ceil"))
        return (input_shape[0], *out)

    def build(self, input_shape):
        self.output_shape(input_shape)

    def call(self, x, training=False):
        self._check(x.type.shape[1:])
        if self.global_pooling:
            return (amax if self.method == "max" else mean)(x, axis=(2, 3), keepdims=True)
        ceil = self.round_mode == "ceil"
        sizes = x.type.shape[2:]
        direct = all(2 * p <= k for p, k in zip(self.padding, self.kernel_size))
        for n, k, s, p in zip(sizes, self.kernel_size, self.strides, self.padding):
            if ceil and p == 0 and s > k:  # torch drops a last window starting past the input; Caffe not
                direct = direct and n is not None and \
                    caffe_pooled_size(n, k, s, p) == _torch_pooled_size(n, k, s, p, True)
        if direct:
            if self.method == "max":
                return max_pool2d(x, self.kernel_size, self.strides, self.padding, ceil_mode=ceil)
            return avg_pool2d(x, self.kernel_size, self.strides, self.padding, ceil_mode=ceil,
                              count_include_pad=True)
        return self._padded_pool(x, sizes, ceil)

    def _padded_pool(self, x, sizes, ceil):
        """Pooling with the padding made explicit: for a padding above half the kernel (which
        torch's pooling refuses) or a last window past the input."""
        if None in sizes:
            raise ShapeError(f"layer {self.name!r} (CaffePooling): this padding needs H and W known, got "
                             f"input {format_shape(x.type.shape)}")
        outs = [caffe_pooled_size(n, k, s, p, ceil) for n, k, s, p
                in zip(sizes, self.kernel_size, self.strides, self.padding)]
        rights = [max(0, (o - 1) * s + k - n - p) for o, n, k, s, p
                  in zip(outs, sizes, self.kernel_size, self.strides, self.padding)]
        widths = ((0, 0), (0, 0), *zip(self.padding, rights))
        if self.method == "max":  # Caffe's max starts from -FLT_MAX: an all-padding window gives it
            padded = pad(x, widths, constant_values=np.finfo(x.dtype).min)
            y = max_pool2d(padded, self.kernel_size, self.strides)
        else:
            y = avg_pool2d(pad(x, widths), self.kernel_size, self.strides)
        y = y[:, :, :outs[0], :outs[1]]
        if self.method == "max":
            return y
        # torch divided by the whole kernel; Caffe by the window's extent inside the padded input
        factors = []
        for o, n, k, s, p in zip(outs, sizes, self.kernel_size, self.strides, self.padding):
            extent = np.array([min(i * s - p + k, n + p) - (i * s - p) for i in range(o)], dtype=np.float64)
            factors.append(np.where(extent > 0, k / np.maximum(extent, 1), 0.0))
        return y * constant(np.outer(*factors)[None, None].astype(x.dtype))

    def get_config(self):
        return {**super().get_config(), "method": self.method, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": list(self.padding),
                "global_pooling": self.global_pooling, "round_mode": self.round_mode}


class CaffeInnerProduct(Layer):
    """A dense layer over the axes from `axis` on, flattened: (N, ..., d_axis, ...) ->
    (N, ..., units) with the leading axes kept. "kernel" is (in, units) as nn.Dense's
    (Caffe stores its transpose unless transpose: true), "bias" (units,)."""

    def __init__(self, units: int, axis: int = 1, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units, self.axis, self.use_bias = int(units), int(axis), bool(use_bias)
        if self.units < 1:
            raise ValueError(f"CaffeInnerProduct: units must be positive, got {units}")
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def _split(self, input_shape):
        a = _axis(self, self.axis, len(input_shape) + 1)
        flat = input_shape[a - 1:]
        if None in flat:
            raise ShapeError(f"layer {self.name!r} (CaffeInnerProduct) needs the axes from {a} on known, got "
                             f"{format_shape((None, *input_shape))}")
        return tuple(input_shape[:a - 1]), math.prod(flat)

    def build(self, input_shape):
        _, n_in = self._split(input_shape)
        self.kernel = self.add_param("kernel", (n_in, self.units), self.kernel_initializer)
        self.bias = self.add_param("bias", (self.units,), self.bias_initializer) if self.use_bias else None

    def call(self, x, training=False):
        x = self.cast_input(x)
        lead, n_in = self._split(x.type.shape[1:])
        flat = reshape(x, (dim(x, 0), *(dim(x, i + 1) for i in range(len(lead))), n_in))
        return linear(flat, self.kernel.T, self.bias)

    def output_shape(self, input_shape):
        lead, _ = self._split(tuple(input_shape))
        return (*lead, self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "axis": self.axis, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}


class CaffeScale(Layer):
    """Caffe's Scale (scale=True) and Bias (scale=False) layers: x times a scale and/or plus a
    bias, shaped like the input's axes axis .. axis + num_axes - 1 (num_axes -1: to the
    end) and broadcast over the others. Called on [x]: the scale is the learned "gamma"
    (ones at first) and the bias "beta"; called on [x, y]: y is the scale (or, for Bias,
    the bias), covering x's axes from `axis` (0 here: y has the batch axis too), and a
    Scale's bias is learned."""

    takes_list = True

    def __init__(self, axis: int = 1, num_axes: int = 1, scale: bool = True, bias: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.axis, self.num_axes = int(axis), int(num_axes)
        self.scale, self.bias = bool(scale), bool(bias)
        if not (self.scale or self.bias):
            raise ValueError("CaffeScale: scale or bias (or both) must be on")
        if self.num_axes < -1:
            raise ValueError(f"CaffeScale: num_axes must be -1 or more, got {num_axes}")

    def _param_shape(self, shapes) -> tuple:
        x = shapes[0]
        rank = len(x) + 1
        if len(shapes) == 2:
            a = self.axis + rank if self.axis < 0 else self.axis
            if a != 0:
                raise ShapeError(f"layer {self.name!r} (CaffeScale) with a second input takes axis 0 (the "
                                 f"second input has a batch axis too), got axis {self.axis}")
            return None
        a = _axis(self, self.axis, rank)
        end = rank if self.num_axes == -1 else a + self.num_axes
        if end > rank:
            raise ShapeError(f"layer {self.name!r} (CaffeScale): axis {self.axis} and num_axes {self.num_axes} "
                             f"go past the rank of the input {format_shape((None, *x))}")
        shape = tuple(x[a - 1:end - 1])
        if None in shape:
            raise ShapeError(f"layer {self.name!r} (CaffeScale) needs the scaled axes known, got "
                             f"{format_shape((None, *x))}")
        return shape

    def build(self, input_shape):
        if len(input_shape) not in (1, 2):
            raise ValueError(f"layer {self.name!r} (CaffeScale) takes [x] or [x, y], got {len(input_shape)} inputs")
        shape = self._param_shape(input_shape)
        learned = (1,) if shape is None else shape
        if self.scale and shape is not None:
            self.gamma = self.add_param("gamma", learned, "ones")
        if self.bias and (shape is not None or self.scale):
            if shape is None:
                raise ShapeError(f"layer {self.name!r} (CaffeScale) with a second input cannot learn a bias "
                                 f"of an unknown shape")
            self.beta = self.add_param("beta", learned, "zeros")

    def _broadcast(self, v, rank: int, start: int):
        return reshape(v, (*v.type.shape, *(1,) * (rank - start - v.ndim))) if v.ndim else v

    def call(self, xs, training=False):
        x = self.cast_input(xs[0])
        shape = self._param_shape([v.type.shape[1:] for v in xs])
        if shape is None:
            other = self.cast_input(xs[1])
            if other.ndim > x.ndim:
                raise ShapeError(f"layer {self.name!r} (CaffeScale): the second input "
                                 f"{format_shape(other.type.shape)} has more axes than x {format_shape(x.type.shape)}")
            if other.ndim < x.ndim:  # trailing axes of x the second input does not cover
                other = reshape(other, [dim(other, i) for i in range(other.ndim)] + [1] * (x.ndim - other.ndim))
            return x * other if self.scale else x + other
        start = _axis(self, self.axis, x.ndim)
        y = x * self._broadcast(self.gamma, x.ndim, start) if self.scale else x
        return y + self._broadcast(self.beta, x.ndim, start) if self.bias else y

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "num_axes": self.num_axes, "scale": self.scale,
                "bias": self.bias}


class CaffeEltwise(Layer):
    """The elementwise sum (with a coefficient per input, default 1), product or maximum of
    a list of tensors of one shape."""

    takes_list = True

    def __init__(self, operation: str = "sum", coefficients=None, **kwargs):
        super().__init__(**kwargs)
        if operation not in ("sum", "prod", "max"):
            raise ValueError(f"CaffeEltwise: operation must be 'sum', 'prod' or 'max', got {operation!r}")
        self.operation = operation
        self.coefficients = None if coefficients is None else [float(c) for c in coefficients]
        if self.coefficients is not None and operation != "sum":
            raise ValueError("CaffeEltwise: coefficients apply to the sum only")

    def build(self, input_shape):
        if len(input_shape) < 1:
            raise ValueError(f"layer {self.name!r} (CaffeEltwise) takes at least one tensor")
        if self.coefficients is not None and len(self.coefficients) != len(input_shape):
            raise ValueError(f"layer {self.name!r} (CaffeEltwise) has {len(self.coefficients)} coefficients for "
                             f"{len(input_shape)} inputs")
        shapes = [tuple(s) for s in input_shape]
        for s in shapes[1:]:
            if len(s) != len(shapes[0]) or any(a is not None and b is not None and a != b
                                               for a, b in zip(s, shapes[0])):
                raise ShapeError(f"layer {self.name!r} (CaffeEltwise): inputs must share one shape, got "
                                 f"{', '.join(format_shape((None, *t)) for t in shapes)}")

    def call(self, xs, training=False):
        xs = [self.cast_input(x) for x in xs]
        coeffs = self.coefficients or [1.0] * len(xs)
        out = None
        for x, c in zip(xs, coeffs):
            if self.operation == "sum":
                term = x if c == 1.0 else x * c
                out = term if out is None else out + term
            elif self.operation == "prod":
                out = x if out is None else out * x
            else:
                out = x if out is None else maximum(out, x)
        return out

    def output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "operation": self.operation, "coefficients": self.coefficients}


class CaffePower(Layer):
    """(shift + scale * x) ** power."""

    def __init__(self, power: float = 1.0, scale: float = 1.0, shift: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.power, self.scale, self.shift = float(power), float(scale), float(shift)

    def call(self, x, training=False):
        x = self.cast_input(x)
        y = x if self.scale == 1.0 else x * self.scale
        y = y if self.shift == 0.0 else y + self.shift
        return y if self.power == 1.0 else y ** self.power

    def get_config(self):
        return {**super().get_config(), "power": self.power, "scale": self.scale, "shift": self.shift}


class CaffeSlice(Layer):
    """One piece of a Caffe Slice: indices start .. stop - 1 along `axis`."""

    def __init__(self, axis: int, start: int, stop: int, **kwargs):
        super().__init__(**kwargs)
        self.axis, self.start, self.stop = int(axis), int(start), int(stop)
        if not 0 <= self.start < self.stop:
            raise ValueError(f"CaffeSlice: need 0 <= start < stop, got {start} and {stop}")

    def output_shape(self, input_shape):
        a = _axis(self, self.axis, len(input_shape) + 1)
        n = input_shape[a - 1]
        if n is not None and self.stop > n:
            raise ShapeError(f"layer {self.name!r} (CaffeSlice): slice {self.start}:{self.stop} of axis {a} "
                             f"is outside the input {format_shape((None, *input_shape))}")
        out = list(input_shape)
        out[a - 1] = self.stop - self.start
        return tuple(out)

    def build(self, input_shape):
        self.output_shape(input_shape)

    def call(self, x, training=False):
        a = _axis(self, self.axis, x.ndim)
        return x[(slice(None),) * a + (slice(self.start, self.stop),)]

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "start": self.start, "stop": self.stop}


class CaffeFlatten(Layer):
    """Merge the axes axis .. end_axis (inclusive; negative counts from the end) into one."""

    def __init__(self, axis: int = 1, end_axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.axis, self.end_axis = int(axis), int(end_axis)

    def _range(self, rank: int) -> tuple:
        a = _axis(self, self.axis, rank)
        e = self.end_axis + rank if self.end_axis < 0 else self.end_axis
        if not a <= e < rank:
            raise ShapeError(f"layer {self.name!r} (CaffeFlatten): end_axis {self.end_axis} is before axis "
                             f"{self.axis} or outside the rank {rank}")
        return a, e

    def output_shape(self, input_shape):
        a, e = self._range(len(input_shape) + 1)
        merged = input_shape[a - 1:e]
        joined = None if None in merged else math.prod(merged)
        return (*input_shape[:a - 1], joined, *input_shape[e:])

    def call(self, x, training=False):
        a, e = self._range(x.ndim)
        dims = [dim(x, i) for i in range(x.ndim)]
        return reshape(x, (*dims[:a], -1, *dims[e + 1:]))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "end_axis": self.end_axis}


class CaffeReshape(Layer):
    """Caffe's Reshape: the input's axes axis .. axis + num_axes - 1 (num_axes -1: to the
    end; a negative axis counts from the end, -1 being after the last) become `shape`,
    where 0 copies the input's dim at that place and one -1 is inferred. The batch axis
    stays: a shape that would change it is refused."""

    def __init__(self, shape, axis: int = 0, num_axes: int = -1, **kwargs):
        super().__init__(**kwargs)
        self.shape = [int(d) for d in shape]
        self.axis, self.num_axes = int(axis), int(num_axes)
        if any(d < -1 for d in self.shape) or self.shape.count(-1) > 1:
            raise ValueError(f"CaffeReshape: shape dims must be >= -1 with at most one -1, got {self.shape}")
        if self.num_axes < -1:
            raise ValueError(f"CaffeReshape: num_axes must be -1 or more, got {num_axes}")

    def _plan(self, rank: int) -> list:
        """Per output axis: ("in", i) copies input axis i (the batch axis included); an int is
        that size, -1 the inferred one."""
        start = self.axis + rank + 1 if self.axis < 0 else self.axis
        end = rank if self.num_axes == -1 else start + self.num_axes
        if not 0 <= start <= end <= rank:
            raise ShapeError(f"layer {self.name!r} (CaffeReshape): axis {self.axis} and num_axes {self.num_axes} "
                             f"do not fit inputs of rank {rank}")
        plan = [("in", i) for i in range(start)]
        for j, d in enumerate(self.shape):
            if d == 0 and start + j >= rank:
                raise ShapeError(f"layer {self.name!r} (CaffeReshape): shape dim {j} copies axis {start + j}, "
                                 f"which inputs of rank {rank} do not have")
            plan.append(("in", start + j) if d == 0 else d)
        plan += [("in", i) for i in range(end, rank)]
        if not plan or plan[0] != ("in", 0):
            raise ShapeError(f"layer {self.name!r} (CaffeReshape): shape {self.shape} at axis {self.axis} would "
                             f"change the batch axis; theon keeps it (write dim: 0 first)")
        return plan

    def output_shape(self, input_shape):
        full = (None, *input_shape)
        out = [full[p[1]] if isinstance(p, tuple) else p for p in self._plan(len(full))][1:]
        total = None if None in input_shape else math.prod(input_shape)
        if -1 in out:
            i = out.index(-1)
            rest = [d for j, d in enumerate(out) if j != i]
            if total is None or None in rest:
                out[i] = None
            else:
                known = math.prod(rest)
                if known == 0 or total % known:
                    raise ShapeError(f"layer {self.name!r} (CaffeReshape): {format_shape(full)} cannot be "
                                     f"reshaped to {self.shape}")
                out[i] = total // known
        elif total is not None and None not in out and math.prod(out) != total:
            raise ShapeError(f"layer {self.name!r} (CaffeReshape): {format_shape(full)} has {total} values "
                             f"per sample, shape {self.shape} holds {math.prod(out)}")
        return tuple(out)

    def build(self, input_shape):
        self.output_shape(input_shape)

    def call(self, x, training=False):
        self.output_shape(x.type.shape[1:])
        return reshape(x, [dim(x, p[1]) if isinstance(p, tuple) else p for p in self._plan(x.ndim)])

    def get_config(self):
        return {**super().get_config(), "shape": list(self.shape), "axis": self.axis, "num_axes": self.num_axes}


class CaffeSplit(Layer):
    """The identity: Caffe's Split gives its input to several layers."""

    def call(self, x, training=False):
        return x
