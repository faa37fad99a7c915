"""Seeing a graph: `debugprint` (a text tree) and `plot` (a picture through Graphviz).

    th.printing.debugprint(loss)               # the symbolic graph under `loss`
    th.printing.debugprint(train_step)         # a compiled Function: its optimised program
    th.printing.plot(train_step, "step.svg")   # .svg, .png, .pdf, or .dot (no Graphviz needed)

Each node shows its op and attributes, its output type, the layer scope that built it and
the user's line (with "gradient of ..." for nodes autodiff made). A node used more than
once is printed in full the first time, tagged `[id A]`, and referred to by its tag after.
Loop and branch bodies are printed under their node (pictures draw them as nested
clusters); for a compiled function they are the compiled body programs.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from .compile import Function
from .compile.codegen import _op_text
from .graph import Constant, Shared, Variable, toposort

__all__ = ["debugprint", "plot", "to_dot", "GraphvizMissingError"]

_MAX_CONSTANT = 6        # constants up to this many elements show their values
_RENDERED = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
_DOT = {".dot", ".gv"}


class GraphvizMissingError(RuntimeError):
    """`plot` was asked for a picture and Graphviz's `dot` program is not installed."""


# ---- what to show ---------------------------------------------------------------------------

class _Graph:
    """The outputs to show, named, and how to find the bodies a node runs."""

    def __init__(self, obj):
        self.bodies_of = _symbolic_bodies
        if isinstance(obj, Function):
            program = _compiled(obj)
            self.title = f"compiled {obj.name}"
            names = [f"output {i}" for i in range(len(program.outputs))]
            names += [f"update {s.name or 'shared'}" for s, _ in obj.updates]
            self.roots = list(zip(names, program.outputs + program.update_values))
            self.bodies_of = _program_bodies(program)
        elif isinstance(obj, Variable):
            self.title, self.roots = "graph", [(obj.name or "output", obj)]
        elif hasattr(obj, "outputs") and not isinstance(obj, (list, tuple)):  # a functional model
            self.title = f"model {getattr(obj, 'name', '')}".strip()
            self.roots = [(f"output {i}", v) for i, v in enumerate(obj.outputs)]
        elif isinstance(obj, (list, tuple)) and all(isinstance(v, Variable) for v in obj) and obj:
            self.title, self.roots = "graph", [(v.name or f"output {i}", v) for i, v in enumerate(obj)]
        else:
            raise TypeError(f"debugprint/plot take a Variable, a list of them, a compiled "
                            f"Function or a model; got {type(obj).__name__}")


def _compiled(f: Function):
    if f.last_program is None:
        _ = f.source  # compiles for the declared shapes, or says to call the function once
    return f.last_program


def _symbolic_bodies(node):
    """[(label, [(name, output)], inputs)] for the inner graphs of a loop or branch node."""
    return [(g.label, [(f"out {i}", o) for i, o in enumerate(g.outputs)], list(g.inputs))
            for g in node.op.bodies()]


def _program_bodies(program):
    """The same for a compiled program: the body programs, matched to their nodes (a
    program keeps its bodies in the order of the schedule's nodes that run them)."""
    table = {}

    def walk(p):
        children = iter(p.children)
        for node in p.schedule:
            n = len(node.op.bodies())
            if n:
                table[id(node)] = [next(children) for _ in range(n)]
        for child in p.children:
            walk(child)

    walk(program)
    return lambda node: [(p.name, [(f"out {i}", o) for i, o in enumerate(p.outputs)], [])
                         for p in table.get(id(node), ())]


def op_text(op) -> str:
    """`conv2d(stride=(2, 2))`: the op's name and the attributes that differ from their
    defaults, as the generated program's comments show them."""
    return _op_text(op, ())


def _where(loc) -> str:
    if loc is None:
        return ""
    text = f"{os.path.basename(loc.filename)}:{loc.lineno}"
    if loc.scope:
        text = f"[{loc.scope}] {text}"
    return f"{text} ({loc.role})" if loc.role else text


def _leaf_text(v) -> str:
    if isinstance(v, Constant):
        if v.value.ndim == 0 and v.value.dtype.kind in "biuf":
            return f"constant {v.value.item():.6g}: {v.type}"
        if v.value.size <= _MAX_CONSTANT:
            shown = np.array2string(v.value, separator=", ").replace("\n", " ")
            return f"constant {shown}: {v.type}"
        return f"constant: {v.type}"
    kind = "shared" if isinstance(v, Shared) else "input"
    return f"{v.name or 'unnamed'}: {v.type} ({kind})"


