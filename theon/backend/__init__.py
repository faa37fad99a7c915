"""Devices, dtype mapping and tensor interop: the only layer that knows torch tensors."""
