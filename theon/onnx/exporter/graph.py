"""Building ONNX graphs from theon graphs: one export's state (unique names, initializers,
the ops that have no ONNX form), and the graphs being built (the main graph and the bodies
of Scan, Loop and If), walked node by node with each op class's rule.

Constants and shared variables become initializers of the main graph, which bodies read
as outer-scope values (as a theon body reads its closure). A rule whose node cannot be
written records why and the walk goes on, so every such node is listed in one error.
"""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from ...graph import Constant, Shared, Variable, toposort
from ...nn.layer import call_of
from ..errors import OnnxExportError
from ..importer.tensors import ONNX_TYPE
from .registry import Unsupported, lookup

_CACHE_BYTES = 1 << 16  # constants up to this size are shared by value


def elem_type(dtype: str) -> int:
    """The ONNX element type of a theon dtype."""
    try:
        return ONNX_TYPE[dtype]
    except KeyError:
        raise Unsupported(f"dtype {dtype} has no ONNX element type") from None


def value_info(name: str, var_type, dims=None):
    """A ValueInfoProto for a tensor of theon type `var_type`; `dims` overrides its dims
    (ints, strings for symbolic dims, None for unknown)."""
    shape = list(var_type.shape) if dims is None else list(dims)
    return helper.make_tensor_value_info(name, elem_type(var_type.dtype), shape)


class Exporter:
    """The state of one export: the opset, unique value and node names, the main graph's
    initializers (constants and shared variables, each written once) and the problems
    found (op label, user's line) so far."""

    def __init__(self, opset: int):
        self.opset = opset
        self.initializers: list = []
        self.used: set = set()
        self.node_names: set = set()
        self._consts: dict = {}
        self._vars: dict = {}      # id(Constant or Shared) -> (variable, name)
        self.problems: list = []
        self.domains: dict = {}    # custom domain -> opset version (th.op ops)

    def fresh(self, hint: str) -> str:
        """A value name not used anywhere in the model yet (ONNX names are global: bodies
        may not reuse their outer scopes' names)."""
        base = hint or "v"
        name, k = base, 1
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name

    def fresh_node(self, hint: str) -> str:
        name, k = hint, 1
        while name in self.node_names:
            k += 1
            name = f"{hint}_{k}"
        self.node_names.add(name)
        return name

    def reserve(self, name: str, what: str) -> str:
        if name in self.used:
            raise OnnxExportError(f"{what} name {name!r} is used twice; names must be unique")
        self.used.add(name)
        return name

    def constant(self, value: np.ndarray, hint: str = "const") -> str:
        """The name of an initializer holding `value` (equal small values share one)."""
        arr = np.array(value, order="C")  # (ascontiguousarray makes 0-d arrays 1-d)
        key = None
        if arr.nbytes <= _CACHE_BYTES:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in self._consts:
                return self._consts[key]
        name = self.fresh(hint)
        try:
            elem_type(arr.dtype.name)
        except Unsupported:
            raise Unsupported(f"a constant of dtype {arr.dtype.name} has no ONNX form") from None
        self.initializers.append(numpy_helper.from_array(arr, name))
        if key is not None:
            self._consts[key] = name
        return name

    def variable(self, v: Variable) -> str:
        """The initializer of a theon constant or shared variable (its value when exported)."""
        found = self._vars.get(id(v))
        if found is not None:
            return found[1]
        if isinstance(v, Shared):
            name = self.fresh(v.name or "weight")
            self.initializers.append(numpy_helper.from_array(np.array(v.get_value(), order="C"), name))
        else:
            name = self.constant(v.value)
        self._vars[id(v)] = (v, name)
        return name

    def fail(self, node, reason: str | None) -> None:
        self.problems.append((node.op.name + (f" ({reason})" if reason else ""), node.loc))


def _hint(var: Variable) -> str:
    """A readable name for a node's output: its own name, its layer's, or scope/op."""
    if var.name:
        return var.name
    call = call_of(var)
    if call is not None:
        return call.layer.name
    node = var.owner
    scope = node.loc.scope if node.loc is not None else ""
    base = node.op.name if node.op.nout == 1 else f"{node.op.name}.{var.index}"
    return f"{scope}/{base}" if scope else base


