"""Inner graphs: the bodies of loops and branches, held by control-flow ops as fields.

A body is a closed graph from its own input variables to its outputs. It is part of the
graph, not of the compiler: the compiler compiles it with the outer program, and
`output_types` re-infers it for more precise input types (the call's concrete shapes), so
a loop whose carry changes shape is caught when the call's shapes are known.
"""
from __future__ import annotations

import itertools

from .basic import Variable
from .traverse import replace
from .types import TensorType

_labels = itertools.count()


class InnerGraph:
    """A closed graph from `inputs` to `outputs`; compared by identity.

    `label` says what the body is (`scan_body`, `cond_true`, ...); `uid` tells two bodies
    of the same kind apart in printed programs."""

    __slots__ = ("inputs", "outputs", "label", "uid", "_specialized", "__weakref__")

    def __init__(self, inputs, outputs, label: str):
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.label = label
        self.uid = next(_labels)
        self._specialized: dict = {}

    def __repr__(self) -> str:
        return f"<{self.label} #{self.uid}: {len(self.inputs)} in, {len(self.outputs)} out>"

    def output_types(self, input_types) -> list:
        """The outputs' types when the inputs have `input_types` (each at least as precise
        as the declared input type): the body is re-inferred, and shape errors that only
        show at these shapes are raised at the body's own line."""
        input_types = tuple(input_types)
        if input_types == tuple(v.type for v in self.inputs):
            return [o.type for o in self.outputs]
        found = self._specialized.get(input_types)
        if found is None:
            fresh = {v: Variable(TensorType(t.dtype, t.shape), name=v.name, loc=v.loc)
                     for v, t in zip(self.inputs, input_types) if t != v.type}
            found = [o.type for o in replace(list(self.outputs), fresh)]
            self._specialized[input_types] = found
        return found
