"""Property-based broadcasting: theon's inferred shapes, values and gradient shapes agree with
NumPy for any broadcast-compatible pair of shapes, known or unknown when building."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import theon as th
from theon.errors import ShapeError

pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4)


@settings(max_examples=80, deadline=None)
@given(pairs, st.booleans(), st.sampled_from(["add", "multiply", "maximum", "arctan2"]))
def test_binary_ops_broadcast_like_numpy(shapes, hide_dims, name):
    (sa, sb), result = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.5, 1, sa), rng.uniform(0.5, 1, sb)
    declared = (lambda s: (None,) * len(s)) if hide_dims else (lambda s: s)
    x, y = th.tensor("x", declared(sa), "float64"), th.tensor("y", declared(sb), "float64")
    out = getattr(th, name)(x, y)
    if not hide_dims:
        assert out.type.shape == result
    gx, gy = th.grad(out.sum(), [x, y])
    value, dx, dy = th.function([x, y], [out, gx, gy])(a, b)
    np.testing.assert_allclose(value, getattr(np, name)(a, b))
    assert dx.shape == sa and dy.shape == sb


@settings(max_examples=40, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=2, max_side=4), st.data())
def test_incompatible_shapes_fail_when_building(shape, data):
    other = list(shape)
    axis = data.draw(st.integers(0, len(shape) - 1))
    other[axis] = shape[axis] + 1
    x, y = th.tensor("x", shape), th.tensor("y", tuple(other))
    with pytest.raises(ShapeError, match="cannot be broadcast"):
        x + y
