"""Building theon graphs from ONNX graphs: scopes of named values, a checked topological
order (cycles and undefined values are errors naming the node), one converter call per
node, and subgraphs (If/Loop/Scan bodies) that see their outer scopes."""
from __future__ import annotations

import heapq
from collections import Counter

import numpy as np
import torch

from ...backend.interop import to_numpy
from ...errors import TheonError
from ...graph import Constant, Shared, Variable, constant, is_float, shared, toposort
from ...ops.base import tensor
from ..errors import OnnxImportError, UnsupportedOpsError, where
from ..ops import convert, lookup
from .elems import Elems
from .layers import register_node_layer
from .names import free_names
from .reader import DEFAULT_DOMAINS
from .tensors import CARRIERS, attribute_value, theon_dtype, to_array, value_info_type


class NodeView:
    """A NodeProto with its position, decoded attributes and the scope it sits in."""

    def __init__(self, proto, index: int, scope_text: str = ""):
        self.proto = proto
        self.index = index
        self.name = proto.name
        self.op_type = proto.op_type
        self.domain = "" if proto.domain in DEFAULT_DOMAINS else proto.domain
        self.inputs = list(proto.input)
        self.outputs = list(proto.output)
        self.scope_text = scope_text
        self._attrs = None

    def attrs(self, source: str) -> dict:
        if self._attrs is None:
            what = where(source, self)
            self._attrs = {a.name: attribute_value(a, what) for a in self.proto.attribute}
        return self._attrs

    def subgraphs(self):
        for a in self.proto.attribute:
            if a.HasField("g"):
                yield a.g
            yield from a.graphs


def count_unsupported(graph, opsets: dict, counts: Counter) -> None:
    for node in graph.node:
        domain = "" if node.domain in DEFAULT_DOMAINS else node.domain
        if lookup(domain, node.op_type) is None:
            key = node.op_type if not domain else f"{domain}.{node.op_type}"
            counts[key] += 1
        for a in node.attribute:
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                count_unsupported(g, opsets, counts)


class Scope:
    """Values by ONNX name; a subgraph's scope falls back to the scopes around it."""

    def __init__(self, parent: "Scope | None" = None):
        self.parent = parent
        self.values: dict = {}
        self.elems: dict = {}

    def find(self, name: str):
        scope = self
        while scope is not None:
            if name in scope.values:
                return scope
            scope = scope.parent
        return None

    def get(self, name: str):
        scope = self.find(name)
        return None if scope is None else scope.values[name]

    def get_elems(self, name: str):
        scope = self.find(name)
        return None if scope is None else scope.elems.get(name)

    def chain_names(self) -> set:
        names, scope = set(), self
        while scope is not None:
            names |= set(scope.values)
            scope = scope.parent
        return names


