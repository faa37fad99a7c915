"""th.onnx.export: a theon model, function or list of outputs written as an ONNX file.

The symbolic graph is walked (not the compiled program), each node by its op class's rule
(theon/onnx/export/ops/). Every node without an ONNX form is listed in one error before
anything is written, and the file is written to a temporary name and renamed, so `path`
never holds a half-written model.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import helper
from onnx.external_data_helper import set_external_data

from ... import __version__
from ...compile.function import Function
from ...graph import Shared, Variable, graph_inputs
from ...nn.model import Model, Sequential
from ..errors import OnnxExportError, UnexportableOpsError
from ..importer.model import OnnxModel
from . import ops  # noqa: F401  (importing registers the rules)
from .graph import Exporter, Graph
from .rnn import recurrent_layers_as_onnx

DEFAULT_OPSET = 18
OLDEST_OPSET = 17
PROTOBUF_LIMIT = 2**31 - 2**26   # one serialised message's limit (2 GB), less room for the graph
EXTERNAL_MIN_BYTES = 1024        # smaller tensors stay in the model file, as onnx.save does
DATA_SUFFIX = ".data"
_ALIGN = 4096                    # external tensors start at page offsets (so readers can map them)


def latest_opset() -> int:
    return onnx.defs.onnx_opset_version()


def export(model_or_function, path, example_inputs=None, opset: int | None = None, dynamic_axes=None,
           input_names=None, output_names=None, external_data: bool | None = None) -> Path:
    """Write a theon graph as an ONNX model file at `path`; returns the path.

    model_or_function: a `th.nn.Model` (its inference graph: batch norm with its running
    statistics, dropout as the identity), a `th.function` (its inputs and outputs; it may
    not have updates), or a list of output variables (the inputs are the graph inputs they
    read, in the order of `example_inputs` when it is a dict, else as first read). Shared
    variables become initializers holding their current values.

    example_inputs: one array, a list (one per input) or a dict by input name. Input dims
    the graph leaves unknown take the example's size unless `dynamic_axes` keeps them
    symbolic; it may be None when no such dim needs a size.
    opset: the ONNX opset (default 18; 17 up to the newest the onnx package knows).
    dynamic_axes: as torch.onnx.export's: {input or output name: {axis: "dim name"}} or
    {name: [axes]}; by default a Model's batch dim (dim 0) stays symbolic ("batch"), and a
    model imported with th.onnx.load keeps the dims its file left symbolic.
    input_names / output_names: the ONNX names (default: the variables' names, else
    input_k / output_k).
    external_data: write the weights (tensors of 1 KB or more) to `<path>.data` beside the
    file, as ONNX's external data; by default only when they pass protobuf's 2 GB limit.

    Loops and branches become ONNX Scan, Loop and If with their bodies as subgraphs; LSTM
    and GRU layers whose configuration ONNX's LSTM/GRU/RNN express exactly become those
    nodes. An op made with `th.op` becomes a node of its own domain (which `th.onnx.load`
    maps back to the op); an `op_from_graph` block is written as its subgraph's nodes.
    Run-time checks (`th.ops.assertion`) are not carried into ONNX.
    """
    path = Path(path)
    if external_data not in (None, True, False):
        raise OnnxExportError(f"external_data must be True, False or None (when needed), got {external_data!r}")
    inputs, outputs, label, default_dynamic = _target(model_or_function, example_inputs)
    opset = _opset(opset)
    in_names = _names(input_names, inputs, "input")
    out_names = _names(output_names, outputs, "output", taken=set(in_names) if output_names is None else set())
    if set(in_names) & set(out_names):
        raise OnnxExportError(f"a name is used for both an input and an output: "
                              f"{sorted(set(in_names) & set(out_names))}")
    shapes = _example_shapes(example_inputs, inputs, in_names)
    dynamic = _dynamic_axes(dynamic_axes if dynamic_axes is not None else default_dynamic(in_names, out_names),
                            inputs, outputs, in_names, out_names)
    in_dims = [_input_dims(v, n, shapes.get(n), dynamic.get(n, {})) for v, n in zip(inputs, in_names)]
    out_dims = [[dynamic.get(n, {}).get(a, d) for a, d in enumerate(v.type.shape)]
                for v, n in zip(outputs, out_names)]

    ex = Exporter(opset)
    for name in in_names + out_names:
        ex.reserve(name, "input or output")
    graph = Graph(ex, name=label)
    for v, name, dims in zip(inputs, in_names, in_dims):
        graph.add_input(v, name, dims)
    body_outputs = recurrent_layers_as_onnx(outputs)
    for v, name in zip(body_outputs, out_names):
        graph.wanted.setdefault(id(v), name)
    graph.emit(body_outputs)
    if ex.problems:
        raise UnexportableOpsError(str(path), ex.problems)
    graph.set_outputs(body_outputs, out_names, out_dims)
    model = _model_proto(graph, ex, opset)
    weight_bytes = sum(len(t.raw_data) for t in model.graph.initializer)
    if external_data is None:
        external_data = weight_bytes > PROTOBUF_LIMIT
    elif not external_data and weight_bytes > PROTOBUF_LIMIT:
        raise OnnxExportError(f"the weights take {weight_bytes / 2**30:.2f} GiB, past protobuf's 2 GB limit "
                              f"for one ONNX file: export with external_data=True (or None)")
    huge = weight_bytes > PROTOBUF_LIMIT
    if not huge:
        _check(model)
    data = _externalise(model.graph.initializer, path.name + DATA_SUFFIX) if external_data else None
    _write(model, path, data, check_written=huge)  # (the checker reads a model past 2 GB from its file)
    return path


# ---- what is exported ---------------------------------------------------------------------

def _target(target, example_inputs):
    """(inputs, outputs, graph name, default dynamic axes) of a model, function or outputs."""
    no_default = lambda ins, outs: {}
    if isinstance(target, Model):
        if isinstance(target, Sequential) and not target.built:
            raise OnnxExportError(f"Sequential {target.name!r} is not built: give input_shape= or call "
                                  f"it on a tensor first")

        if isinstance(target, OnnxModel):
            def kept(ins, outs):  # an imported model keeps the dims its file left symbolic
                dims = {}
                for n, v in zip(ins, target.inputs):
                    named = target.input_dims.get(v.name) or [None] * v.ndim
                    found = {a: named[a] if isinstance(named[a], str) and named[a] else f"{n}_dim{a}"
                             for a, d in enumerate(v.type.shape) if d is None}
                    if found:
                        dims[n] = found
                return dims
            return list(target.inputs), list(target.outputs), target.name, kept

        def batch(ins, outs):
            found = {n: {0: "batch"} for n, v in zip(ins, target.inputs) if v.ndim and v.type.shape[0] is None}
            found.update({n: {0: "batch"} for n, v in zip(outs, target.outputs)
                          if v.ndim and v.type.shape[0] is None})
            return found
        return list(target.inputs), list(target.outputs), target.name, batch
    if isinstance(target, Function):
        if target.updates:
            shared = ", ".join(str(s.name) for s, _ in target.updates)
            raise OnnxExportError(f"function {target.name!r} updates shared variables ({shared}); an "
                                  f"ONNX graph has no state to update: export a function without updates")
        return list(target.inputs), list(target.outputs), target.name, no_default
    outputs = [target] if isinstance(target, Variable) else list(target) if isinstance(target, (list, tuple)) else None
    if not outputs or not all(isinstance(v, Variable) for v in outputs):
        raise TypeError(f"th.onnx.export takes a th.nn.Model, a th.function or a list of output variables, "
                        f"got {type(target).__name__}")
    found = [v for v in graph_inputs(outputs) if not isinstance(v, Shared)]
    if isinstance(example_inputs, dict):
        by_name = {v.name: v for v in found}
        unknown = [k for k in example_inputs if k not in by_name]
        if unknown:
            raise OnnxExportError(f"example_inputs names {unknown}, which the outputs do not read; "
                                  f"they read {[v.name for v in found]}")
        found = [by_name[k] for k in example_inputs] + [v for v in found if v.name not in example_inputs]
    return found, outputs, "theon_graph", no_default


def _opset(opset) -> int:
    if opset is None:
        return DEFAULT_OPSET
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or \
            not OLDEST_OPSET <= int(opset) <= latest_opset():
        raise OnnxExportError(f"opset must be an int from {OLDEST_OPSET} to {latest_opset()} (the newest "
                              f"the installed onnx package knows), got {opset!r}")
    return int(opset)


def _names(given, variables, kind: str, taken=frozenset()) -> list:
    """The given names (checked), else the variables' own names (numbered when repeated or
    `taken`: an output that is an input gets a name of its own), else input_k / output_k."""
    if given is None:
        names, seen = [], set(taken)
        for k, v in enumerate(variables):
            base = v.name if isinstance(v.name, str) and v.name else (kind if len(variables) == 1 else f"{kind}_{k}")
            name, n = base, 1
            while name in seen:
                n += 1
                name = f"{base}_{n}"
            seen.add(name)
            names.append(name)
        return names
    given = list(given)
    if len(given) != len(variables) or not all(isinstance(n, str) and n for n in given):
        raise OnnxExportError(f"{kind}_names must be {len(variables)} non-empty strings (one per {kind}), "
                              f"got {given!r}")
    if len(set(given)) != len(given):
        raise OnnxExportError(f"{kind}_names has repeated names: {given!r}")
    return given


def _example_shapes(example_inputs, inputs, names) -> dict:
    """{input name: shape} of the examples, checked against the inputs' types."""
    if example_inputs is None:
        return {}
    if isinstance(example_inputs, dict):
        unknown = [k for k in example_inputs if k not in names]
        if unknown:
            raise OnnxExportError(f"example_inputs has no input named {unknown}; the inputs are {names}")
        items = dict(example_inputs)
    else:
        values = list(example_inputs) if isinstance(example_inputs, (list, tuple)) else [example_inputs]
        if len(values) != len(inputs):
            raise OnnxExportError(f"example_inputs gives {len(values)} value(s) for {len(inputs)} input(s) "
                                  f"({', '.join(names)})")
        items = dict(zip(names, values))
    shapes = {}
    for v, name in zip(inputs, names):
        if name not in items:
            continue
        value = items[name]
        shape = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
        if len(shape) != v.ndim or any(d is not None and d != s for d, s in zip(v.type.shape, shape)):
            raise OnnxExportError(f"example input {name!r} has shape {shape}, but the input is {v.type}")
        shapes[name] = shape
    return shapes


