"""Device names: 'cpu', 'cuda', 'cuda:N'."""
from __future__ import annotations

import functools

import torch

from .. import config


@functools.lru_cache(maxsize=None)
def resolve_device(device) -> torch.device:
    """A torch.device for a name, checking that it exists here."""
    dev = torch.device(device) if not isinstance(device, torch.device) else device
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {device!r} asked for, but no CUDA device is available")
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        elif dev.index >= torch.cuda.device_count():
            raise RuntimeError(f"device {device!r} asked for, but only "
                               f"{torch.cuda.device_count()} CUDA device(s) exist")
    elif dev.type != "cpu":
        raise ValueError(f"unknown device {device!r}; expected 'cpu', 'cuda' or 'cuda:N'")
    return dev


def default_device() -> str:
    """THEON_DEVICE if set, else the first CUDA device when there is one, else the CPU."""
    if config.DEVICE:
        return config.DEVICE
    return "cuda" if torch.cuda.is_available() else "cpu"
