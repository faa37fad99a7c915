"""PyTorch state dicts: reading them safely, and filling theon layers from torch's names and layouts.

`load_state_dict(path)` reads a `.pt`/`.pth` file with `torch.load(weights_only=True)` (torch's
restricted unpickler: tensors, containers and numbers only; a file that needs any other class
or function is refused, nothing from it runs) or a `.safetensors` file (theon's own reader),
and returns {name: NumPy array}.

`fill_from_state_dict(model, state, mapping, strict)` (`Model.load_state_dict`) matches each
torch key to a theon parameter: a layer named like the torch module ("features.0",
"layer1.0.conv1") owns the keys "<module>.<torch parameter>", converted from torch's layout
by `TORCH_LAYOUTS` (nn.Linear's weight is the transpose of a Dense kernel; convolution,
batch-norm and recurrent weights are stored as torch stores them). Every missing, unexpected
and mis-shaped key is reported in one error, and then nothing is changed.
"""
from __future__ import annotations

import os
import pickle
import re

import numpy as np
import torch

from ..errors import TheonError
from .safetensors import CheckpointError, load_file

__all__ = ["StateDictError", "load_state_dict", "fill_from_state_dict", "torch_names", "TORCH_LAYOUTS"]

# A file larger than this is not a state dict theon will read into memory.
MAX_FILE_BYTES = 16 << 30


class StateDictError(TheonError, ValueError):
    """A state dict file that is unsafe, corrupt or not a state dict, or a state dict that does
    not fit a model (the message lists every missing, unexpected and mis-shaped key)."""


def _transpose(a):
    return np.ascontiguousarray(a.T)


