"""Reading and writing tensors and training checkpoints (safetensors + checksummed JSON), and
reading PyTorch state dicts.

Nothing here ever runs code from a file: theon's files hold raw little-endian tensor data and
JSON, and torch files are read with torch's weights-only unpickler."""

from .safetensors import CheckpointError, load, load_file, read_metadata, save, save_file
from .torch_state import StateDictError, load_state_dict
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
    "load_state_dict",
    "StateDictError",
]