def _dynamic_axes(spec, inputs, outputs, in_names, out_names) -> dict:
    """{name: {axis: dim name}} from torch.onnx.export's dynamic_axes forms, checked."""
    if not isinstance(spec, dict):
        raise OnnxExportError(f"dynamic_axes must be a dict of name -> {{axis: name}} or [axes], got {spec!r}")
    ranks = {n: v.ndim for n, v in zip(in_names + out_names, inputs + outputs)}
    result = {}
    for name, axes in spec.items():
        if name not in ranks:
            raise OnnxExportError(f"dynamic_axes names {name!r}, which is not an input or output; the inputs "
                                  f"are {in_names}, the outputs {out_names}")
        if isinstance(axes, dict):
            items = list(axes.items())
        elif isinstance(axes, (list, tuple)):
            items = [(a, f"{name}_dim{a}") for a in axes]
        else:
            raise OnnxExportError(f"dynamic_axes[{name!r}] must be a dict {{axis: name}} or a list of axes, "
                                  f"got {axes!r}")
        dims = {}
        for axis, dim_name in items:
            if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or \
                    not -ranks[name] <= axis < ranks[name]:
                raise OnnxExportError(f"dynamic_axes[{name!r}]: axis {axis!r} is out of range for rank "
                                      f"{ranks[name]}")
            if not isinstance(dim_name, str) or not dim_name:
                raise OnnxExportError(f"dynamic_axes[{name!r}]: the dim name must be a string, got {dim_name!r}")
            dims[int(axis) % ranks[name]] = dim_name
        result[name] = dims
    return result


