"""Op-table rows for the ops added for ONNX import: strided slices with symbolic bounds,
run-time checks, scatters, top-k, bit casts, non-maximum suppression, unique (NumPy
references)."""
import numpy as np

from theon.errors import DTypeError, ShapeError
from theon.ops.assertion import check, check_dim
from theon.ops.bitcast import bitcast
from theon.ops.detection import non_max_suppression
from theon.ops.scatter import scatter_elements, scatter_nd
from theon.ops.slicing import strided_slice
from theon.ops.sorting import topk
from theon.ops.unique import unique
from theon.testing import ErrorCase, OpInfo, Sample, rand


def _slice_ref(x, axes, starts, stops, steps):
    key = [slice(None)] * x.ndim
    for a, b, e, s in zip(axes, starts, stops, steps):
        key[a] = slice(b, e, s)
    return x[tuple(key)]


def _slice_samples(rng):
    x = rand(rng, 4, 5, 3)
    return [Sample((x,), {"axes": (0, 1), "starts": (1, 4), "stops": (3, -100), "steps": (1, -2)}),
            Sample((x,), {"axes": (2,), "starts": (-1,), "stops": (-4,), "steps": (-1,)}),
            Sample((x,), {"axes": (1,), "starts": (0,), "stops": (1 << 62,), "steps": (2,)})]


def _scatter_ref(data, indices, updates, axis=0, reduction="none"):
    out = data.copy()
    idx = np.where(indices < 0, indices + data.shape[axis], indices)
    for pos in np.ndindex(*indices.shape):
        target = list(pos)
        target[axis] = idx[pos]
        target = tuple(target)
        if reduction == "add":
            out[target] += updates[pos]
        else:
            out[target] = updates[pos]
    return out


def _scatter_samples(rng):
    data = rand(rng, 3, 4)
    idx = np.array([[2, 0, 1, -1], [1, 2, 0, 0]], np.int64)  # distinct targets per column
    return [Sample((data, idx, rand(rng, 2, 4)), {"axis": 0}),
            Sample((data, np.array([[3, 0], [1, 2], [0, 3]], np.int64), rand(rng, 3, 2)), {"axis": 1}),
            Sample((data, idx, rand(rng, 2, 4)), {"axis": 0, "reduction": "add"})]


def _scatter_nd_ref(data, indices, updates, reduction="none"):
    out = data.copy()
    for row, upd in zip(indices.reshape(-1, indices.shape[-1]), updates.reshape((-1,) + data.shape[indices.shape[-1]:])):
        out[tuple(row)] = out[tuple(row)] + upd if reduction == "add" else upd
    return out