def _node_text(v) -> str:
    node = v.owner
    out = f".out{v.index}" if len(node.outputs) > 1 else ""
    return f"{op_text(node.op)}{out} -> {v.type}"


# ---- debugprint -----------------------------------------------------------------------------

def debugprint(obj, file=None, show_lines: bool = True) -> str:
    """Print the graph under `obj` (a Variable, a list of them, a compiled Function or a
    model) as a tree to `file` (default stdout; file=False only returns the text), with the
    user's line and layer per node unless show_lines=False. Returns the text."""
    graph = _Graph(obj)
    uses = _use_counts([v for _, v in graph.roots], graph.bodies_of)
    ids, lines, expanded = {}, [f"{graph.title}:"], set()
    for name, v in graph.roots:
        lines.append(f"{name}: {_describe(v, uses, ids, show_lines)}")
        _children(v, "", uses, ids, lines, show_lines, graph.bodies_of, expanded)
    text = "\n".join(lines) + "\n"
    if file is not False:
        (file or sys.stdout).write(text)
    return text


def _use_counts(outputs, bodies_of) -> dict:
    """How many times each node is reached (a node reached twice gets an id)."""
    counts = {}
    stack = list(outputs)
    seen_bodies = set()
    while stack:
        v = stack.pop()
        node = v.owner
        if node is None:
            continue
        counts[id(node)] = counts.get(id(node), 0) + 1
        if counts[id(node)] > 1:
            continue
        stack.extend(node.inputs)
        for _, outs, _ in bodies_of(node):
            for _, o in outs:
                if id(o) not in seen_bodies:
                    seen_bodies.add(id(o))
                    stack.append(o)
    return counts


def _describe(v, uses, ids, show_lines) -> str:
    if v.owner is None:
        return _leaf_text(v)
    text = _node_text(v)
    loc = _where(v.owner.loc) if show_lines else ""
    if loc:
        text += f"  {loc}"
    node = v.owner
    if uses.get(id(node), 0) > 1:
        if id(node) in ids:
            return f"{text}  [id {ids[id(node)]}] (shown above)"
        ids[id(node)] = _tag(len(ids))
        text += f"  [id {ids[id(node)]}]"
    return text


def _children(v, prefix, uses, ids, lines, show_lines, bodies_of, expanded):
    node = v.owner
    if node is None or id(node) in expanded:  # a shared node's inputs show under it once
        return
    expanded.add(id(node))
    bodies = bodies_of(node)
    items = [("input", i) for i in node.inputs] + [("body", b) for b in bodies]
    for k, (kind, item) in enumerate(items):
        last = k == len(items) - 1
        branch, extend = ("└─ ", "   ") if last else ("├─ ", "│  ")
        if kind == "input":
            lines.append(f"{prefix}{branch}{_describe(item, uses, ids, show_lines)}")
            _children(item, prefix + extend, uses, ids, lines, show_lines, bodies_of, expanded)
        else:
            label, outs, _ = item
            lines.append(f"{prefix}{branch}body {label}:")
            for j, (name, o) in enumerate(outs):
                inner_last = j == len(outs) - 1
                b2, e2 = ("└─ ", "   ") if inner_last else ("├─ ", "│  ")
                lines.append(f"{prefix}{extend}{b2}{name}: {_describe(o, uses, ids, show_lines)}")
                _children(o, prefix + extend + e2, uses, ids, lines, show_lines, bodies_of, expanded)


def _tag(k: int) -> str:
    letters = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        letters = chr(65 + r) + letters
    return letters


# ---- plot -----------------------------------------------------------------------------------

def to_dot(obj) -> str:
    """The Graphviz DOT text of the graph under `obj` (see `debugprint`): ops as boxes
    (gradient ops shaded differently), inputs and shared variables as ellipses, loops and
    branches as clusters holding their bodies."""
    graph = _Graph(obj)
    out = _Dot()
    out.line('digraph theon {')
    out.line(f'  label="{_esc(graph.title)}"; labelloc=t; fontname="Helvetica"; compound=true;')
    out.line('  node [fontname="Helvetica", fontsize=10]; edge [color="#555555"];')
    out.emit([v for _, v in graph.roots], graph.bodies_of, "  ")
    for name, v in graph.roots:
        sink = out.new_id()
        out.line(f'  {sink} [shape=cds, style=filled, fillcolor="#e6e6e6", label="{_esc(name)}"];')
        out.line(f"  {out.ref(v)} -> {sink};")
    out.line("}")
    return "\n".join(out.lines) + "\n"