_SAME = None
_RNN = {f"{k}_l0": (k, _SAME) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
_AFFINE = {"weight": ("gamma", _SAME), "bias": ("beta", _SAME)}

# layer class name -> {torch parameter name: (theon parameter key, torch -> theon conversion)};
# looked up along the layer's class hierarchy, so subclasses inherit their parent's layout.
# Names listed in IGNORED are torch buffers theon has no use for.
TORCH_LAYOUTS = {
    "Dense": {"weight": ("kernel", _transpose), "bias": ("bias", _SAME)},
    "_Conv": {"weight": ("kernel", _SAME), "bias": ("bias", _SAME)},
    "BatchNorm": {**_AFFINE, "running_mean": ("running_mean", _SAME), "running_var": ("running_var", _SAME)},
    "LayerNorm": _AFFINE,
    "GroupNorm": _AFFINE,
    "Embedding": {"weight": ("embeddings", _SAME)},
    "PReLU": {"weight": ("alpha", _SAME)},
    "Recurrent": _RNN,
    "Bidirectional": {**{t: (f"forward/{k}", f) for t, (k, f) in _RNN.items()},
                      **{f"{t}_reverse": (f"backward/{k}", f) for t, (k, f) in _RNN.items()}},
}
IGNORED = {"BatchNorm": ("num_batches_tracked",)}


def _lookup(table: dict, layer):
    for cls in type(layer).__mro__:
        if cls.__name__ in table:
            return table[cls.__name__]
    return None


def torch_names(layer) -> dict:
    """{torch parameter name: (theon parameter key, conversion)} for a built layer. Layers
    without an entry in TORCH_LAYOUTS use their own parameter keys as torch names (what
    MultiHeadAttention's "in_proj_weight", "out_proj.weight" are)."""
    layout = _lookup(TORCH_LAYOUTS, layer)
    keys = set(layer._param_keys)
    if layout is None:
        return {k: (k, _SAME) for k in layer._param_keys}
    return {t: (k, f) for t, (k, f) in layout.items() if k in keys}


# ---- reading files ----------------------------------------------------------------------------


def _to_numpy(name, value, where):
    if not isinstance(value, torch.Tensor):
        raise StateDictError(f"{where}: {name!r} is a {type(value).__name__}, not a tensor; a state dict "
                             f"maps names to tensors")
    t = value.detach().cpu()
    if t.dtype == torch.bfloat16:
        t = t.float()
    try:
        return t.contiguous().numpy().copy()
    except TypeError as e:
        raise StateDictError(f"{where}: {name!r} has dtype {t.dtype}, which theon cannot hold: {e}") from None


def _first_line(e: Exception) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else ""


def _read_torch(path: str) -> dict:
    where = f"state dict {path!r}"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=False)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL (\S+)", str(e))
        if found is None:
            raise StateDictError(f"{where} is not a readable torch file (truncated or corrupt?): "
                                 f"{_first_line(e)}") from None
        raise StateDictError(f"{where} needs pickle code to load (it refers to {found.group(1)}); theon "
                             f"reads only tensors (torch.load(weights_only=True)) and never runs code "
                             f"from a model file. Save the weights alone: torch.save(model.state_dict(), "
                             f"path), or as safetensors") from None
    except Exception as e:  # noqa: BLE001 - arbitrary bytes make the unpickler fail in any way
        raise StateDictError(f"{where} is not a readable torch file (truncated or corrupt?): "
                             f"{type(e).__name__}: {_first_line(e)}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training checkpoint: {"state_dict": ..., "epoch": ...}
    if not isinstance(state, dict):
        raise StateDictError(f"{where} holds a {type(state).__name__}, not a state dict (a dict of "
                             f"name -> tensor)")
    return {str(k): _to_numpy(k, v, where) for k, v in state.items()}


def load_state_dict(path) -> dict:
    """{name: NumPy array} from a torch `.pt`/`.pth`/`.bin` state dict or a `.safetensors`
    file. Torch files are read with torch's weights-only unpickler: a file that needs any
    code (a pickled model, a custom class) raises StateDictError and runs nothing."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise StateDictError(f"state dict {path!r}: no such file")
    if os.path.getsize(path) > MAX_FILE_BYTES:
        raise StateDictError(f"state dict {path!r} is {os.path.getsize(path)} bytes, more than the "
                             f"{MAX_FILE_BYTES} theon reads")
    with open(path, "rb") as f:
        magic = f.read(8)
    if path.endswith(".safetensors") or not (magic.startswith(b"PK") or magic[:1] == b"\x80"):
        try:
            return load_file(path)
        except CheckpointError as e:
            if path.endswith(".safetensors"):
                raise StateDictError(str(e)) from None
            raise StateDictError(f"state dict {path!r} is neither a torch file (zip or pickle) nor "
                                 f"safetensors: {e}") from None
    return _read_torch(path)


# ---- filling a model ----------------------------------------------------------------------------


def _rename(key: str, mapping) -> str | None:
    if mapping is None:
        return key
    if callable(mapping):
        return mapping(key)
    best = max((p for p in mapping if key == p or key.startswith(p + ".")), key=len, default=None)
    if best is None:
        return key
    target = mapping[best]
    return None if target is None else target + key[len(best):]


def _brief(names) -> str:
    return ", ".join(names)


def fill_from_state_dict(model, state: dict, mapping=None, strict: bool = True) -> None:
    """Set `model`'s parameters from a torch state dict (name -> array or tensor).

    mapping: None (theon layer names are torch module names), a dict {torch module prefix:
    theon layer name (None drops those keys)}, or a function torch key -> key in theon's
    naming (None drops it). strict: every parameter must be filled and every key used."""
    if not isinstance(state, dict):
        raise TypeError(f"load_state_dict takes a dict of name -> tensor, got {type(state).__name__}")
    if mapping is not None and not callable(mapping) and not isinstance(mapping, dict):
        raise TypeError(f"load_state_dict: mapping must be None, a dict or a function, got "
                        f"{type(mapping).__name__}")
    unbuilt = [layer.name for layer in model.layers if not layer.built]
    if unbuilt:
        raise StateDictError(f"model {model.name!r} has layers that are not built ({_brief(unbuilt)}): "
                             f"call the model on an input first")
    targets, ignorable = {}, set()
    for layer in model.layers:
        for tname, (key, convert) in torch_names(layer).items():
            targets[f"{layer.name}.{tname}"] = (layer.param(key), convert)
        for tname in _lookup(IGNORED, layer) or ():
            ignorable.add(f"{layer.name}.{tname}")
    unexpected, wrong, values, present = [], [], [], set()
    for key, value in state.items():
        name = _rename(str(key), mapping)
        if name is None or name in ignorable:
            continue
        if name not in targets:
            unexpected.append(key if name == key else f"{key} (as {name})")
            continue
        p, convert = targets[name]
        present.add(name)
        given = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        want = tuple(p.type.shape)
        torch_want = want if convert is None else want[::-1]
        if given.shape != torch_want:
            wrong.append(f"{key}: expected shape {torch_want} for {p.name}, got {given.shape}")
            continue
        arr = given if convert is None else convert(given)
        if not np.can_cast(arr.dtype, p.dtype, "same_kind"):
            wrong.append(f"{key}: cannot store {arr.dtype} values in {p.name} ({p.dtype})")
            continue
        values.append((p, arr.astype(p.dtype, copy=True)))
    missing = [n for n in targets if n not in present] if strict else []
    problems = []
    if missing:
        problems.append(f"missing ({len(missing)}): {_brief(missing)}")
    if unexpected and strict:
        problems.append(f"unexpected ({len(unexpected)}): {_brief(unexpected)}")
    if wrong:
        problems.append(f"mis-shaped ({len(wrong)}):\n    " + "\n    ".join(wrong))
    if problems:
        raise StateDictError(f"load_state_dict changed nothing in model {model.name!r}:\n  "
                             + "\n  ".join(problems))
    for p, arr in values:
        p.set_value(arr)
