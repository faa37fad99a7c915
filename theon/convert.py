"""The work of `theon convert`: read a model file of a format theon imports, describe it, run
it on random (or given) inputs, compare it with the format's own runtime, and write it in
another format.

Input formats are told apart by the first file's extension (theon_cli.CONVERT_FORMATS); each
has a reader in READERS that returns a `Source`. Output formats have a writer in WRITERS.
A new format is one line in each table (and its reader or writer).
"""
from __future__ import annotations

import importlib.util
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import io
from .errors import TheonError
from .onnx import export, load  # (theon.onnx imports the onnx package only when used)

CHECK_RTOL = 1e-4  # the largest difference from the reference runtime, relative to its largest value


class ConvertError(TheonError):
    """A model file or an input that `theon convert` cannot work with (one line, exit status 1)."""


@dataclass
class TensorInfo:
    name: str
    dtype: str
    dims: list  # ints, and names (str) for symbolic dims

    def text(self) -> str:
        return f"{self.name}: {self.dtype}[{', '.join(str(d) for d in self.dims)}]"


@dataclass
class Source:
    """A model file as read, before theon builds anything from it."""
    label: str
    format: str
    inputs: list
    outputs: list
    ops: Counter
    unsupported: Counter
    build: Callable                      # () -> th.nn.Model
    reference: Callable | None = None    # ({input name: array}) -> [arrays], the format's own runtime
    reference_name: str = ""             # its name, or why there is none
    details: list = field(default_factory=list)


# ---- ONNX -------------------------------------------------------------------------------------

def read_onnx(files) -> Source:
    # onnx is an optional extra (theon[onnx]): imported only when an ONNX file is converted
    import onnx  # optional: onnx

    from .onnx.importer.graph import count_unsupported  # optional: onnx
    from .onnx.importer.reader import check_opsets, read_model  # optional: onnx
    from .onnx.importer.tensors import DTYPES  # optional: onnx

    path = files[0]
    proto, label, _ = read_model(path)
    opsets = check_opsets(proto, label)
    graph = proto.graph
    inits = {t.name for t in graph.initializer}

    def info(v, k):
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value >= 0
                else d.dim_param if d.dim_param.isidentifier() else f"{v.name}:{a}"  # (some write "?" or -1)
                for a, d in enumerate(t.shape.dim)]
        dtype = DTYPES.get(t.elem_type, onnx.TensorProto.DataType.Name(t.elem_type).lower())
        return TensorInfo(v.name, dtype, dims)

    ops = Counter()
    _histogram(graph, ops)
    unsupported = Counter()
    count_unsupported(graph, opsets, unsupported)
    producer = f"{proto.producer_name} {proto.producer_version}".strip()
    details = [f"opset {opsets.get('', '?')}" + (f", made by {producer}" if producer else "")]
    source = Source(label, "onnx", [info(v, k) for k, v in enumerate(graph.input) if v.name not in inits],
                    [info(v, k) for k, v in enumerate(graph.output)], ops, unsupported,
                    build=lambda: load(path), details=details)
    if importlib.util.find_spec("onnxruntime") is None:
        source.reference_name = "onnxruntime is not installed (pip install onnxruntime)"
    else:
        import onnxruntime as ort  # optional: the reference runtime of --check

        def run(feeds):
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            return session.run(None, feeds)
        source.reference, source.reference_name = run, f"onnxruntime {ort.__version__}"
    return source


def _histogram(graph, counts: Counter) -> None:
    for node in graph.node:
        counts[node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"] += 1
        for a in node.attribute:
            for g in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                _histogram(g, counts)


READERS = {"onnx": read_onnx}


# ---- writing ----------------------------------------------------------------------------------

def _atomic(path: Path, write) -> None:
    """write(temporary path), then rename it over `path`: never a half-written file."""
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_safetensors(model, path: Path, source: Source, inputs: dict) -> str:
    weights = {p.name: p.get_value() for p in model.params}
    _atomic(path, lambda tmp: io.save_file(weights, tmp, {"format": "weights", "source": source.label}))
    return f"{len(weights)} weight tensors"


def write_onnx(model, path: Path, source: Source, inputs: dict) -> str:
    export(model, path, inputs)
    return "the model exported again"


WRITERS = {"safetensors": write_safetensors, "onnx": write_onnx}


# ---- inputs and checks ------------------------------------------------------------------------

def example_inputs(source: Source, given: dict, dims: dict, seed: int) -> dict:
    """{input name: array}: the given .npy files, else random values (floats N(0, 1), ints
    0 or 1, bools) of the declared shape, symbolic dims from `dims` (default 1 for a first
    dim, else 64)."""
    unknown = sorted(set(given) - {i.name for i in source.inputs})
    if unknown:
        raise ConvertError(f"--input names {unknown}, which are not inputs of {source.label} "
                           f"({', '.join(i.name for i in source.inputs)})")
    rng = np.random.default_rng(seed)
    arrays = {}
    for spec in source.inputs:
        if spec.name in given:
            try:
                value = np.load(given[spec.name], allow_pickle=False)
            except (OSError, ValueError) as e:
                raise ConvertError(f"--input {spec.name}={given[spec.name]}: not a readable .npy array ({e})") from None
            if value.ndim != len(spec.dims) or any(isinstance(d, int) and d != s for d, s in zip(spec.dims, value.shape)):
                raise ConvertError(f"--input {spec.name}: shape {value.shape} does not fit {spec.text()}")
            if value.dtype.name != spec.dtype and not np.can_cast(value.dtype, spec.dtype, "same_kind"):
                raise ConvertError(f"--input {spec.name}: {value.dtype} values for a {spec.dtype} input")
            arrays[spec.name] = value.astype(spec.dtype)
            continue
        shape = [d if isinstance(d, int) else dims.get(d, 1 if a == 0 else 64) for a, d in enumerate(spec.dims)]
        if spec.dtype.startswith("float"):
            value = rng.standard_normal(shape)
        elif spec.dtype == "bool":
            value = rng.integers(0, 2, shape) == 1
        else:
            value = rng.integers(0, 2, shape)
        arrays[spec.name] = np.asarray(value).astype(spec.dtype)
    return arrays


def differences(ours: list, theirs: list) -> list:
    """Per output: (largest |difference|, that relative to the reference's largest |value|)."""
    found = []
    for a, b in zip(ours, theirs):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            found.append((float("inf"), float("inf")))
            continue
        if a.dtype.kind not in "fc":
            wrong = float(np.count_nonzero(a != b))
            found.append((wrong, wrong))
            continue
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
        diff = float(np.max(np.where(same, 0.0, np.abs(a64 - b64)), initial=0.0))
        scale = float(np.max(np.abs(b64[np.isfinite(b64)]), initial=0.0))
        found.append((diff, diff / scale if scale else diff))
    return found


def size_text(n: int) -> str:
    """Bytes for people: '512 B', '1.6 KB', '12.3 MB', '1.20 GB'."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:.{2 if unit == 'GB' else 1}f} {unit}"
    return f"{n} B"