def _topk_ref(x, k, axis=-1, largest=True):
    order = np.argsort(-x if largest else x, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    return np.take_along_axis(x, idx, axis), idx


def _nms_ref(boxes, scores, max_out, iou, score_min):
    rows = []
    for b in range(scores.shape[0]):
        for c in range(scores.shape[1]):
            order = [i for i in np.argsort(-scores[b, c], kind="stable") if scores[b, c, i] > score_min]
            kept = []
            for i in order:
                if len(kept) >= max_out:
                    break
                ok = True
                for j in kept:
                    y1, x1 = np.maximum(boxes[b, i, :2], boxes[b, j, :2])
                    y2, x2 = np.minimum(boxes[b, i, 2:], boxes[b, j, 2:])
                    inter = max(y2 - y1, 0) * max(x2 - x1, 0)
                    area = lambda q: (q[2] - q[0]) * (q[3] - q[1])  # noqa: E731
                    if inter / (area(boxes[b, i]) + area(boxes[b, j]) - inter) > iou:
                        ok = False
                if ok:
                    kept.append(i)
            rows += [(b, c, i) for i in kept]
    return np.array(rows, np.int64).reshape(-1, 3)


def _unique_ref(x, axis=None, sorted=True):
    values, first, inverse, counts = np.unique(x, return_index=True, return_inverse=True,
                                               return_counts=True, axis=axis)
    if not sorted:
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        values = np.take(values, order, axis=0 if axis is None else axis)
        first, counts, inverse = first[order], counts[order], rank[inverse.reshape(-1)]
    return values, first, inverse.reshape(-1), counts


ROWS = [
    OpInfo("strided_slice", strided_slice, _slice_ref, _slice_samples, errors=[
        ErrorCase((np.zeros((3, 4)),), {"axes": (2,), "starts": (0,), "stops": (1,), "steps": (1,)},
                  ShapeError, "out of range"),
        ErrorCase((np.zeros((3, 4)),), {"axes": (0,), "starts": (0,), "stops": (1,), "steps": (0,)},
                  ShapeError, "step cannot be zero")]),
    OpInfo("check", lambda x, ok: check(x, ok, "bad input"), lambda x, ok: x,
           lambda rng: [Sample((rand(rng, 3), np.array(True)))], grad_args=(0,), errors=[
               ErrorCase((np.zeros(3), np.zeros(2, bool)), {}, DTypeError, "bool scalar")]),
    OpInfo("check_dim", check_dim, lambda x, axis, size, message: x, lambda rng: [
        Sample((rand(rng, 3, 1, 2),), {"axis": 1, "size": 1, "message": "m"}),
        Sample((rand(rng, 2, 4),), {"axis": -1, "size": 4, "message": "m"})], errors=[
            ErrorCase((np.zeros((3,)),), {"axis": 2, "size": 1, "message": "m"}, DTypeError, "out of range")]),
    OpInfo("scatter_elements", scatter_elements, _scatter_ref, _scatter_samples, grad_args=(0, 2), errors=[
        ErrorCase((np.zeros((3, 4)), np.zeros((2, 4)), np.zeros((2, 4))), {}, DTypeError, "integers")]),
    OpInfo("scatter_nd", scatter_nd, _scatter_nd_ref, lambda rng: [
        Sample((rand(rng, 4, 3), np.array([[2], [0]], np.int64), rand(rng, 2, 3))),
        Sample((rand(rng, 4, 3), np.array([[1, 2], [3, 0]], np.int64), rand(rng, 2)), {"reduction": "add"})],
        grad=False, errors=[ErrorCase((np.zeros((3,)), np.zeros((1, 2), np.int64), np.zeros(1)), {}, ShapeError,
                                      "rows of length 2")]),
    OpInfo("topk", topk, _topk_ref, lambda rng: [
        Sample((rand(rng, 3, 6),), {"k": 2}), Sample((rand(rng, 5, 2),), {"k": 3, "axis": 0, "largest": False}),
        Sample((np.array([1.0, 3.0, 3.0, 2.0]),), {"k": 2}, grad=False)],
        errors=[ErrorCase((np.zeros((3, 2)),), {"k": 3}, ShapeError, "larger than the axis")]),
    OpInfo("bitcast", bitcast, lambda x, dtype: x.view(dtype), lambda rng: [
        Sample((rand(rng, 3, 2, dtype="float32"),), {"dtype": "int32"}),
        Sample((np.array([1, -2, 3], np.int64),), {"dtype": "float64"})], grad=False,
        errors=[ErrorCase((np.zeros(3, np.float32),), {"dtype": "float64"}, DTypeError, "differ in width")]),
    OpInfo("non_max_suppression", non_max_suppression, _nms_ref, lambda rng: [
        Sample((np.array([[[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 2, 1, 3], [0, 0.5, 1, 1.4]]]),
                np.array([[[0.9, 0.8, 0.7, 0.95]]]), 3, 0.5, 0.0))], grad=False,
        known_failures={"infer": "how many boxes are kept depends on the values: that dim stays None"},
        errors=[ErrorCase((np.zeros((4, 4)), np.zeros((1, 1, 4)), 1, 0.5, 0.0), {}, ShapeError, "boxes")]),
    OpInfo("unique", unique, _unique_ref, lambda rng: [
        Sample((np.array([2, 1, 1, 3, 4, 3], np.int64),)),
        Sample((np.array([2.0, 1.0, 1.0, 3.0, 2.0]),), {"sorted": False}),
        Sample((np.array([[1, 0, 0], [1, 0, 0], [2, 3, 4]], np.int64),), {"axis": 0})], grad=False,
        known_failures={"infer": "how many distinct values there are depends on the values: None dims"},
        errors=[ErrorCase((np.zeros((3, 2)),), {"axis": 2}, ShapeError, "out of range")]),
]
