"""Reading and writing tensors and training checkpoints (safetensors + checksummed JSON).

Nothing here ever unpickles: files hold raw little-endian tensor data and JSON."""

from .safetensors import CheckpointError, load, load_file, read_metadata, save, save_file
from .checkpoint import CHECKPOINT_JSON, load_checkpoint, save_checkpoint, weights_path

__all__ = [
    "CheckpointError",
    "save_file",
    "load_file",
    "save",
    "load",
    "read_metadata",
    "save_checkpoint",
    "load_checkpoint",
    "weights_path",
    "CHECKPOINT_JSON",
]
