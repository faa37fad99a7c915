"""`th.callbacks.TensorBoard`: training curves, weight histograms and the step's graph as
TensorBoard event files (the `tensorboard` extra: pip install 'theon[tensorboard]').

    model.fit(x, y, callbacks=[th.callbacks.TensorBoard("runs/lenet")])
    # then: tensorboard --logdir runs

What goes in `logdir` (one event file per fit; a resumed run adds a file, and TensorBoard
orders the points by step):

- scalars, once per epoch at step = epoch + 1 (epochs counted from 1): every value in the
  epoch's logs under its own name ('loss', 'accuracy', 'val_loss', ...) and 'learning_rate'
  (the optimiser's rate at the epoch's end, its schedule applied). With update_freq=N,
  also 'batch_loss' every N steps, at step = the global step count.
- histograms of every parameter (under its name, e.g. 'dense_1/kernel') every
  `histogram_freq` epochs (0: none).
- the compiled training step's graph (write_graph): the forward pass, the gradient ops
  (under 'gradients/') and the updates, grouped by the layer that built each op, with the
  user's line, output shapes and dtypes as node attributes. Loop and branch bodies are one
  node each.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

from ..graph import Constant, Shared, toposort
from ..printing import op_text
from .callbacks import Callback, _writable_directory

__all__ = ["TensorBoard"]

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/]")


def _tensorboard():
    """The tensorboard package's event-file writer and protos. tensorboard is an optional
    extra and costs seconds to import, so it is imported when a TensorBoard callback is made,
    not when theon is."""
    try:
        from tensorboard.compat.proto import (  # optional: tensorboard
            attr_value_pb2,
            event_pb2,
            graph_pb2,
            summary_pb2,
            tensor_shape_pb2,
        )
        from tensorboard.summary.writer.event_file_writer import EventFileWriter  # optional: tensorboard
    except ImportError as e:
        raise ImportError("th.callbacks.TensorBoard needs the tensorboard package: "
                          "pip install 'theon[tensorboard]'") from e
    return {"attr": attr_value_pb2, "event": event_pb2, "graph": graph_pb2,
            "summary": summary_pb2, "shape": tensor_shape_pb2,
            "EventFileWriter": EventFileWriter}


class TensorBoard(Callback):
    """Write TensorBoard event files to `logdir` during `fit` (see the module's notes).

    histogram_freq: weight histograms every this many epochs (0: none). write_graph: the
    training step's graph, once when fit starts. update_freq: 'epoch' (scalars once per
    epoch) or N (also the batch loss every N steps; each read waits for the device)."""

    rank_zero_only = True

    def __init__(self, logdir, histogram_freq: int = 1, write_graph: bool = True, update_freq="epoch"):
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"TensorBoard: histogram_freq must be an integer >= 0, got {histogram_freq!r}")
        if update_freq != "epoch" and (isinstance(update_freq, bool) or not isinstance(update_freq, int)
                                       or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch' or an integer >= 1, got {update_freq!r}")
        self.logdir = Path(logdir)
        if self.logdir.exists() and not self.logdir.is_dir():
            raise ValueError(f"TensorBoard: {self.logdir} is a file; give a directory for the event files")
        self.histogram_freq = histogram_freq
        self.write_graph = bool(write_graph)
        self.update_freq = update_freq
        self._tb = _tensorboard()  # a missing package fails here, before fit
        self._writer = None
        self._epoch = 0

    # ---- the hooks -----------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        _writable_directory(self.logdir, "TensorBoard")
        self._writer = self._tb["EventFileWriter"](str(self.logdir), flush_secs=30)
        step_fn = getattr(self.model, "train_function", None)
        if self.write_graph and step_fn is not None:
            graph = graph_def(self._tb, step_fn.outputs, step_fn.updates, step_fn.inputs)
            self._writer.add_event(self._tb["event"].Event(wall_time=time.time(), step=0,
                                                           graph_def=graph.SerializeToString()))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or logs is None or "batch_loss" not in logs:
            return
        step = self._global_step(batch)
        if (step + 1) % self.update_freq == 0:
            self._scalars({"batch_loss": logs["batch_loss"]}, step + 1)

    def on_epoch_end(self, epoch, logs=None):
        values = {k: v for k, v in (logs or {}).items() if isinstance(v, (int, float, np.number))}
        opt = getattr(self.model, "optimizer", None)
        if opt is not None and hasattr(opt, "current_lr"):
            values["learning_rate"] = opt.current_lr()
        self._scalars(values, epoch + 1)
        if self.histogram_freq and (epoch + 1) % self.histogram_freq == 0:
            self._histograms(epoch + 1)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    # ---- writing -------------------------------------------------------------------------
    def _global_step(self, batch: int) -> int:
        return self._epoch * int(self.params.get("steps") or 0) + int(batch)

    def _scalars(self, values: dict, step: int):
        summary = self._tb["summary"]
        entries = [summary.Summary.Value(tag=tag_name(k), simple_value=float(v)) for k, v in values.items()]
        self._add(summary.Summary(value=entries), step)

    def _histograms(self, step: int):
        summary = self._tb["summary"]
        entries = [summary.Summary.Value(tag=tag_name(name), histo=histogram(self._tb, value))
                   for name, value in self.model.get_weights().items()]
        self._add(summary.Summary(value=entries), step)

    def _add(self, summary, step: int):
        self._writer.add_event(self._tb["event"].Event(wall_time=time.time(), step=int(step), summary=summary))


def tag_name(name: str) -> str:
    """A name TensorBoard accepts as a tag or node name (letters, digits, _ . - /)."""
    return _NAME_UNSAFE.sub("_", str(name)) or "_"


def histogram(tb, value, bins: int = 30):
    """A HistogramProto of the array's values: `bins` equal buckets between its min and max
    (bucket_limit holds each bucket's right edge, as TensorBoard reads it)."""
    v = np.asarray(value, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    proto = tb["summary"].HistogramProto()
    if v.size == 0:
        return proto
    counts, edges = np.histogram(v, bins=bins if v.min() < v.max() else 1)
    proto.min, proto.max, proto.num = float(v.min()), float(v.max()), float(v.size)
    proto.sum, proto.sum_squares = float(v.sum()), float(np.dot(v, v))
    proto.bucket_limit.extend(float(e) for e in edges[1:])
    proto.bucket.extend(float(c) for c in counts)
    return proto


def graph_def(tb, outputs, updates=(), inputs=()):
    """The GraphDef TensorBoard draws for a step: a node per input, shared variable,
    constant and op (named by the layer scope that built it; autodiff's ops under
    'gradients/'), an 'output_i' node per output and an 'update/<name>' node per update."""
    attr, shape_pb = tb["attr"], tb["shape"]
    graph = tb["graph"].GraphDef()
    names: dict = {}   # id(variable or node) -> node name
    used: set = set()

    def unique(base: str) -> str:
        base = tag_name(base)
        name, k = base, 1
        while name in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        return name

    def shape_attr(types):
        shapes = [shape_pb.TensorShapeProto(dim=[shape_pb.TensorShapeProto.Dim(size=-1 if d is None else d)
                                                 for d in t.shape]) for t in types]
        return attr.AttrValue(list=attr.AttrValue.ListValue(shape=shapes))

    def add(name, op, inputs_, types, extra=None):
        node = graph.node.add(name=name, op=op, input=inputs_)
        node.attr["_output_shapes"].CopyFrom(shape_attr(types))
        node.attr["dtype"].CopyFrom(attr.AttrValue(s=", ".join(t.dtype for t in types).encode()))
        for key, text in (extra or {}).items():
            node.attr[key].CopyFrom(attr.AttrValue(s=str(text).encode()))

    def ref(v) -> str:
        if v.owner is None:
            return names[id(v)]
        base = names[id(v.owner)]
        return base if len(v.owner.outputs) == 1 else f"{base}:{v.index}"

    roots = list(outputs) + [value for _, value in updates]
    order = toposort(roots)
    leaves = [*inputs, *(v for n in order for v in n.inputs if v.owner is None),
              *(s for s, _ in updates), *(v for v in roots if v.owner is None)]
    for v in leaves:
        if id(v) in names:
            continue
        if isinstance(v, Constant):
            names[id(v)] = unique("constant")
            add(names[id(v)], "Const", [], [v.type])
        elif isinstance(v, Shared):
            names[id(v)] = unique(v.name or "shared")
            add(names[id(v)], "Variable", [], [v.type])
        else:
            names[id(v)] = unique(f"input/{v.name or 'input'}")
            add(names[id(v)], "Placeholder", [], [v.type])
    for node in order:
        loc = node.loc
        scope = f"{loc.scope}/" if loc is not None and loc.scope else ""
        gradient = loc is not None and loc.role.startswith("gradient")
        names[id(node)] = unique(f"{'gradients/' if gradient else ''}{scope}{node.op.name}")
        extra = {"op": op_text(node.op)}
        if loc is not None:
            extra["source"] = f"{Path(loc.filename).name}:{loc.lineno}: {loc.code}"
            if loc.role:
                extra["role"] = loc.role
        add(names[id(node)], node.op.name, [ref(i) for i in node.inputs], [o.type for o in node.outputs], extra)
    for i, v in enumerate(outputs):
        add(unique(f"output_{i}"), "Identity", [ref(v)], [v.type])
    for s, value in updates:
        add(unique(f"update/{s.name or 'shared'}"), "Assign", [names[id(s)], ref(value)], [s.type])
    return graph