class _Dot:
    def __init__(self):
        self.lines = []
        self.ids = {}
        self.count = 0

    def line(self, text):
        self.lines.append(text)

    def new_id(self) -> str:
        self.count += 1
        return f"n{self.count}"

    def ref(self, v) -> str:
        """The DOT node of a variable: its op's box, or the leaf's own node."""
        key = id(v.owner) if v.owner is not None else id(v)
        return self.ids[key]

    def emit(self, outputs, bodies_of, indent):
        order = toposort(outputs)
        leaves = []
        for v in [i for n in order for i in n.inputs] + list(outputs):
            if v.owner is None and id(v) not in self.ids and all(l is not v for l in leaves):
                leaves.append(v)
        for v in leaves:
            self.ids[id(v)] = nid = self.new_id()
            if isinstance(v, Constant):
                self.line(f'{indent}{nid} [shape=plaintext, fontcolor="#666666", label="{_esc(_leaf_text(v))}"];')
            else:
                color = "#fff2cc" if isinstance(v, Shared) else "#d9ead3"
                self.line(f'{indent}{nid} [shape=ellipse, style=filled, fillcolor="{color}", '
                          f'label="{_esc(_leaf_text(v))}"];')
        for node in order:
            if id(node) in self.ids:
                continue
            self.ids[id(node)] = nid = self.new_id()
            types = ", ".join(str(o.type) for o in node.outputs)
            label = "\\n".join(_esc(t) for t in (op_text(node.op), types, _where(node.loc)) if t)
            gradient = node.loc is not None and node.loc.role.startswith("gradient")
            color = "#fce5cd" if gradient else "#dbe8fb"
            bodies = bodies_of(node)
            if bodies:
                self.line(f'{indent}subgraph cluster_{nid} {{')
                self.line(f'{indent}  label="{_esc(node.op.name)}"; style="rounded,dashed"; color="#3c78d8";')
                self.line(f'{indent}  {nid} [shape=box, style="rounded,filled,bold", fillcolor="{color}", label="{label}"];')
                for label_b, outs, inputs in bodies:
                    self.line(f'{indent}  subgraph cluster_{nid}_{self.new_id()} {{')
                    self.line(f'{indent}    label="body {_esc(label_b)}"; style="rounded"; color="#999999";')
                    for v in inputs:  # body inputs the outputs may not reach still show
                        if v.owner is None and id(v) not in self.ids:
                            self.ids[id(v)] = bid = self.new_id()
                            self.line(f'{indent}    {bid} [shape=ellipse, style=filled, fillcolor="#eeeeee", '
                                      f'label="{_esc(_leaf_text(v))}"];')
                    self.emit([o for _, o in outs], bodies_of, indent + "    ")
                    for name, o in outs:
                        sink = self.new_id()
                        self.line(f'{indent}    {sink} [shape=plain, fontsize=8, label="{_esc(name)}"];')
                        self.line(f"{indent}    {self.ref(o)} -> {sink};")
                    self.line(f"{indent}  }}")
                self.line(f"{indent}}}")
            else:
                self.line(f'{indent}{nid} [shape=box, style="rounded,filled", fillcolor="{color}", label="{label}"];')
            for k, inp in enumerate(node.inputs):
                src = inp.owner
                tail = f' [label="out{inp.index}", fontsize=8]' if src is not None and len(src.outputs) > 1 else ""
                self.line(f"{indent}{self.ref(inp)} -> {nid}{tail};")


def _esc(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def plot(obj, path, format: str | None = None) -> Path:
    """Draw the graph under `obj` (see `debugprint`) to `path`: .svg, .png or .pdf through
    Graphviz's `dot` program, or .dot for the DOT text itself. format overrides the suffix.
    Returns the path."""
    path = Path(path)
    suffix = f".{format}" if format else path.suffix.lower()
    if suffix not in _RENDERED and suffix not in _DOT:
        raise ValueError(f"plot: cannot tell the format of {path}: use a .svg, .png, .pdf or "
                         f".dot path (or format=)")
    text = to_dot(obj)
    tmp = path.with_name(path.name + ".tmp")
    if suffix in _DOT:
        tmp.write_text(text)
        os.replace(tmp, path)
        return path
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissingError(
            f"plot: writing {path.name} needs Graphviz's `dot` program, which is not installed: "
            f"apt-get install graphviz (Debian/Ubuntu), brew install graphviz (macOS) or conda "
            f"install graphviz; the pip package `graphviz` is only a wrapper around it. A .dot "
            f"path needs nothing")
    done = subprocess.run([dot, f"-T{_RENDERED[suffix]}", "-o", str(tmp)], input=text,
                          capture_output=True, text=True)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"plot: dot failed on the graph: {done.stderr.strip()}")
    os.replace(tmp, path)
    return path
