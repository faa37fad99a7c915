"""Op-table rows: the multi-tensor optimiser steps, against NumPy's version of torch's
update formulas (two parameters of different shapes, float32 and float64)."""
import numpy as np

from theon.optim.fused import AdamStep, SGDStep
from theon.testing import OpInfo, Sample, rand


def _sgd_samples(rng):
    out = []
    for dtype in ("float32", "float64"):
        p1, p2 = rand(rng, 3, 4, dtype=dtype), rand(rng, 5, dtype=dtype)
        g1, g2 = rand(rng, 3, 4, dtype=dtype), rand(rng, 5, dtype=dtype)
        b1, b2 = rand(rng, 3, 4, dtype=dtype), rand(rng, 5, dtype=dtype)
        lr = np.asarray(0.1, dtype)
        out.append(Sample((lr, p1, p2, g1, g2, b1, b2), {"momentum": 0.9, "nesterov": False}))
        out.append(Sample((lr, p1, p2, g1, g2, b1, b2), {"momentum": 0.5, "nesterov": True}))
        out.append(Sample((lr, p1, p2, g1, g2), {"momentum": 0.0, "nesterov": False}))
    return out


def _sgd(lr, *tensors, momentum, nesterov):
    n = 2
    return SGDStep(n, momentum, nesterov)(lr, *tensors)


def _sgd_ref(lr, p1, p2, g1, g2, *bufs, momentum, nesterov):
    if not momentum:
        return [p1 - lr * g1, p2 - lr * g2]
    new_b = [momentum * b + g for b, g in zip(bufs, (g1, g2))]
    d = [g + momentum * b for g, b in zip((g1, g2), new_b)] if nesterov else new_b
    return [p1 - lr * d[0], p2 - lr * d[1]] + new_b


def _adam_samples(rng):
    out = []
    for dtype in ("float32", "float64"):
        p, g = rand(rng, 3, 4, dtype=dtype), rand(rng, 3, 4, dtype=dtype)
        m, v = rand(rng, 3, 4, dtype=dtype) * 0.1, rand(rng, 3, 4, dtype=dtype, low=0.0) * 0.1
        vmax = v + 0.01
        lr, t = np.asarray(0.01, dtype), np.asarray(3.0, dtype)
        out.append(Sample((lr, t, p, g, m, v), {"amsgrad": False, "wd": 0.0}))
        out.append(Sample((lr, t, p, g, m, v), {"amsgrad": False, "wd": 0.1}))
        out.append(Sample((lr, t, p, g, m, v, vmax), {"amsgrad": True, "wd": 0.0}))
    return out


def _adam(lr, t, *tensors, amsgrad, wd):
    return AdamStep(1, 0.9, 0.999, 1e-8, amsgrad, wd)(lr, t, *tensors)


def _adam_ref(lr, t, p, g, m, v, *vmax, amsgrad, wd):
    b1, b2, eps = 0.9, 0.999, 1e-8
    p = p * (1 - lr * wd)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    out_v = [m, v]
    if amsgrad:
        v = np.maximum(vmax[0], v)
        out_v.append(v)
    denom = np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps
    return [(p - (lr / (1 - b1 ** t)) * (m / denom)).astype(p.dtype)] + [a.astype(p.dtype) for a in out_v]


ROWS = [
    OpInfo("sgd_step", _sgd, _sgd_ref, _sgd_samples, grad=False, rtol=1e-6),
    OpInfo("adam_step", _adam, _adam_ref, _adam_samples, grad=False, rtol=1e-5),
]