def _input_dims(var: Variable, name: str, example, dynamic: dict) -> list:
    """The ONNX dims of an input: symbolic names where dynamic, else the graph's or the
    example's sizes."""
    dims = []
    for axis, d in enumerate(var.type.shape):
        if axis in dynamic:
            if d is not None:
                raise OnnxExportError(
                    f"dynamic_axes makes dim {axis} of input {name!r} symbolic, but the graph was built "
                    f"with that dim {d} and may depend on it; build it with th.tensor(shape=...) holding "
                    f"None there (nn.Input leaves the batch dim None)")
            dims.append(dynamic[axis])
        elif d is not None:
            dims.append(d)
        elif example is not None:
            dims.append(int(example[axis]))
        else:
            raise OnnxExportError(f"dim {axis} of input {name!r} ({var.type}) is unknown in the graph: give "
                                  f"example_inputs to fix its size, or name it in dynamic_axes to keep it "
                                  f"symbolic")
    return dims


# ---- writing --------------------------------------------------------------------------------

def _model_proto(graph: Graph, ex: Exporter, opset: int):
    opsets = [helper.make_opsetid("", opset)]
    custom = [helper.make_opsetid(domain, version) for domain, version in sorted(ex.domains.items())]
    model = helper.make_model(graph.proto(ex.initializers), opset_imports=opsets + custom,
                              producer_name="theon", producer_version=__version__)
    model.ir_version = helper.find_min_ir_version_for(opsets)
    return model


