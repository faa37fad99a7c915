"""ONNX reductions (axes as an attribute before opset 13/18, as an input after), ArgMax/Min,
CumSum/CumProd, TopK."""
from __future__ import annotations

import numpy as np

from ... import ops as T
from ..importer.elems import Elems
from . import converter

# opset from which each reduction takes its axes as an input
_AXES_INPUT = {"ReduceSum": 13}


def _reduce_axes(ctx, x):
    since = _AXES_INPUT.get(ctx.node.op_type, 18)
    if ctx.opset >= since:
        axes = ctx.const(1, "axes") if ctx.has(1) else None
        axes = None if axes is None else [int(a) for a in np.asarray(axes).reshape(-1)]
    else:
        axes = ctx.attr("axes")
    if not axes:
        if ctx.attr("noop_with_empty_axes", 0):
            return None
        return tuple(range(x.ndim))
    return tuple(sorted(a % x.ndim for a in axes)) if x.ndim else ()


def _make(fn):
    def convert(ctx):
        x = ctx.x(0)
        axes = _reduce_axes(ctx, x)
        keep = bool(ctx.attr("keepdims", 1))
        if axes is None:
            return fn(x, None, keep, identity=True)
        if ctx.node.op_type == "ReduceProd" and x.ndim == 1:
            e = ctx.elems(0)
            if e is not None:
                out = 1
                for v in e.values:
                    out = out * v
                ctx.set_elems(0, Elems([out], scalar=not keep, dtype=e.dtype))
        return fn(x, axes, keep)
    return convert


def _plain(f, post=None, pre=None):
    def fn(x, axes, keep, identity=False):
        if identity:
            y = x if pre is None else pre(x)
            return y if post is None else post(y)
        y = f(x if pre is None else pre(x), axis=axes, keepdims=keep)
        return y if post is None else post(y)
    return fn


def _empty_safe(f, fill):
    """max/min of an empty axis give -inf/+inf in ONNX (the dtype's extremes for ints,
    False/True for bools)."""
    def g(x, axis, keepdims):
        if any(x.type.shape[a] == 0 for a in axis):
            shape = [1 if a in axis else d for a, d in enumerate(x.type.shape)] if keepdims else \
                [d for a, d in enumerate(x.type.shape) if a not in axis]
            if x.dtype == "bool":   # the identities of any (max) and all (min)
                value = fill > 0
            elif x.dtype.startswith("float"):
                value = fill
            else:
                value = np.iinfo(x.dtype).min if fill < 0 else np.iinfo(x.dtype).max
            return T.full(shape, value, dtype=x.dtype)
        return f(x, axis=axis, keepdims=keepdims)
    return g


def _keep_dtype(f):
    """ONNX's ReduceSum/ReduceProd keep the input's dtype; NumPy's sum/prod widen small ints."""
    return lambda x, axis=None, keepdims=False: f(x, axis=axis, keepdims=keepdims, dtype=x.dtype)


converter("ReduceSum")(_make(_plain(_keep_dtype(T.sum))))
converter("ReduceMean")(_make(_plain(T.mean)))
converter("ReduceProd")(_make(_plain(_keep_dtype(T.prod))))
converter("ReduceMax")(_make(_plain(_empty_safe(T.max, -np.inf))))
converter("ReduceMin")(_make(_plain(_empty_safe(T.min, np.inf))))
converter("ReduceL1")(_make(_plain(T.sum, pre=T.abs)))
converter("ReduceL2")(_make(_plain(T.sum, pre=lambda x: x * x, post=T.sqrt)))
converter("ReduceSumSquare")(_make(_plain(T.sum, pre=lambda x: x * x)))
converter("ReduceLogSum")(_make(_plain(T.sum, post=T.log)))
converter("ReduceLogSumExp")(_make(_plain(T.logsumexp)))


def _arg(fn):
    def convert(ctx):
        x = ctx.x(0)
        axis = ctx.attr("axis", 0) % x.ndim
        keep = bool(ctx.attr("keepdims", 1))
        if ctx.attr("select_last_index", 0):
            n = x.type.shape[axis]
            flipped = T.flip(x, axis=axis)
            idx = fn(flipped, axis=axis, keepdims=keep)
            return np.int64(n - 1) - idx
        return fn(x, axis=axis, keepdims=keep)
    return convert


converter("ArgMax")(_arg(T.argmax))
converter("ArgMin")(_arg(T.argmin))


def _cum(fn):
    def convert(ctx):
        x = ctx.x(0)
        axis = int(ctx.const(1, "axis")) % x.ndim
        if ctx.attr("reverse", 0):
            x = T.flip(x, axis=axis)
        y = fn(x, axis=axis)
        if ctx.attr("exclusive", 0):
            n = x.type.shape[axis]
            ident = T.zeros_like(x) if fn is T.cumsum else T.ones_like(x)
            key = (slice(None),) * axis
            y = T.concatenate([ident[key + (slice(0, 1),)], y[key + (slice(0, n - 1 if n else 0),)]], axis=axis)
        if ctx.attr("reverse", 0):
            y = T.flip(y, axis=axis)
        return T.cast_to(y, x.dtype)
    return convert


converter("CumSum")(_cum(T.cumsum))
converter("CumProd")(_cum(T.cumprod))
