"""The graph layer: types, hash-consing, source locations, traversal, clone/replace."""
import numpy as np
import pytest

import theon as th
from theon.errors import InputError, ShapeError
from theon.graph import Constant, clone, graph_inputs, rebuild, replace, toposort, verify


def test_equal_expressions_are_one_node():
    x = th.tensor("x", (3,))
    y = th.tensor("y", (3,))
    assert (x + y) is (x + y)
    assert th.exp(x * 2) is th.exp(x * 2)
    assert (x + y) is not (y + x)  # operand order matters to the node


def test_inputs_with_equal_types_stay_distinct():
    a, b = th.tensor("a", (3,)), th.tensor("a", (3,))
    assert a is not b and (a + 1) is not (b + 1)


def test_small_constants_are_interned_and_read_only():
    c1, c2 = th.constant(np.arange(3.0)), th.constant(np.arange(3.0))
    assert c1 is c2
    with pytest.raises(ValueError):
        c1.value[0] = 5


def test_python_scalars_are_weak():
    x = th.tensor("x", (2,), "float32")
    assert (x * 0.5).dtype == "float32"
    assert (x + 1).dtype == "float32"
    i = th.tensor("i", (2,), "int32")
    assert (i + 1).dtype == "int32"
    assert (i * 0.5).dtype == "float64"
    assert (i / 2).dtype == "float64"


def test_numpy_type_promotion():
    f32, f64 = th.tensor("a", (2,), "float32"), th.tensor("b", (2,), "float64")
    i64, u8 = th.tensor("c", (2,), "int64"), th.tensor("d", (2,), "uint8")
    assert (f32 + f64).dtype == "float64"
    assert (f32 + i64).dtype == "float64"
    assert (u8 + u8).dtype == "uint8"
    assert (i64 < f32).dtype == "bool"
    assert th.exp(u8).dtype == "float16"


def test_source_location_is_the_users_line():
    x = th.tensor("x", (3,))
    y = th.exp(x)  # the line recorded
    assert y.owner.loc.filename == __file__
    assert "th.exp(x)" in y.owner.loc.code


def test_build_time_shape_error_names_both_shapes_and_the_line():
    a, b = th.tensor("a", (3, 4)), th.tensor("b", (5,))
    with pytest.raises(ShapeError) as info:
        a + b  # noqa: B018
    msg = str(info.value)
    assert "(3, 4)" in msg and "(5,)" in msg
    assert f"{__file__}:" in msg and "a + b" in msg


def test_unknown_dims_broadcast_when_building():
    x = th.tensor("x", (None, 4))
    assert (x + th.tensor("b", (4,))).type.shape == (None, 4)
    assert (x + th.tensor("c", (1, 1))).type.shape == (None, 4)


def test_toposort_puts_inputs_first_and_visits_each_node_once():
    x = th.tensor("x", (3,))
    a = th.exp(x)
    b = a * a + a
    order = toposort([b])
    assert len(order) == len({id(n) for n in order}) == 3
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for inp in node.inputs:
            if inp.owner is not None:
                assert position[id(inp.owner)] < position[id(node)]


def test_replace_and_clone_build_new_graphs():
    x, y = th.tensor("x", (3,)), th.tensor("y", (3,))
    out = th.exp(x) + 1
    (new,) = replace([out], {x: y})
    assert graph_inputs([new]) == [y]
    assert graph_inputs([out]) == [x]  # the original is untouched
    (fresh,), (copy,) = clone([out])
    assert fresh is not x and graph_inputs([copy]) == [fresh]
    verify([new, copy])


def test_rebuild_replaces_nodes_whose_results_read_earlier_replacements():
    x = th.tensor("x", (3,))
    a = th.exp(x)
    out = th.log(a) * a            # the log reads a, which is replaced first

    def visit(node, inputs, value):
        if node is a.owner:
            return [th.sin(inputs[0])]
        if node is out.owner.inputs[0].owner:      # log(a) -> log(value(a)) + 1
            return [th.log(value(a)) + 1]
        return None
    (new,) = rebuild([out], visit)
    assert new is (th.log(th.sin(x)) + 1) * th.sin(x)
    (same,) = rebuild([out], lambda node, inputs, value: None)
    assert same is out              # nothing replaced: the graph itself, shared


def test_variables_are_usable_as_dict_keys():
    x, y = th.tensor("x", ()), th.tensor("y", ())
    d = {x: 1, y: 2}
    assert d[x] == 1 and d[y] == 2
    with pytest.raises(TypeError, match="truth value"):
        bool(x > 0)


def test_shared_value_round_trip_and_validation():
    w = th.shared(np.ones((2, 3), "float32"), name="w")
    assert w.dtype == "float32" and w.type.shape == (2, 3)
    w.set_value(np.zeros((2, 3), "float32"))
    np.testing.assert_array_equal(w.get_value(), np.zeros((2, 3)))
    with pytest.raises(InputError, match=r"shape \(2, 3\)"):
        w.set_value(np.zeros((3, 3), "float32"))
    with pytest.raises(InputError, match="float32"):
        w.set_value(np.zeros((2, 3), "complex64"))
    value = w.get_value()
    value[0, 0] = 7  # a copy: the shared value is unchanged
    assert w.get_value()[0, 0] == 0


def test_constant_repr_and_type():
    c = th.constant([1, 2, 3])
    assert isinstance(c, Constant) and c.dtype == "int64" and c.type.shape == (3,)


def test_borrowed_values_are_kept_not_copied():
    # borrow=True (theano's name): memory the caller hands over is used as is, so building a
    # model or an optimiser's slots does not hold two copies of every weight at once
    import torch

    a = np.arange(3, dtype=np.float32)
    w = th.shared(a, name="w", borrow=True)
    assert np.shares_memory(w.get_value(borrow=True), a)
    np.testing.assert_array_equal(th.function([], w * 2.0)(), [0.0, 2.0, 4.0])
    t = torch.zeros(3)
    w.set_value(t, borrow=True)
    assert w.get_tensor() is t
    w.set_value(np.zeros(3, dtype=np.float64), borrow=True)  # another dtype: converted, still checked
    assert w.get_tensor().dtype == torch.float32
    with pytest.raises(InputError, match="shape"):
        w.set_value(np.zeros(4, dtype=np.float32), borrow=True)


def test_shared_variables_own_their_values():
    # theano.shared's default: no aliasing of the caller's array or tensor either way, so
    # training never writes into the caller's data and the caller's later writes never
    # reach a compiled program that cached work on the weights
    import torch

    a = np.ones(3, dtype=np.float32)
    t = torch.ones(3)
    w, v = th.shared(a, name="w"), th.shared(t, name="v")
    x = th.tensor("x", (3,))
    f = th.function([x], [x * (w * 2.0) + v], updates=[])
    first = f(np.ones(3, dtype=np.float32))[0]
    a[0], t[0] = 5.0, 7.0
    np.testing.assert_array_equal(f(np.ones(3, dtype=np.float32))[0], first)
    step = th.function([], [], updates=[(w, w + 1.0)])
    step()
    np.testing.assert_array_equal(a, [5.0, 1.0, 1.0])       # the update did not write into a
    w.set_value(a)
    a[1] = 9.0
    np.testing.assert_array_equal(w.get_value(), [5.0, 1.0, 1.0])
