"""th.nn.cross_entropy's class axis, ignore_index and class weights against
torch.nn.functional.cross_entropy, with gradients by finite differences in float64."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import theon as th
from theon.errors import DTypeError, ShapeError
from theon.testing import verify_grad

RNG = np.random.default_rng(0)

# (logits shape, class axis)
LAYOUTS = [((5, 4), 1), ((3, 6, 4), -1), ((3, 4, 6), 1), ((2, 3, 5, 4), 3), ((2, 4, 3, 5), 2), ((4,), 0)]
SETTINGS = [{}, {"ignore_index": 2}, {"weight": True}, {"label_smoothing": 0.2},
            {"weight": True, "ignore_index": 2, "label_smoothing": 0.3}]


def _case(shape, axis):
    z = RNG.standard_normal(shape)
    ax = axis % len(shape)
    y = RNG.integers(0, shape[ax], shape[:ax] + shape[ax + 1:])
    if y.ndim:
        y.flat[0] = 2  # at least one label that ignore_index=2 skips
        y.flat[-1] = 1  # and one it keeps
    return z, y, ax


def _torch(z, y, ax, reduction, label_smoothing=0.0, ignore_index=None, weight=None):
    zt = torch.from_numpy(z)
    zt = zt.movedim(ax, 1) if z.ndim > 1 else zt
    return F.cross_entropy(zt, torch.from_numpy(y), reduction=reduction, label_smoothing=label_smoothing,
                           ignore_index=-100 if ignore_index is None else ignore_index,
                           weight=None if weight is None else torch.from_numpy(weight)).numpy()


@pytest.mark.parametrize("shape,axis", LAYOUTS)
@pytest.mark.parametrize("setting", range(len(SETTINGS)))
def test_values_match_torch(shape, axis, setting):
    z, y, ax = _case(shape, axis)
    kw = dict(SETTINGS[setting])
    if kw.get("weight"):
        kw["weight"] = RNG.random(shape[ax]) + 0.5
    zv, yv = th.tensor("z", z.shape, "float64"), th.tensor("y", y.shape, "int64")
    for reduction in ("none", "sum", "mean"):
        f = th.function([zv, yv], th.nn.cross_entropy(zv, yv, axis=axis, reduction=reduction, **kw))
        np.testing.assert_allclose(f(z, y), _torch(z, y, ax, reduction, **kw), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape,axis", LAYOUTS)
@pytest.mark.parametrize("setting", range(len(SETTINGS)))
def test_gradients_by_finite_differences(shape, axis, setting):
    z, y, ax = _case(shape, axis)
    kw = dict(SETTINGS[setting])
    if kw.get("weight"):
        kw["weight"] = RNG.random(shape[ax]) + 0.5
    labels = th.constant(y)
    reduction = "mean" if y.ndim else "sum"
    verify_grad(lambda z_: th.nn.cross_entropy(z_, labels, axis=axis, reduction=reduction, **kw), [z])
    if setting not in (0, len(SETTINGS) - 1):
        return
    # the backward op differentiates too: the gradient of the squared gradient
    verify_grad(lambda z_: (th.grad(th.nn.cross_entropy(z_, labels, axis=axis, reduction="sum", **kw),
                                    [z_])[0] ** 2).sum(), [z])


def test_the_default_class_axis_follows_the_labels_shape():
    def axis_of(zshape, yshape):
        z, y = th.tensor("z", zshape), th.tensor("y", yshape, "int64")
        return th.ops.nn_loss.class_axis(z, y)

    assert axis_of((2, 5, 3), (2, 5)) == 2          # (batch, time, classes): Keras' layout
    assert axis_of((2, 3, 5), (2, 5)) == 1          # (batch, classes, time): torch's layout
    assert axis_of((None, None, 10), (None, None)) == 2  # time unknown, classes known
    assert axis_of((2, 4, 4), (2, 4)) == 1          # both fit: torch's layout, unless axis=-1
    assert axis_of((8, 10), (8,)) == 1 and axis_of((10,), ()) == 0
    z = RNG.standard_normal((2, 5, 3))
    y = RNG.integers(0, 3, (2, 5))
    zv, yv = th.tensor("z", (None, None, 3), "float64"), th.tensor("y", (None, None), "int64")
    got = th.function([zv, yv], th.nn.cross_entropy(zv, yv))(z, y)
    np.testing.assert_allclose(got, _torch(z, y, 2, "none"), rtol=1e-12)


def test_bad_weights_and_labels_are_refused():
    z, y = th.tensor("z", (4, 3)), th.tensor("y", (4,), "int64")
    with pytest.raises(ShapeError, match=r"one value per class, shape \(3,\); got \(4,\)"):
        th.nn.cross_entropy(z, y, weight=np.ones(4, "float32"))
    with pytest.raises(ValueError, match="ignore_index must be an integer"):
        th.nn.cross_entropy(z, y, ignore_index=1.5)
    with pytest.raises(ValueError, match="take integer labels"):
        th.nn.cross_entropy(z, th.tensor("p", (4, 3)), ignore_index=0)
    with pytest.raises(DTypeError, match="labels must be integers"):
        th.nn.cross_entropy(z, th.tensor("b", (4,), "bool"))


def test_class_weights_are_constants():
    """As in torch, no gradient flows to the class weights."""
    z, y = th.tensor("z", (4, 3), "float64"), th.tensor("y", (4,), "int64")
    w = th.shared(np.ones(3), name="w")
    with pytest.raises(th.errors.GradientError, match="w"):
        th.grad(th.nn.cross_entropy(z, y, weight=w, reduction="sum"), [w])
