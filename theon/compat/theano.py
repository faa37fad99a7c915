"""`theano_scan`: Theano's `scan` signature over `th.scan`.

Theano's scan and theon's differ in form, not in power. In theon the loop body takes
(carry, x) and returns (new_carry, y); Theano's takes flat positional arguments in a fixed
order and returns the new outputs. The mapping:

- `sequences=[x]`: `xs=x`; a tap `k` of `dict(input=x, taps=[...])` is `x` shifted by k
  (a slice), so several taps are several sequences.
- `outputs_info=[h0]`: a carry with initial value h0 (tap -1); `dict(initial=h, taps=[-2, -1])`
  keeps a window of the last two values in the carry; `None`: an output not fed back (a y).
- `non_sequences=[W]`: nothing: theon finds the variables a body reads.
- `n_steps=n`: `length=n`; `go_backwards=True`: the sequences are read last to first
  (outputs stay in the order they were computed, as in Theano).
"""
from __future__ import annotations

from collections import OrderedDict

from ..control import scan
from ..graph import Variable
from ..ops.base import as_variable
from ..ops.rearrange import flip
from ..ops.shape import stack


def _taps(entry, default):
    if isinstance(entry, dict):
        taps = list(entry.get("taps", default))
        return entry.get("input", entry.get("initial")), taps
    return entry, list(default)


def theano_scan(fn, sequences=None, outputs_info=None, non_sequences=None, n_steps=None,
                go_backwards: bool = False, truncate_gradient: int = -1, strict: bool = False,
                return_list: bool = False, name=None, mode=None, profile=False, allow_gc=None):
    """Theano's `scan(fn, sequences, outputs_info, non_sequences, n_steps, go_backwards)`,
    returning `(outputs, updates)` as Theano does (updates is always empty: shared
    variables are updated through `th.function(updates=...)`)."""
    if truncate_gradient != -1:
        raise NotImplementedError("theano_scan: truncate_gradient is not supported; the gradient "
                                  "runs through every step")
    seq_entries = [] if sequences is None else (list(sequences) if isinstance(sequences, (list, tuple))
                                                 else [sequences])
    out_entries = [] if outputs_info is None else (list(outputs_info) if isinstance(outputs_info, (list, tuple))
                                                    else [outputs_info])
    non_seqs = [] if non_sequences is None else (list(non_sequences) if isinstance(non_sequences, (list, tuple))
                                                  else [non_sequences])
    non_seqs = [as_variable(v) for v in non_seqs]

    # Theano loops over the shortest sequence (after its taps): with lengths known when
    # building, the others are cut to it; otherwise unequal lengths are an error at the call
    spans = []
    for entry in seq_entries:
        seq, taps = _taps(entry, [0])
        n = as_variable(seq).type.shape[0] if as_variable(seq).ndim else None
        spans.append(None if n is None or not taps else n - (max(taps) - min(taps)))
    shortest = min(spans) if spans and None not in spans else None
    if isinstance(n_steps, int):
        shortest = n_steps if shortest is None else min(shortest, n_steps)
    xs = []
    for entry in seq_entries:
        seq, taps = _taps(entry, [0])
        seq = as_variable(seq)
        if not taps:
            raise ValueError("theano_scan: a sequence needs at least one tap")
        lo, hi = min(taps), max(taps)
        for t in taps:  # tap t at step i reads seq[i + t - lo]
            stop = t - hi
            piece = seq[t - lo: stop if stop else None]
            if shortest is not None:
                piece = piece[:shortest]
            xs.append(flip(piece, axis=0) if go_backwards else piece)

    carries, fed = [], []
    for entry in out_entries:
        if entry is None:
            fed.append(None)
            continue
        init, taps = _taps(entry, [-1])
        if any(t >= 0 for t in taps):
            raise ValueError(f"theano_scan: output taps must be negative, got {taps}")
        init = as_variable(init)
        depth = max(-t for t in taps)
        window = [init] if depth == 1 and taps == [-1] else [init[k] for k in range(depth)]
        fed.append((taps, depth, len(carries)))
        carries.append(tuple(window))

    def body(carry, x):
        args = list(x) if x is not None else []
        for spec in fed:
            if spec is not None:
                taps, depth, k = spec
                args += [carry[k][depth + t] for t in taps]
        result = fn(*args, *non_seqs)
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
            result, updates = result
            if updates:
                raise NotImplementedError("theano_scan: updates returned by the body are not "
                                          "supported; use th.function(updates=...)")
        outs = list(result) if isinstance(result, (list, tuple)) else [result]
        if len(outs) != len(fed) and fed:
            raise ValueError(f"theano_scan: fn returned {len(outs)} outputs for {len(fed)} outputs_info")
        new_carry = []
        for spec, o in zip(fed, outs):
            if spec is not None:
                _, depth, k = spec
                new_carry.append(tuple(carry[k][1:]) + (as_variable(o),))
        return tuple(new_carry), outs

    length = None if xs else n_steps
    if length is None and not xs:
        raise ValueError("theano_scan: give sequences or n_steps")
    _, ys = scan(body, tuple(carries), tuple(xs) if xs else None, length=length)
    outputs = list(ys)
    if not return_list and len(outputs) == 1:
        return outputs[0], OrderedDict()
    return outputs, OrderedDict()