class Importer:
    """State of one import: the file's label, opsets, raw weight values, the shared
    variables made for them and the layers that own them."""

    def __init__(self, source: str, opsets: dict, weight_threshold: int = 1):
        self.source = source
        self.opsets = opsets
        self.opset = opsets.get("", 1)
        self.raw: dict = {}          # initializer name -> NumPy value (static reads)
        self.weights: dict = {}      # initializer name -> Shared (made on first use)
        self.weight_names: set = set()
        self.owner: dict = {}        # weight name -> layer that owns it
        self.layers: list = []
        self.layer_names: set = set()
        self.weight_threshold = weight_threshold
        self.values: dict = {}       # every value of the top-level graph, by name
        self.dim_tests: dict = {}    # value name -> (x, axis, size) of Equal(x.shape[axis], size)
        self.choices: dict = {}      # rank-changing If -> branch taken (see choose_branch)
        self.choice_points: list = []
        # graph input / initializer name -> its ONNX type, for unsigned types carried in a
        # wider signed dtype (tensors.CARRIERS): ops whose results saturate need the range
        self.carried: dict = {}

    # ---- weights ----------------------------------------------------------------------

    def add_initializer(self, scope: Scope, name: str, value: np.ndarray, weight_like: bool) -> None:
        """An initializer (or Constant): a trainable shared variable when float and not a
        scalar, else a constant; its raw value stays readable for static arguments."""
        self.raw[name] = value
        if weight_like and value.dtype.kind == "f" and value.ndim >= 1 and value.size >= self.weight_threshold:
            self.weight_names.add(name)
            scope.values[name] = _Pending(name)
        else:
            scope.values[name] = constant(value)

    def weight(self, name: str) -> Shared:
        w = self.weights.get(name)
        if w is None:
            value = self.raw[name]
            w = shared(np.ascontiguousarray(value), name=name, dtype=value.dtype.name)
            self.weights[name] = w
        return w

    # ---- conversion -------------------------------------------------------------------

    def check_supported(self, graph) -> None:
        counts = Counter()
        count_unsupported(graph, self.opsets, counts)
        if counts:
            raise UnsupportedOpsError(self.source, counts)

    def graph_inputs(self, graph) -> list:
        """theon input variables for the graph inputs that are not initializers, keeping
        their names; dims the file leaves open are None."""
        inits = {t.name for t in graph.initializer}
        out = []
        for info in graph.input:
            if info.name in inits:
                continue
            elem, dims, _ = value_info_type(info)
            what = f"{self.source}: graph input {info.name!r}"
            if elem is None:
                raise OnnxImportError(f"{what} is not a tensor (sequences and optionals are not "
                                      f"supported as model inputs)")
            dtype = theon_dtype(elem, what)
            if elem in CARRIERS:
                self.carried[info.name] = elem
            if dims is None:
                raise OnnxImportError(f"{what} has no declared rank; theon needs the rank of "
                                      f"each input")
            out.append(tensor(info.name, tuple(dims), dtype))
        return out

    def choose_branch(self, node) -> bool:
        """For an If whose branches disagree on rank: True for the then-branch (first try)."""
        key = (node.scope_text, node.index)
        self.choice_points.append(key)
        return self.choices.get(key, True)

    def convert_subgraph(self, graph, scope: Scope, scope_text: str) -> list:
        """convert_graph, retrying with the other branch of a rank-changing If made in it
        when the rest of the subgraph cannot be built on the first choice."""
        mark = len(self.choice_points)
        try:
            return self.convert_graph(graph, scope, scope_text)
        except OnnxImportError:
            made = self.choice_points[mark:]
            flip = next((k for k in made if k not in self.choices), None)
            del self.choice_points[mark:]
            if flip is None:
                raise
            self.choices[flip] = False
            fresh = Scope(scope.parent)
            fresh.values = {k: v for k, v in scope.values.items() if k in self._bound(graph, scope)}
            fresh.elems = {k: v for k, v in scope.elems.items() if k in fresh.values}
            return self.convert_subgraph(graph, fresh, scope_text)

    @staticmethod
    def _bound(graph, scope) -> set:
        """Names bound in a subgraph scope before its nodes ran (inputs and rebinds)."""
        produced = {o for n in graph.node for o in n.output} | {t.name for t in graph.initializer}
        return {k for k in scope.values if k not in produced}

    def convert_graph(self, graph, scope: Scope, scope_text: str = "") -> list:
        """Convert every node of `graph` into `scope`; the graph's outputs as variables."""
        for t in graph.initializer:
            if t.data_type in CARRIERS:
                self.carried[t.name] = t.data_type
            self.add_initializer(scope, t.name, to_array(t, f"{self.source}: initializer"), True)
        nodes = [NodeView(p, i, scope_text) for i, p in enumerate(graph.node)]
        for node in self.schedule(nodes, scope):
            self.convert_node(node, scope)
        outs = []
        for o in graph.output:
            v = scope.get(o.name)
            if v is None:
                raise OnnxImportError(f"{self.source}: graph output {o.name!r}{scope_text} is "
                                      f"not computed by any node")
            outs.append(self.resolve(scope, o.name))
        return outs

    def schedule(self, nodes: list, scope: Scope) -> list:
        """The nodes in a dependency order (stable: file order where free); a cycle or a
        value nothing defines is an error naming the node."""
        produced = {}
        for node in nodes:
            for o in node.outputs:
                if not o:
                    continue
                if o in produced:
                    raise OnnxImportError(f"{where(self.source, node)}: output {o!r} is also "
                                          f"produced by node #{produced[o].index}; ONNX values "
                                          f"have one producer")
                produced[o] = node
        known = scope.chain_names()
        deps = {}
        for node in nodes:
            reads = [n for n in node.inputs if n]
            for g in node.subgraphs():
                reads.extend(sorted(free_names(g)))
            need = set()
            for name in reads:
                if name in produced:
                    if produced[name] is not node:
                        need.add(produced[name].index)
                    elif name in node.inputs:
                        raise OnnxImportError(f"{where(self.source, node)} reads its own output "
                                              f"{name!r}: the graph has a cycle")
                elif name not in known:
                    raise OnnxImportError(f"{where(self.source, node)} reads {name!r}, which no "
                                          f"node, input or initializer defines")
            deps[node.index] = need
        users = {n.index: [] for n in nodes}
        for i, need in deps.items():
            for j in need:
                users[j].append(i)
        waiting = {i: len(need) for i, need in deps.items()}
        ready = [i for i, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            i = heapq.heappop(ready)
            order.append(nodes[i])
            for u in users[i]:
                waiting[u] -= 1
                if waiting[u] == 0:
                    heapq.heappush(ready, u)
        if len(order) != len(nodes):
            stuck = [nodes[i] for i, n in waiting.items() if n > 0]
            names = ", ".join(f"{n.name or '#' + str(n.index)} ({n.op_type})" for n in stuck[:8])
            raise OnnxImportError(f"{where(self.source, stuck[0])}: the graph has a cycle through "
                                  f"{len(stuck)} node(s): {names}")
        return order

    def resolve(self, scope: Scope, name: str):
        """The variable for a name, making the shared variable of a weight on first use."""
        v = scope.get(name)
        if isinstance(v, _Pending):
            return self.weight(name)
        return v

    def convert_node(self, node: NodeView, scope: Scope) -> None:
        ctx = NodeContext(self, scope, node)
        try:
            outs = convert(ctx)
        except OnnxImportError:
            raise
        except (TheonError, ValueError, TypeError, IndexError, KeyError, NotImplementedError) as e:
            raise OnnxImportError(f"{where(self.source, node)}: {e}") from None
        outs = list(outs)
        if node.op_type not in _NO_FOLD and not ctx.used_weights and \
                all(ctx.static(i) is not None for i in range(ctx.n_in) if ctx.has(i)):
            outs = [fold(v) for v in outs]
        if len(outs) < len([o for o in node.outputs if o]):
            # optional outputs a converter does not compute are an error only when used
            outs += [None] * (len(node.outputs) - len(outs))
        ctx.register_layer(outs)
        for k, name in enumerate(node.outputs):
            if not name:
                continue
            v = outs[k] if k < len(outs) else None
            scope.values[name] = v if v is not None else _Missing(node, k)
            if isinstance(v, Variable) and v.owner is not None and v.name is None:
                v.name = name
            if k in ctx.out_elems:
                scope.elems[name] = ctx.out_elems[k]
            if scope.parent is None:
                self.values[name] = scope.values[name]


_NO_FOLD = {"Constant", "If", "Loop", "Scan", "RandomNormal", "RandomUniform", "RandomNormalLike",
            "RandomUniformLike", "Multinomial", "Bernoulli"}
_MAX_FOLD = 1 << 16


def fold(v):
    """`v` evaluated when building if its graph holds only constants (shape arithmetic that
    exporters write as tensor ops: Reshape/Slice/Transpose of constant pads ...)."""
    if not isinstance(v, Variable) or v.owner is None or isinstance(v, Constant):
        return v
    values = {}
    for node in toposort([v]):
        if node.op.impure or any(o.type.is_concrete and np.prod(o.type.shape) > _MAX_FOLD
                                 for o in node.outputs):
            return v
        args = []
        for i in node.inputs:
            if isinstance(i, Constant):
                args.append(torch.from_numpy(np.array(i.value)))
            elif id(i) in values:
                args.append(values[id(i)])
            else:
                return v
        kwargs = {"device": torch.device("cpu")} if node.op.needs_device else {}
        result = node.op.kernel(*args, **kwargs)
        results = result if node.op.nout > 1 else (result,)
        for o, r in zip(node.outputs, results):
            values[id(o)] = r
    return constant(to_numpy(values[id(v)].contiguous()), dtype=v.dtype)


class _Pending:
    """A weight whose shared variable is made when a node first reads it."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


class _Missing:
    """An optional output the converter does not compute; reading it is an error."""
    __slots__ = ("node", "k")

    def __init__(self, node, k):
        self.node, self.k = node, k


class NodeContext:
    """What a converter sees: the node's inputs as variables or static values, its
    attributes, the opset, and ways to convert subgraphs and to record shape values."""

    def __init__(self, importer: Importer, scope: Scope, node: NodeView):
        self.importer = importer
        self.scope = scope
        self.node = node
        self.opset = importer.opsets.get(node.domain, importer.opset) if node.domain else importer.opset
        self.attrs = node.attrs(importer.source)
        self.out_elems: dict = {}
        self.used_weights: list = []

    # ---- inputs -----------------------------------------------------------------------

    @property
    def n_in(self) -> int:
        return len(self.node.inputs)

    def has(self, i: int) -> bool:
        return i < len(self.node.inputs) and bool(self.node.inputs[i])

    def x(self, i: int) -> Variable | None:
        """Input i as a variable (None when absent)."""
        if not self.has(i):
            return None
        name = self.node.inputs[i]
        v = self.scope.get(name)
        if isinstance(v, _Missing):
            raise OnnxImportError(f"{where(self.importer.source, self.node)} reads {name!r}, output "
                                  f"{v.k} of node {v.node.name or '#' + str(v.node.index)} "
                                  f"({v.node.op_type}), which theon does not compute")
        if isinstance(v, _Pending):
            v = self.importer.weight(name)
            if name not in self.used_weights:
                self.used_weights.append(name)
        elif isinstance(v, Shared) and name in self.importer.weight_names and name not in self.used_weights:
            self.used_weights.append(name)
        if v is None:
            raise OnnxImportError(f"{where(self.importer.source, self.node)} reads {name!r}, which "
                                  f"is not defined")
        return v

    def xs(self) -> list:
        return [self.x(i) for i in range(self.n_in)]

    def static(self, i: int):
        """Input i's value as a NumPy array if it is known when building, else None."""
        if not self.has(i):
            return None
        name = self.node.inputs[i]
        v = self.scope.get(name)
        if isinstance(v, (_Pending, Shared)) and name in self.importer.raw:
            return self.importer.raw[name]
        if isinstance(v, Constant):
            return v.value
        e = self.scope.get_elems(name)
        if e is not None and e.is_static():
            return e.to_numpy()
        return None

    def const(self, i: int, what: str = "") -> np.ndarray | None:
        """Input i's value, which must be known when building (None when absent)."""
        if not self.has(i):
            return None
        value = self.static(i)
        if value is None:
            name = self.node.inputs[i]
            raise OnnxImportError(f"{where(self.importer.source, self.node)}: input {i} "
                                  f"({name!r}{', ' + what if what else ''}) must be a constant "
                                  f"(an initializer or computed from shapes), but it depends on "
                                  f"the data")
        return value

    def elems(self, i: int) -> Elems | None:
        """Input i as shape elements (ints and symbolic scalars) when it is a small integer
        vector or scalar known up to dims; None otherwise."""
        if not self.has(i):
            return None
        name = self.node.inputs[i]
        e = self.scope.get_elems(name)
        if e is not None:
            return e
        value = self.static(i)
        if value is not None and value.dtype.kind in "iub" and value.ndim <= 1 and value.size <= 64:
            return Elems.from_numpy(value)
        return None

    def carried_type(self, i: int) -> int | None:
        """The ONNX type of input i when it is a graph input or initializer of an unsigned
        type theon carries in a wider signed dtype; None otherwise."""
        return self.importer.carried.get(self.node.inputs[i]) if self.has(i) else None

    def attr(self, name: str, default=None):
        return self.attrs.get(name, default)

    def set_elems(self, k: int, e: Elems | None) -> None:
        if e is not None:
            self.out_elems[k] = e

    def fail(self, message: str):
        raise OnnxImportError(f"{where(self.importer.source, self.node)}: {message}")

    # ---- subgraphs ---------------------------------------------------------------------

    def subgraph(self, graph, inputs: list, rebind: dict | None = None) -> list:
        """The outputs of `graph` with its inputs bound to `inputs` (call inside the body
        function of th.cond / th.scan / th.while_loop); outer values are read directly,
        except those in `rebind` (name -> the body's own variable for it)."""
        scope = Scope(self.scope)
        if len(graph.input) != len(inputs):
            self.fail(f"subgraph {graph.name!r} takes {len(graph.input)} inputs, got {len(inputs)}")
        for name, v in (rebind or {}).items():
            scope.values[name] = v
            e = self.scope.get_elems(name)
            if e is not None:
                scope.elems[name] = e
        for info, v in zip(graph.input, inputs):
            scope.values[info.name] = v
        text = f"{self.node.scope_text} in a subgraph of node {self.node.name or '#' + str(self.node.index)}"
        return self.importer.convert_subgraph(graph, scope, text)

    # ---- layers ------------------------------------------------------------------------

    def register_layer(self, outs: list) -> None:
        """Top-level nodes that read weights become layers owning those weights."""
        if not self.used_weights or self.scope.parent is not None:
            return
        register_node_layer(self, outs)


def is_float_var(v) -> bool:
    return isinstance(v, Variable) and is_float(v.dtype)
