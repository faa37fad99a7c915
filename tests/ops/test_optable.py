"""Per-op tests driven by the op table: value, inferred types, gradients, compiled vs the
reference evaluator, out=, and error inputs."""
import re

import numpy as np
import pytest
import torch

import theon as th
from theon.graph import Variable, verify
from theon.testing import Const, verify_grad
from theon.testing.reference import evaluate

from .optable import ROWS

CASES = [(row, i) for row in ROWS for i in range(len(row.samples(np.random.default_rng(0))))]
GRAD_CASES = [(row, i) for row, i in CASES
              if row.grad and row.samples(np.random.default_rng(0))[i].grad]
ERROR_CASES = [(row, i) for row in ROWS for i in range(len(row.errors))]


def _ids(case):
    row, i = case
    return f"{row.name}-{i}"


def _sample(row, i):
    return row.samples(np.random.default_rng(0))[i]


def _symbolic(args, shapes=None):
    """Sample args with each array replaced by an input variable (of `shapes` if given)."""
    inputs, sym, arrays = [], [], []
    for k, a in enumerate(args):
        if isinstance(a, np.ndarray):
            shape = a.shape if shapes is None else shapes(a.shape)
            v = th.tensor(f"a{k}", shape, a.dtype.name)
            inputs.append(v)
            arrays.append(a)
            sym.append(v)
        elif isinstance(a, Const):
            sym.append(th.constant(a.value))
        else:
            sym.append(a)
    return inputs, sym, arrays


def _ref_args(args):
    return [a.value if isinstance(a, Const) else a for a in args]


def _as_list(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _xfail(row, test):
    if test in row.known_failures:
        pytest.xfail(row.known_failures[test])


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_value_matches_reference(case):
    row, i = case
    _xfail(row, "value")
    s = _sample(row, i)
    inputs, sym, arrays = _symbolic(s.args)
    outs = _as_list(row.op(*sym, **s.kwargs))
    f = th.function(inputs, outs)
    got = f(*arrays)
    want = _as_list(row.ref(*_ref_args(s.args), **s.kwargs))
    assert len(got) == len(want)
    for g, w, o in zip(got, want, outs):
        w = np.asarray(w)
        assert g.dtype == np.dtype(o.dtype), f"output dtype {g.dtype}, inferred {o.dtype}"
        assert g.dtype == w.dtype, f"dtype {g.dtype} differs from the reference's {w.dtype}"
        np.testing.assert_allclose(g, w, rtol=row.rtol, atol=row.atol)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_infer_matches_real_output(case):
    row, i = case
    _xfail(row, "infer")
    s = _sample(row, i)
    for shapes in (None, lambda shape: (None,) * len(shape)):
        inputs, sym, arrays = _symbolic(s.args, shapes)
        outs = _as_list(row.op(*sym, **s.kwargs))
        verify(outs)
        got = th.function(inputs, outs)(*arrays)
        for o, g in zip(outs, got):
            assert o.ndim == g.ndim, f"inferred rank {o.ndim}, real {g.ndim}"
            for d, real in zip(o.type.shape, g.shape):
                assert d is None or d == real, f"inferred {o.type.shape}, real {g.shape}"
            if shapes is None:
                assert o.type.shape == g.shape, f"shapes all known yet inferred {o.type.shape}"


def _float_positions(args):
    return [k for k, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]


@pytest.mark.parametrize("case", GRAD_CASES, ids=_ids)
def test_gradient_matches_finite_differences(case):
    row, i = case
    s = _sample(row, i)
    _xfail(row, "grad")
    positions = row.grad_args if row.grad_args is not None else _float_positions(s.args)
    arrays = [a for a in s.args if isinstance(a, np.ndarray)]
    array_pos = [k for k, a in enumerate(s.args) if isinstance(a, np.ndarray)]
    wrt = [array_pos.index(k) for k in positions]
    assert all(arrays[w].dtype == np.float64 for w in wrt), "gradient samples must be float64"

    def fn(*variables):
        sym = list(s.args)
        for k, v in zip(array_pos, variables):
            sym[k] = v
        sym = [th.constant(a.value) if isinstance(a, Const) else a for a in sym]
        return row.op(*sym, **s.kwargs)

    verify_grad(fn, arrays, wrt=wrt)
    if row.second_order:
        verify_grad(fn, arrays, wrt=wrt, order=2, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_compiled_matches_reference_evaluator(case):
    row, i = case
    _xfail(row, "reference")
    s = _sample(row, i)
    inputs, sym, arrays = _symbolic(s.args)
    outs = [o for o in _as_list(row.op(*sym, **s.kwargs))]
    # a little downstream work so rewrites and buffer reuse have something to act on
    outs = [o * 2 + 1 if o.dtype.startswith("float") else o for o in outs]
    got = th.function(inputs, outs)(*arrays)
    want = evaluate(outs, dict(zip(inputs, arrays)))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


def _out_nodes(row, i):
    """Nodes of the sample's outputs that take out= and read only the sample's inputs."""
    s = _sample(row, i)
    inputs, sym, arrays = _symbolic(s.args)
    outs = _as_list(row.op(*sym, **s.kwargs))
    nodes = [o.owner for o in outs if isinstance(o, Variable) and o.owner is not None]
    nodes = [n for n in nodes if n.op.supports_out and all(
        isinstance(x, th.Constant) or any(x is v for v in inputs) for x in n.inputs)]
    return nodes, dict(zip(inputs, arrays))


OUT_CASES = [(row, i) for row, i in CASES if _out_nodes(row, i)[0]]


@pytest.mark.parametrize("case", OUT_CASES, ids=_ids)
def test_kernel_honours_out(case):
    nodes, given = _out_nodes(*case)
    for node in nodes:
        args = [torch.from_numpy(np.array(x.value if isinstance(x, th.Constant) else given[x]))
                for x in node.inputs]
        expected = node.op.kernel(*[a.clone() for a in args])
        buf = torch.empty_like(expected)
        result = node.op.kernel(*args, out=buf)
        assert result.data_ptr() == buf.data_ptr(), "kernel ignored out="
        torch.testing.assert_close(buf, expected, equal_nan=True)


@pytest.mark.parametrize("case", ERROR_CASES, ids=_ids)
def test_bad_input_gives_clear_error(case):
    row, i = case
    e = row.errors[i]
    _, sym, _ = _symbolic(e.args)
    with pytest.raises(e.error, match=e.match) as info:
        row.op(*sym, **e.kwargs)
    if isinstance(info.value, th.errors.TheonError) and any(isinstance(a, np.ndarray) for a in e.args):
        assert re.search(r"at \S+\.py:\d+", str(info.value)), "error does not name the user's line"
