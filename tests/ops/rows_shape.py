"""Op-table rows for shape ops: reshape, transpose, joins and splits, flip/roll/tile/repeat, pad."""
import numpy as np

import theon as th
from theon.errors import AxisError, ShapeError
from theon.testing import Const, ErrorCase, OpInfo, Sample, integers, rand


def _one(*samples):
    return lambda rng: [s(rng) for s in samples]


def _reshape_samples(rng):
    return [Sample((rand(rng, 3, 4), (4, 3))), Sample((rand(rng, 3, 4), (-1,))),
            Sample((rand(rng, 2, 3, 4), (6, -1))), Sample((rand(rng, 6), (1, 2, 1, 3))),
            Sample((rand(rng), (1, 1))), Sample((rand(rng, 1, 1), ())),
            Sample((integers(rng, 0, 9, 2, 6), (3, 4)), grad=False),
            Sample((rand(rng, 0, 3), (3, 0)), grad=False)]


def _transpose_samples(rng):
    return [Sample((rand(rng, 3, 4),)), Sample((rand(rng, 2, 3, 4),), {"axes": (1, 2, 0)}),
            Sample((rand(rng, 2, 3, 4),), {"axes": (-1, 0, 1)}), Sample((rand(rng),)),
            Sample((integers(rng, 0, 5, 2, 3) > 2,), grad=False)]


def _expand_samples(rng):
    return [Sample((rand(rng, 3, 4), 0)), Sample((rand(rng, 3, 4), -1)),
            Sample((rand(rng, 3, 4), (0, 3))), Sample((rand(rng), 0))]


def _squeeze_samples(rng):
    return [Sample((rand(rng, 1, 3, 1), -1)), Sample((rand(rng, 1, 3, 1), (0, 2))),
            Sample((rand(rng, 1), 0)), Sample((rand(rng, 3, 4), ()))]


def _squeeze_all_samples(rng):
    return [Sample((rand(rng, 1, 3, 1),)), Sample((rand(rng, 3, 4),)), Sample((rand(rng, 1, 1),))]


def _broadcast_samples(rng):
    return [Sample((rand(rng, 3, 1), (2, 3, 4))), Sample((rand(rng, 4), (3, 4))),
            Sample((rand(rng), (2, 2))), Sample((rand(rng, 3, 4), (3, 4)))]


def _join_samples(rng):
    return [Sample((rand(rng, 2, 3), rand(rng, 4, 3))),
            Sample((rand(rng, 2, 3), rand(rng, 2, 1), rand(rng, 2, 2)), {"axis": 1}),
            Sample((rand(rng, 2, 3), rand(rng, 2, 2)), {"axis": -1}),
            Sample((rand(rng, 2, 3), rand(rng, 3, 2)), {"axis": None}),
            Sample((rand(rng, 3),)),
            Sample((integers(rng, 0, 5, 2, 2).astype("int32"), rand(rng, 2, 2)), grad=False)]


def _stack_samples(rng):
    return [Sample((rand(rng, 2, 3), rand(rng, 2, 3))),
            Sample((rand(rng, 2, 3), rand(rng, 2, 3), rand(rng, 2, 3)), {"axis": -1}),
            Sample((rand(rng, 2, 3), rand(rng, 2, 3)), {"axis": 1}),
            Sample((rand(rng), rand(rng))),
            Sample((integers(rng, 0, 5, 3), rand(rng, 3).astype("float32")), grad=False)]


def _split_samples(rng):
    return [Sample((rand(rng, 6, 2), 3)), Sample((rand(rng, 2, 6), 2), {"axis": 1}),
            Sample((rand(rng, 7), (2, 5))), Sample((rand(rng, 3, 7), (2, 2, 10)), {"axis": -1}),
            Sample((rand(rng, 7), (4, 1))),             # overlapping pieces
            Sample((rand(rng, 7), (-3, -1))),
            Sample((rand(rng, 4), 1))]


def _flip_samples(rng):
    return [Sample((rand(rng, 3, 4),)), Sample((rand(rng, 3, 4),), {"axis": 0}),
            Sample((rand(rng, 2, 3, 4),), {"axis": (0, -1)}), Sample((rand(rng),))]


def _roll_samples(rng):
    return [Sample((rand(rng, 3, 4), 5)), Sample((rand(rng, 3, 4), -1), {"axis": 1}),
            Sample((rand(rng, 3, 4), (1, 2)), {"axis": (0, 1)}),
            Sample((rand(rng, 3, 4), (1, 2)), {"axis": (1, 1)}),
            Sample((rand(rng, 2, 3, 4), 2), {"axis": (0, 2)})]


