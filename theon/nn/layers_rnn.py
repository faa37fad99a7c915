"""Recurrent layers on th.scan: SimpleRNN, LSTM, GRU, and the Bidirectional wrapper.

Inputs are (batch, time, features), as Keras (`input_shape=(28, 28)` is 28 steps of 28
features). Weights are torch's (see layers_rnn_cells.py): parameters "weight_ih",
"weight_hh", "bias_ih", "bias_hh" hold torch.nn.LSTM's `weight_ih_l0`, ... 1:1;
`layer.load_torch_state(state_dict)` / `layer.torch_state()` convert.

Calling a recurrent layer:
    y = nn.LSTM(64)(x)                                # (batch, 64): the last h
    y = nn.LSTM(64, return_sequences=True)(x)         # (batch, time, 64)
    y, h, c = nn.LSTM(64, return_state=True)(x)       # output and final states
    y = lstm(x, initial_state=[h0, c0])               # or lstm([x, h0, c0])
    y = lstm(x, mask=m)        # m: (batch, time) bool / 0-1; or lengths=(batch,) ints
Masked (padded) steps keep the previous states and emit zeros; the final states are those
after each sequence's last valid step (torch's pack_padded_sequence semantics).
In a Sequential model, where only x flows, `mask_value=0.0` treats steps whose features all
equal it as padding (Keras' Masking), and `learn_initial_state=True` makes the initial
states trainable parameters ("initial_h", "initial_c") instead of zeros.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..errors import ShapeError
from ..graph import format_shape, is_float
from ..ops.base import as_variable
from ..ops.constructors import arange, ones_like, zeros
from ..ops.dims import dim
from ..ops.elementwise import less, not_equal
from ..ops.reduce import any as _any, cumsum
from ..ops.broadcast import broadcast_to
from ..ops.shape import concatenate, expand_dims
from . import activations, initializers
from .layer import Layer, LayerCall, _calls, layer_from_config, serialize_layer
from .layers_rnn_cells import CELLS, run_recurrence

__all__ = ["Recurrent", "SimpleRNN", "LSTM", "GRU", "Bidirectional"]

_STATE_NAMES = ("h", "c")
_MERGE_MODES = ("concat", "sum", "mul", "ave")


def _lengths_mask(lengths, x):
    """(batch, time) bool: step t of sequence b is valid when t < lengths[b]."""
    steps = x.type.shape[1]
    if steps is not None:
        t = arange(steps, dtype="int64")
    else:  # time unknown until the call: count along it
        t = cumsum(ones_like(x[0, :, 0], "int64")) - 1
    return less(expand_dims(t, 0), expand_dims(lengths.astype("int64"), 1))


class _SequenceLayer(Layer):
    """The calling convention shared by recurrent layers and Bidirectional: extra inputs
    (initial states, a mask) by keyword or as `layer([x, *states, mask])`, and
    `return_state`. Calls with extra inputs are recorded with all of them, so a functional
    Model replays them (training=True) and serialises them."""

    n_states: ClassVar[int] = 1

    def __call__(self, inputs, training: bool = False, initial_state=None, mask=None, lengths=None):
        x, states, mask_in = self._parse(inputs, initial_state, mask, lengths)
        self._pending = (states, mask_in)
        try:
            out = super().__call__(x, training=training)
        finally:
            self._pending = None
        extras = states + ([mask_in] if mask_in is not None else [])
        if extras:
            _calls[out] = LayerCall(self, [as_variable(x), *extras], True)
        if self.return_state:
            return [out, *self._last_states]
        return out

    def _parse(self, inputs, initial_state, mask, lengths):
        items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if not items:
            raise TypeError(f"layer {self.name!r} ({type(self).__name__}) got an empty input list")
        x, rest = items[0], [as_variable(v) for v in items[1:]]
        # in the list form a trailing bool/int tensor is the mask (or lengths)
        if rest and not is_float(rest[-1].dtype):
            if mask is not None or lengths is not None:
                raise TypeError(f"layer {self.name!r} got a mask both in its input list and by keyword")
            last = rest.pop()
            mask, lengths = (last, None) if last.ndim == 2 else (None, last)
        if initial_state is not None:
            if rest:
                raise TypeError(f"layer {self.name!r} got initial states both in its input list and "
                                f"as initial_state=")
            rest = [as_variable(v) for v in
                    (initial_state if isinstance(initial_state, (list, tuple)) else [initial_state])]
        if rest and len(rest) != self.n_states:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) takes {self.n_states} initial "
                             f"state(s), got {len(rest)}")
        if mask is not None and lengths is not None:
            raise TypeError(f"layer {self.name!r}: give mask= or lengths=, not both")
        mask_in = None
        if mask is not None:
            mask_in = as_variable(mask)
            if mask_in.ndim != 2:
                raise ShapeError(f"layer {self.name!r}: mask must be (batch, time), got "
                                 f"{format_shape(mask_in.type.shape)}")
            if is_float(mask_in.dtype):  # recorded as bool: a float in the list form is a state
                mask_in = not_equal(mask_in, 0)
        elif lengths is not None:
            mask_in = as_variable(lengths)
            if mask_in.ndim != 1 or is_float(mask_in.dtype):
                raise ShapeError(f"layer {self.name!r}: lengths must be (batch,) integers, got "
                                 f"{mask_in.type}")
        return x, rest, mask_in

    def _mask_for(self, x, mask_in):
        """The (batch, time) bool mask of a call, from mask=/lengths= or mask_value."""
        if mask_in is not None:
            if mask_in.ndim == 1:
                return _lengths_mask(mask_in, x)
            return mask_in if mask_in.dtype == "bool" else not_equal(mask_in, 0)
        if getattr(self, "mask_value", None) is not None:
            return _any(not_equal(x, self.mask_value), axis=-1)
        return None

    def _check_input(self, input_shape):
        if len(input_shape) != 2:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) takes (batch, time, features) "
                             f"inputs, got {format_shape((None, *input_shape))}")
        if input_shape[-1] is None:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) needs the number of features "
                             f"known when it is built, got {format_shape((None, *input_shape))}")
        return int(input_shape[-1])


class Recurrent(_SequenceLayer):
    """Base of SimpleRNN, LSTM and GRU (see the module docstring).

    units: the state size H. return_sequences: output every step's h (batch, time, H)
    instead of the last. return_state: also return the final states (h, and c for LSTM).
    reverse: read the sequence from its last step to its first; outputs stay aligned
    with the input steps. use_bias: the two bias vectors (torch's bias=True).
    mask_value: treat steps whose features all equal it as padding.
    learn_initial_state: trainable initial states instead of zeros (when none is given).
    """

    kind: ClassVar[str] = ""

    def __init__(self, units: int, return_sequences: bool = False, return_state: bool = False,
                 reverse: bool = False, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", mask_value=None,
                 learn_initial_state: bool = False, **kwargs):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"{type(self).__name__}: units must be positive, got {units}")
        self.units = int(units)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.reverse = bool(reverse)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.mask_value = None if mask_value is None else float(mask_value)
        self.learn_initial_state = bool(learn_initial_state)
        self.gates, self.n_states, _ = CELLS[self.kind]
        self._pending = None
        self._last_states = []

    def build(self, input_shape):
        n_in = self._check_input(input_shape)
        g, h = self.gates * self.units, self.units
        self.weight_ih = self.add_param("weight_ih", (g, n_in), self.kernel_initializer, fans=(n_in, g))
        self.weight_hh = self.add_param("weight_hh", (g, h), self.recurrent_initializer, fans=(h, g))
        self.bias_ih = self.bias_hh = None
        if self.use_bias:
            self.bias_ih = self.add_param("bias_ih", (g,), self._bias_ih_initializer())
            self.bias_hh = self.add_param("bias_hh", (g,), self.bias_initializer)
        self.initial_params = [self.add_param(f"initial_{_STATE_NAMES[k]}", (h,), "zeros")
                               for k in range(self.n_states)] if self.learn_initial_state else []

    def _bias_ih_initializer(self):
        return self.bias_initializer

    def _initial_states(self, x, states):
        if states:
            for s in states:
                if s.ndim != 2 or s.type.shape[-1] not in (None, self.units):
                    raise ShapeError(f"layer {self.name!r}: initial states must be (batch, {self.units}), "
                                     f"got {format_shape(s.type.shape)}")
            return [self.cast_input(s) for s in states]
        shape = (dim(x, 0), self.units)
        if self.initial_params:
            return [broadcast_to(p, shape) for p in self.initial_params]
        return [zeros(shape, self.compute_dtype) for _ in range(self.n_states)]

    def run(self, x, states=(), mask_in=None):
        """(output, final states) of this layer on x, without recording a layer call."""
        if x.ndim != 3:
            raise ShapeError(f"layer {self.name!r} ({type(self).__name__}) takes (batch, time, features) "
                             f"inputs, got {format_shape(x.type.shape)}")
        x = self.cast_input(x)
        return run_recurrence(self.kind, x, self._initial_states(x, list(states)),
                              (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh),
                              mask=self._mask_for(x, mask_in), reverse=self.reverse,
                              return_sequences=self.return_sequences, activation=self._activation())

    def _activation(self):
        return None

    def call(self, x, training=False):
        states, mask_in = self._pending or ([], None)
        out, self._last_states = self.run(x, states, mask_in)
        return out

    def output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    # ---- torch weights ----------------------------------------------------------------

    def load_torch_state(self, state: dict, layer: int = 0, reverse: bool = False) -> None:
        """Set the weights from a torch state dict (arrays or tensors): torch.nn.LSTM /
        GRU / RNN's "weight_ih_l{layer}" (+ "_reverse" for the backward direction), or
        an LSTMCell / GRUCell / RNNCell's "weight_ih". The layer must be built."""
        if not self.built:
            raise ValueError(f"layer {self.name!r} is not built: call it on an input first")
        suffix = f"_l{layer}" + ("_reverse" if reverse else "")
        for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            p = getattr(self, key)
            name = next((n for n in (key + suffix, key) if n in state), None)
            if p is None:
                if name is not None:
                    raise ValueError(f"layer {self.name!r} has no biases (use_bias=False) but the state "
                                     f"has {name!r}")
                continue
            if name is None:
                raise KeyError(f"the state has no {key + suffix!r}; it has {', '.join(state)}")
            value = state[name]
            value = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
            if value.shape != tuple(p.type.shape):
                raise ShapeError(f"{name}: expected shape {format_shape(p.type.shape)}, got "
                                 f"{format_shape(value.shape)}")
            p.set_value(value.astype(p.dtype))

    def torch_state(self, layer: int = 0, reverse: bool = False) -> dict:
        """The weights under torch.nn.LSTM / GRU / RNN's names, as NumPy arrays."""
        suffix = f"_l{layer}" + ("_reverse" if reverse else "")
        return {key + suffix: getattr(self, key).get_value()
                for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh") if getattr(self, key) is not None}

    def get_config(self):
        return {**super().get_config(), "units": self.units, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "reverse": self.reverse, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "mask_value": self.mask_value, "learn_initial_state": self.learn_initial_state}


class SimpleRNN(Recurrent):
    """h' = activation(W_ih x + b_ih + W_hh h + b_hh), torch.nn.RNN's layout
    (nonlinearity "tanh" or "relu"; any activation works)."""
    kind = "simple_rnn"

    def __init__(self, units: int, activation="tanh", **kwargs):
        super().__init__(units, **kwargs)
        self.activation = activations.get(activation)

    def _activation(self):
        return self.activation

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class LSTM(Recurrent):
    """torch.nn.LSTM's cell: gates i, f, g, o stacked in weight_ih (4H, in).
    unit_forget_bias: start bias_ih's forget gate at 1 (Keras' default), which helps
    gradients flow early in training."""
    kind = "lstm"

    def __init__(self, units: int, unit_forget_bias: bool = True, **kwargs):
        super().__init__(units, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_ih_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, h = self.bias_initializer, self.units

        def init(shape, dtype, rng, fan_in, fan_out):
            value = base(shape, "float64", rng, fan_in, fan_out)
            value[h:2 * h] = 1.0
            return value
        return initializers.get(init)

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRU(Recurrent):
    """torch.nn.GRU's cell: gates r, z, n, with n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    (Keras' reset_after=True)."""
    kind = "gru"


class Bidirectional(_SequenceLayer):
    """Run a recurrent layer forwards and a copy of it backwards over the sequence and merge
    the two outputs: merge_mode "concat" (default; forward first), "sum", "mul" or "ave".
    With return_sequences the merge is per step (output[t] of the backward copy has read
    x[T-1..t]); without, the final states' h are merged (torch's h_n[0], h_n[1]).
    Initial states and return_state list the forward layer's states, then the backward's.
    Parameters: "forward/weight_ih", ..., "backward/weight_ih", ...
    """

    def __init__(self, layer, merge_mode: str = "concat", **kwargs):
        if not isinstance(layer, Recurrent):
            raise TypeError(f"Bidirectional wraps a recurrent layer (SimpleRNN, LSTM, GRU), got {layer!r}")
        if layer.built:
            raise ValueError(f"Bidirectional needs an unbuilt layer; {layer.name!r} is already built")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {', '.join(_MERGE_MODES)}, "
                             f"got {merge_mode!r}")
        kwargs.setdefault("dtype", layer.dtype)
        super().__init__(**kwargs)
        self.merge_mode = merge_mode
        self.forward_layer = layer
        config = {**layer.get_config(), "reverse": not layer.reverse, "name": layer.name + "_backward"}
        config.pop("seed", None)
        self.backward_layer = type(layer).from_config(config)
        self.n_states = 2 * layer.n_states
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self._pending = None
        self._last_states = []

    def build(self, input_shape):
        self._check_input(input_shape)
        fw, bw = self.forward_layer, self.backward_layer
        for key, sub in (("forward", fw), ("backward", bw)):
            if self.seed is not None:
                sub._model_seed = (self.seed, key)
            elif fw.seed is not None:
                sub._model_seed = (fw.seed, key)
            elif self._model_seed is not None:
                sub._model_seed = (self._model_seed[0], f"{self._model_seed[1]}/{key}")
            sub.compute_dtype = self.compute_dtype
            sub.input_shape = tuple(input_shape)
            sub.build(tuple(input_shape))
            sub.built = True
            # the wrapper owns the parameters, named after it
            for p, k, t in zip(sub._params, sub._param_keys, sub._param_trainable):
                self._params.append(p)
                self._param_keys.append(f"{key}/{k}")
                self._param_trainable.append(t)
                p.name = f"{self.name}/{key}/{k}"

    def call(self, x, training=False):
        states, mask_in = self._pending or ([], None)
        k = self.forward_layer.n_states
        fw_out, fw_states = self.forward_layer.run(x, states[:k], mask_in)
        bw_out, bw_states = self.backward_layer.run(x, states[k:], mask_in)
        self._last_states = fw_states + bw_states
        if self.merge_mode == "concat":
            return concatenate([fw_out, bw_out], axis=-1)
        if self.merge_mode == "sum":
            return fw_out + bw_out
        if self.merge_mode == "mul":
            return fw_out * bw_out
        return (fw_out + bw_out) * 0.5

    def output_shape(self, input_shape):
        shape = self.forward_layer.output_shape(input_shape)
        if self.merge_mode == "concat":
            return (*shape[:-1], 2 * shape[-1])
        return shape

    def load_torch_state(self, state: dict, layer: int = 0) -> None:
        """Both directions from a bidirectional torch.nn.LSTM / GRU / RNN state dict."""
        self.forward_layer.load_torch_state(state, layer)
        self.backward_layer.load_torch_state(state, layer, reverse=True)

    def torch_state(self, layer: int = 0) -> dict:
        return {**self.forward_layer.torch_state(layer), **self.backward_layer.torch_state(layer, True)}

    def get_config(self):
        return {**super().get_config(), "layer": serialize_layer(self.forward_layer),
                "merge_mode": self.merge_mode}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None):
        config = dict(config)
        config["layer"] = layer_from_config(config["layer"], custom_objects)
        return cls(**config)
