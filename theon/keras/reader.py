"""Reading Keras model files without Keras: the model's config (JSON) and its weights.

Two containers:
  * HDF5 full models (Keras 2's `model.save("m.h5")`, and Keras 3's legacy .h5): the config
    in the root attribute "model_config", the weights in the group "model_weights", one
    group per layer whose attribute "weight_names" lists its datasets in the layer's order.
  * .keras files (Keras 3): a zip holding config.json and model.weights.h5, where a layer's
    weights are the datasets layers/<name>/vars/0, 1, ... (a recurrent layer's are under
    layers/<name>/cell/vars).

Nothing in a file is executed: the config is parsed as JSON, the weights are read as
arrays by h5py (an optional dependency: the `keras` extra), and a dataset is read only
after its declared shape was checked against the shape its layer needs. A child process
reads the HDF5 data first (probe.py), so a file that crashes the HDF5 library fails
cleanly.
"""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import KerasError, KerasFormatError
from .probe import probe_hdf5

__all__ = ["KerasFile", "StoredArray", "read_keras_file"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
# the largest config.json and model.weights.h5 theon reads out of a .keras zip
MAX_CONFIG_BYTES = 64 * 2**20
MAX_WEIGHTS_BYTES = 16 * 2**30


# what h5py raises on a corrupted file, besides OSError
H5_ERRORS = (OSError, KeyError, RuntimeError, ValueError, TypeError, AttributeError, IndexError)


class StoredArray:
    """One weight array in the file: its declared shape and dtype, read only on demand."""

    def __init__(self, path: str, where: str, dataset):
        self.path, self.where, self._dataset = path, where, dataset
        self.shape = tuple(int(d) for d in dataset.shape)
        self.dtype = dataset.dtype
        self.size = int(dataset.size)

    def read(self):
        try:
            return self._dataset[()]
        except H5_ERRORS as e:
            raise KerasFormatError(f"{self.path}: the weight {self.where} cannot be read (truncated or corrupted "
                                   f"file?): {e}") from None


def _guarded(path, fn, *args):
    """fn(*args), any h5py failure on a corrupted file reported as a KerasFormatError."""
    try:
        return fn(*args)
    except KerasError:
        raise
    except H5_ERRORS as e:
        raise KerasFormatError(f"{path}: the HDF5 data is corrupted or not as Keras writes it: "
                               f"{type(e).__name__}: {e}") from None


@dataclass
class KerasFile:
    """A Keras model file's parts: `config` ({"class_name", "config"} of the model),
    `weights` (layer name -> its h5py datasets, unread, in the layer's order) and where
    they came from. Close it (or use it in a with block) to release the HDF5 file."""
    path: str
    container: str  # "HDF5" or ".keras"
    keras_version: str
    config: dict
    weights: dict = field(default_factory=dict)
    _h5: object = None

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _h5py(path):
    try:
        import h5py  # optional: the `keras` extra; only Keras files need it
    except ImportError:
        raise KerasError(f"{path}: reading Keras files needs h5py: pip install h5py "
                         f"(or pip install 'theon[keras]')") from None
    return h5py


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _parse_config(path, text: str, where: str) -> dict:
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise KerasFormatError(f"{path}: the model config ({where}) is not valid JSON: {e}") from None
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise KerasFormatError(f"{path}: the model config ({where}) is not a Keras model config "
                               f"(expected an object with 'class_name' and 'config')")
    return config


def read_keras_file(path) -> KerasFile:
    """The config and (unread) weights of a Keras model file; KerasError or
    KerasFormatError naming the file when it is not one theon can read."""
    path = str(path)
    p = Path(path)
    if not p.is_file():
        raise KerasError(f"{path}: no such file" if not p.exists() else f"{path}: not a file")
    with open(p, "rb") as f:
        magic = f.read(8)
    if magic.startswith(HDF5_MAGIC):
        return _read_hdf5(path)
    if magic.startswith(ZIP_MAGIC):
        return _read_zip(path)
    raise KerasFormatError(f"{path}: not a Keras model file (expected an HDF5 .h5/.hdf5 file written by "
                           f"model.save, or a Keras 3 .keras zip); its first bytes are {magic!r}")


def _open_h5(path, source):
    h5py = _h5py(path)
    try:
        return h5py.File(source, "r")
    except (OSError, ValueError) as e:
        raise KerasFormatError(f"{path}: the HDF5 data cannot be read (truncated or corrupted?): {e}") from None


def _read_hdf5(path) -> KerasFile:
    _h5py(path)
    probe_hdf5(path)
    h5 = _open_h5(path, path)
    try:
        return _guarded(path, _hdf5_model, path, h5)
    except BaseException:
        h5.close()
        raise


def _hdf5_model(path, h5) -> KerasFile:
    if "model_config" not in h5.attrs:
        what = "a weights-only file (model.save_weights)" if "layer_names" in h5.attrs or \
            "layers" in h5 else "an HDF5 file without a Keras model"
        raise KerasError(f"{path}: no model config: this is {what}; theon needs a full model written "
                         f"by model.save (the layers and their weights)")
    config = _parse_config(path, _text(h5.attrs["model_config"]), "the HDF5 attribute 'model_config'")
    version = _text(h5.attrs.get("keras_version", "unknown"))
    if "model_weights" not in h5:
        raise KerasError(f"{path}: the file has a model config but no 'model_weights' group")
    group = h5["model_weights"]
    weights = {}
    for name in group.attrs.get("layer_names", []):
        name = _text(name)
        if name not in group:
            raise KerasFormatError(f"{path}: the weights of layer {name!r} are listed but missing")
        layer = group[name]
        datasets = []
        for wname in layer.attrs.get("weight_names", []):
            wname = _text(wname)
            if wname not in layer or not hasattr(layer[wname], "shape"):
                raise KerasFormatError(f"{path}: layer {name!r}: its weight {wname!r} is missing")
            datasets.append(StoredArray(path, f"{name}/{wname}", layer[wname]))
        weights[name] = datasets
    return KerasFile(path, "HDF5", version, config, weights, h5)


def _zip_member(path, z: zipfile.ZipFile, name: str, limit: int) -> bytes:
    try:
        info = z.getinfo(name)
    except KeyError:
        raise KerasFormatError(f"{path}: not a Keras 3 .keras file: the zip holds no {name} "
                               f"(it holds {', '.join(z.namelist()[:10]) or 'nothing'})") from None
    if info.file_size > limit:
        raise KerasFormatError(f"{path}: {name} declares {info.file_size:,} bytes; theon reads at most "
                               f"{limit:,}")
    try:
        with z.open(info) as f:
            data = f.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise KerasFormatError(f"{path}: {name} cannot be read from the zip: {e}") from None
    if len(data) > limit:
        raise KerasFormatError(f"{path}: {name} holds more than {limit:,} bytes")
    return data


def _read_zip(path) -> KerasFile:
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise KerasFormatError(f"{path}: not a readable zip (a .keras file is one): {e}") from None
    with z:
        config = _parse_config(path, _zip_member(path, z, "config.json", MAX_CONFIG_BYTES).decode(
            "utf-8", errors="replace"), "config.json")
        version = "3"
        if "metadata.json" in z.namelist():
            try:
                meta = json.loads(_zip_member(path, z, "metadata.json", MAX_CONFIG_BYTES))
                version = str(meta.get("keras_version", version)) if isinstance(meta, dict) else version
            except ValueError:
                pass  # the version is only reported; a broken metadata.json changes nothing
        if "model.weights.h5" not in z.namelist():
            raise KerasError(f"{path}: the .keras file holds no model.weights.h5 (it holds "
                             f"{', '.join(z.namelist()[:10])}); theon reads the HDF5 weights Keras 3 writes")
        blob = _zip_member(path, z, "model.weights.h5", MAX_WEIGHTS_BYTES)
    _h5py(path)
    probe_hdf5(path, "model.weights.h5")
    h5 = _open_h5(path, io.BytesIO(blob))
    try:
        weights = _guarded(path, _keras3_weights, path, h5)
        return KerasFile(path, ".keras", version, config, weights, h5)
    except BaseException:
        h5.close()
        raise


def _keras3_weights(path, h5) -> dict:
    weights = {}
    layers = h5.get("layers")
    if layers is not None:
        for key in layers:
            group = layers[key]
            # groups are named by class ("conv2d_1"); their vars carry the layer's own name
            name = _text(group["vars"].attrs.get("name", key)) if "vars" in group else key
            if name in weights:
                raise KerasFormatError(f"{path}: two weight groups claim layer {name!r}")
            weights[name] = _vars_of(path, name, group)
    return weights


def _vars_of(path, name, group) -> list:
    """A layer's datasets in order: its own vars/0, 1, ..., then its cell's (recurrent layers)."""
    out = []
    for sub in (group, group.get("cell")):
        if sub is None or "vars" not in sub:
            continue
        vars_ = sub["vars"]
        keys = sorted((k for k in vars_ if k.isdigit()), key=int)
        out.extend(StoredArray(path, f"{name}/{'cell/' if sub is not group else ''}vars/{k}", vars_[k])
                   for k in keys if hasattr(vars_[k], "shape"))
    return out