def _tile_samples(rng):
    return [Sample((rand(rng, 2, 3), 2)), Sample((rand(rng, 2, 3), (2, 1))),
            Sample((rand(rng, 3), (2, 1, 2))), Sample((rand(rng, 2, 3), (2, 0))),
            Sample((rand(rng), 3)), Sample((rand(rng, 2, 1, 2), (1, 3)))]


def _repeat_samples(rng):
    return [Sample((rand(rng, 2, 3), 2)), Sample((rand(rng, 2, 3), 3), {"axis": 1}),
            Sample((rand(rng, 2, 3), 2), {"axis": -2}), Sample((rand(rng, 2, 3), 0), {"axis": 0}),
            Sample((rand(rng), 2)),
            # one count per slice (NumPy's repeats array)
            Sample((rand(rng, 2, 3), (1, 0, 3)), {"axis": 1}), Sample((rand(rng, 2, 2), [2, 1, 0, 1])),
            Sample((rand(rng, 0, 3), Const(np.zeros(0, "int64"))), {"axis": 0})]


def _pad_samples(mode):
    def samples(rng):
        out = [Sample((rand(rng, 3, 4), 1), {"mode": mode}),
               Sample((rand(rng, 3, 4), ((1, 2), (0, 3))), {"mode": mode}),
               Sample((rand(rng, 2, 3, 2), (2, 1)), {"mode": mode}),
               Sample((rand(rng, 3), ((7, 5),)), {"mode": mode}),          # wider than the axis
               Sample((rand(rng, 1, 3), 2), {"mode": mode})]
        if mode == "constant":
            out += [Sample((rand(rng, 2, 3), 1), {"constant_values": 1.5}),
                    Sample((integers(rng, 0, 5, 2, 3), ((0, 1), (2, 0))), {"constant_values": 7}, grad=False)]
        return out
    return samples


_join_errors = [ErrorCase((np.zeros((2, 3)), np.zeros((3, 4))), {}, ShapeError, r"\(2, 3\), \(3, 4\) differ along axis 1"),
                ErrorCase((np.zeros((2, 3)), np.zeros(3)), {}, ShapeError, "different ranks"),
                ErrorCase((np.zeros((2, 3)), np.zeros((2, 3))), {"axis": 3}, AxisError, "out of range")]

_pad_errors = [ErrorCase((np.zeros((3, 4)), ((1, 2), (1, 2), (1, 2))), {}, ValueError, "does not fit"),
               ErrorCase((np.zeros((0, 4)), 1), {"mode": "edge"}, ShapeError, "empty axis 0")]