def _check(model) -> None:
    """onnx.checker on a ModelProto, or on a file (whose external data it then reads)."""
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as e:
        raise OnnxExportError(f"theon made an ONNX model that onnx.checker rejects (a bug in theon's "
                              f"exporter; please report it): {e}") from None


def _externalise(initializers, location: str) -> list:
    """Move the data of tensors of EXTERNAL_MIN_BYTES or more out of the protos, each now
    pointing at its offset in `location`; returns the pieces of that file's bytes."""
    pieces, offset = [], 0
    for t in initializers:
        if not t.HasField("raw_data") or len(t.raw_data) < EXTERNAL_MIN_BYTES:
            continue
        pad = -offset % _ALIGN
        pieces.append(bytes(pad))
        offset += pad
        pieces.append(t.raw_data)
        set_external_data(t, location, offset, len(t.raw_data))
        t.data_location = onnx.TensorProto.EXTERNAL
        t.ClearField("raw_data")
        offset += len(pieces[-1])
    return pieces


def _write(model, path: Path, data=None, check_written: bool = False) -> None:
    """Serialise to temporary files next to `path`, then rename them over `path` (and its
    external data file, renamed first, when `data` holds its pieces); with check_written,
    onnx.checker reads the written model before it takes `path`'s name."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OnnxExportError(f"{path}: the folder {folder} does not exist")
    files = [(path, [model.SerializeToString()])]
    if data is not None:
        files.insert(0, (path.with_name(path.name + DATA_SUFFIX), data))
    written = []
    try:
        for target, pieces in files:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
            written.append((tmp, target))
            with os.fdopen(fd, "wb") as f:
                for piece in pieces:
                    f.write(piece)
                f.flush()
                os.fsync(f.fileno())
        for k, (tmp, target) in enumerate(written):
            if check_written and target == path:
                _check(tmp)
            os.replace(tmp, target)
            written[k] = (None, target)
    except BaseException:
        for tmp, _ in written:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        raise