class Graph:
    """One ONNX graph being built: the main graph or a body (whose parent is the graph of
    the node that runs it, so outer values resolve through the chain)."""

    def __init__(self, exporter: Exporter, parent: Graph | None = None, name: str = "main"):
        self.ex = exporter
        self.parent = parent
        self.name = name
        self.nodes: list = []
        self.inputs: list = []
        self.outputs: list = []
        self._names: dict = {}     # id(var) -> (var, ONNX name)
        self.wanted: dict = {}     # id(var) -> reserved name (graph outputs)
        self.typed: list = []      # variables whose types the file declares (value_info)

    @property
    def opset(self) -> int:
        return self.ex.opset

    # ---- values ----------------------------------------------------------------------

    def bind(self, var: Variable, name: str) -> None:
        self._names[id(var)] = (var, name)

    def lookup(self, var: Variable) -> str:
        g = self
        while g is not None:
            found = g._names.get(id(var))
            if found is not None:
                return found[1]
            g = g.parent
        if isinstance(var, (Constant, Shared)):
            return self.ex.variable(var)
        raise OnnxExportError(f"the graph reads {var.describe()}, which is not one of the exported "
                              f"graph's inputs" + (f" (made at {var.loc})" if var.loc else ""))

    def add_input(self, var: Variable, name: str, dims=None) -> str:
        """A formal input of this graph (model inputs; Scan/Loop body inputs)."""
        self.inputs.append(value_info(name, var.type, dims))
        self.bind(var, name)
        return name

    def declare_types(self, variables) -> None:
        """Write these values' types into the graph's value_info (for nodes no ONNX schema
        describes, whose outputs shape inference cannot type)."""
        self.typed.extend(variables)

    def add_formal(self, name: str, elem: int, shape=()) -> str:
        """A formal input with no theon variable (a Loop body's iteration count and condition)."""
        self.inputs.append(helper.make_tensor_value_info(name, elem, list(shape)))
        return name

    def inline(self) -> Graph:
        """A scope writing into this graph's node list whose bindings stay its own (a body
        written in place, such as a while loop's first test)."""
        scope = Graph(self.ex, parent=self, name=self.name)
        scope.nodes = self.nodes
        return scope

    def add(self, op_type: str, inputs, n_out: int = 1, hint: str | None = None, domain: str = "",
            **attrs) -> list:
        """Append a node; returns its output names."""
        base = f"{hint}.{op_type}" if hint else op_type  # final outputs are renamed after their variable
        outs = [self.ex.fresh(base) for _ in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        node = helper.make_node(op_type, [i or "" for i in inputs], outs,
                                name=self.ex.fresh_node(f"{hint or op_type}/{op_type}"), domain=domain, **attrs)
        self.nodes.append(node)
        return outs

    # ---- walking a theon graph -------------------------------------------------------------

    def emit(self, outputs) -> list:
        """Write the nodes `outputs` need (those not already written) and return their names."""
        for node in toposort(outputs):
            if id(node.outputs[0]) not in self._names:
                self.emit_node(node)
        return [self.lookup(v) for v in outputs]

    def emit_node(self, node) -> None:
        fn = lookup(node.op)
        start = len(self.nodes)
        names = None
        if fn is None:
            self.ex.fail(node, None)
        else:
            try:
                names = fn(NodeContext(self, node))
            except Unsupported as e:
                self.ex.fail(node, str(e))
                del self.nodes[start:]
        if names is None:  # keep walking: every problem is listed in one error at the end
            names = [self.ex.fresh(f"unexportable_{node.op.name}") for _ in node.outputs]
        names = list(names) if isinstance(names, (list, tuple)) else [names]
        if len(names) != len(node.outputs):
            raise RuntimeError(f"the ONNX rule of {node.op.name} gave {len(names)} outputs for "
                               f"{len(node.outputs)}")
        made = {o for n in self.nodes[start:] for o in n.output}
        renames = {}
        for var, name in zip(node.outputs, names):
            if name in made and name not in renames:  # a value this rule made: name it well
                want = self.wanted.pop(id(var), None)
                renames[name] = want if want is not None else self.ex.fresh(_hint(var))
            self.bind(var, renames.get(name, name))
        if renames:
            for n in self.nodes[start:]:
                n.input[:] = [renames.get(i, i) for i in n.input]
                n.output[:] = [renames.get(o, o) for o in n.output]

    def set_outputs(self, outputs, names=None, dims=None) -> list:
        """Make `outputs` this graph's outputs, each produced by a node of this graph (an
        Identity where the value is an input, an outer value or another output)."""
        produced = {o for n in self.nodes for o in n.output}
        taken = set()
        result = []
        for k, var in enumerate(outputs):
            name = self.lookup(var)
            want = names[k] if names is not None else None
            if (want is not None and name != want) or name not in produced or name in taken:
                new = want if want is not None else self.ex.fresh(f"{self.name}_out{k}")
                self.nodes.append(helper.make_node("Identity", [name], [new],
                                                   name=self.ex.fresh_node(f"{new}/Identity")))
                name = new
            taken.add(name)
            self.outputs.append(value_info(name, var.type, None if dims is None else dims[k]))
            result.append(name)
        return result

    def proto(self, initializers=()):
        """The GraphProto, without the nodes nothing reads (a rule may have written a node
        another rule then read around, such as the transpose of a Dense kernel) and, for the
        main graph, without unread initializers."""
        nodes = _live(self.nodes, {o.name for o in self.outputs})
        if initializers:
            read = set().union(*(_reads(n) for n in nodes)) if nodes else set()
            initializers = [t for t in initializers if t.name in read]
        made = {o for n in nodes for o in n.output} - {o.name for o in self.outputs}
        typed = {self.lookup(v): v for v in self.typed}
        infos = [value_info(name, v.type) for name, v in typed.items() if name in made]
        return helper.make_graph(nodes, self.name, self.inputs, self.outputs, initializer=list(initializers),
                                 value_info=infos)


def _reads(node) -> set:
    """The names a node reads, its subgraphs' outer-scope reads included."""
    names = set(node.input)
    for a in node.attribute:
        for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
            for n in g.node:
                names |= _reads(n)
    return names


def _live(nodes: list, wanted: set) -> list:
    live, keep = set(wanted), []
    for node in reversed(nodes):
        if any(o in live for o in node.output):
            keep.append(node)
            live |= _reads(node)
    return keep[::-1]


class NodeContext:
    """What a rule sees: the node, its inputs' ONNX names and theon types, the opset, and
    ways to add nodes and constants to the graph being built."""

    def __init__(self, graph: Graph, node):
        self.graph = graph
        self.node = node
        self.op = node.op
        self.opset = graph.opset
        self.inputs = node.inputs
        self.outputs = node.outputs
        scope = node.loc.scope if node.loc is not None else ""
        self.hint = f"{scope}/{node.op.name}" if scope else node.op.name

    def x(self, i: int) -> str:
        return self.graph.lookup(self.node.inputs[i])

    def xs(self) -> list:
        return [self.x(i) for i in range(len(self.node.inputs))]

    def dtype(self, i: int = 0) -> str:
        return self.node.inputs[i].dtype

    def shape(self, i: int = 0) -> tuple:
        return self.node.inputs[i].type.shape

    def out_dtype(self, k: int = 0) -> str:
        return self.node.outputs[k].dtype

    def emit(self, op_type: str, inputs, n_out: int = 1, domain: str = "", **attrs):
        outs = self.graph.add(op_type, inputs, n_out, hint=self.hint, domain=domain, **attrs)
        return outs[0] if n_out == 1 else outs

    def const(self, value, dtype=None) -> str:
        return self.graph.ex.constant(np.asarray(value, dtype=dtype), f"{self.hint}/const")

    def ints(self, values) -> str:
        """A 1-D int64 constant."""
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(-1))

    def scalar(self, value, dtype: str) -> str:
        return self.const(np.asarray(value, dtype=dtype))

    def body(self, label: str) -> Graph:
        """A new graph for a body of this node, reading this graph's values as outer ones."""
        return Graph(self.graph.ex, parent=self.graph, name=self.graph.ex.fresh(f"{self.hint}/{label}"))


BOOL = TensorProto.BOOL