ROWS = [
    OpInfo("reshape", th.reshape, np.reshape, _reshape_samples, second_order=True, errors=[
        ErrorCase((np.zeros((3, 4)), (5, 2)), {}, ShapeError, r"shape \(3, 4\) into shape \(5, 2\)"),
        ErrorCase((np.zeros((3, 4)), (5, -1)), {}, ShapeError, "do not divide"),
        ErrorCase((np.zeros((0, 3)), (3, 0, -1)), {}, ShapeError, "ambiguous"),
        ErrorCase((np.zeros((3, 4)), (-1, -1)), {}, ValueError, "at most one")]),
    OpInfo("ravel", th.ravel, np.ravel, _one(lambda r: Sample((rand(r, 2, 3, 2),)), lambda r: Sample((rand(r),)))),
    OpInfo("transpose", th.transpose, np.transpose, _transpose_samples, second_order=True, errors=[
        ErrorCase((np.zeros((3, 4)),), {"axes": (0, 0)}, ShapeError, r"not a permutation.*\(3, 4\)"),
        ErrorCase((np.zeros((3, 4)),), {"axes": (0, 2)}, AxisError, "axis 2 is out of range")]),
    OpInfo("swapaxes", th.swapaxes, np.swapaxes,
           _one(lambda r: Sample((rand(r, 2, 3, 4), 0, 2)), lambda r: Sample((rand(r, 2, 3), -1, 0))),
           errors=[ErrorCase((np.zeros((3, 4)), 0, 4), {}, AxisError, "axis 4 is out of range")]),
    OpInfo("moveaxis", th.moveaxis, np.moveaxis,
           _one(lambda r: Sample((rand(r, 2, 3, 4), 0, -1)), lambda r: Sample((rand(r, 2, 3, 4), (0, 1), (2, 0))))),
    OpInfo("expand_dims", th.expand_dims, np.expand_dims, _expand_samples, errors=[
        ErrorCase((np.zeros((3, 4)), 4), {}, AxisError, "out of range")]),
    OpInfo("squeeze", th.squeeze, np.squeeze, _squeeze_samples, errors=[
        ErrorCase((np.zeros((3, 4)), 0), {}, ShapeError, r"axis 0 of a tensor of shape \(3, 4\)")]),
    OpInfo("squeeze_all", th.squeeze, np.squeeze, _squeeze_all_samples, known_failures={
        "infer": "by design: squeeze(axis=None) needs every dim known (the output rank depends on "
                 "which dims are 1); with unknown dims it raises asking for axis="}),
    OpInfo("broadcast_to", th.broadcast_to, np.broadcast_to, _broadcast_samples, second_order=True, errors=[
        ErrorCase((np.zeros((3, 2)), (3, 4)), {}, ShapeError, r"shape \(3, 2\) to shape \(3, 4\)"),
        ErrorCase((np.zeros((2, 3)), (3,)), {}, ShapeError, "fewer dims")]),
    OpInfo("concatenate", lambda *xs, axis=0: th.concatenate(xs, axis=axis),
           lambda *xs, axis=0: np.concatenate(xs, axis=axis), _join_samples, second_order=True,
           errors=_join_errors[:2] + [ErrorCase((np.zeros(2), np.zeros(2)), {"axis": 1}, AxisError, "out of range"),
                                      ErrorCase((np.zeros(()), np.zeros(())), {}, ShapeError, "zero-dimensional")]),
    OpInfo("stack", lambda *xs, axis=0: th.stack(xs, axis=axis),
           lambda *xs, axis=0: np.stack(xs, axis=axis), _stack_samples, second_order=True,
           errors=[ErrorCase((np.zeros((2, 3)), np.zeros((3, 3))), {}, ShapeError, "differ along axis 0"),
                   _join_errors[2]]),
    OpInfo("split", th.split, np.split, _split_samples, second_order=True, errors=[
        ErrorCase((np.zeros((3, 4)), 3), {"axis": 1}, ShapeError, r"size 4 does not divide into 3.*\(3, 4\)")]),
    OpInfo("unstack", th.unstack, lambda x, axis=0: tuple(np.moveaxis(x, axis, 0)), lambda rng: [
        Sample((rand(rng, 3, 4),)), Sample((rand(rng, 3, 4),), {"axis": 1}), Sample((rand(rng, 2, 3, 2),), {"axis": -1}),
        Sample((rand(rng, 1),))], second_order=True,
        known_failures={"infer": "the axis's length is the number of results: it must be known when building"},
        errors=[ErrorCase((np.zeros(()),), {}, ShapeError, "at least one dimension")]),
    OpInfo("broadcast_arrays", lambda *xs: th.broadcast_arrays(*xs), lambda *xs: tuple(np.broadcast_arrays(*xs)),
           lambda rng: [Sample((rand(rng, 3, 1), rand(rng, 4))), Sample((rand(rng, 2, 1, 3), rand(rng, 1, 5, 1), rand(rng, 3))),
                        Sample((rand(rng, 2, 2),))], second_order=True,
           errors=[ErrorCase((np.zeros(3), np.zeros(4)), {}, ShapeError, "cannot be broadcast")]),
    OpInfo("flip", th.flip, np.flip, _flip_samples, errors=[
        ErrorCase((np.zeros((3, 4)),), {"axis": 2}, AxisError, "out of range")]),
    OpInfo("roll", th.roll, np.roll, _roll_samples),
    OpInfo("tile", th.tile, np.tile, _tile_samples, second_order=True),
    OpInfo("repeat", th.repeat, np.repeat, _repeat_samples, second_order=True, errors=[
        ErrorCase((np.zeros((2, 3)), (1, 2)), {"axis": 1}, ShapeError, "2 repeat counts for axis 1 of size 3"),
        ErrorCase((np.zeros((2, 3)), (1, -2)), {"axis": 0}, ValueError, "negative repeats")]),
    *[OpInfo(f"pad_{mode}", th.pad, np.pad, _pad_samples(mode), second_order=mode in ("constant", "reflect"),
             errors=_pad_errors if mode == "constant" else [])
      for mode in ("constant", "edge", "reflect", "symmetric", "wrap")],
]
