"""Signatures of other frameworks on top of theon's own, so ports are mechanical."""
from .theano import theano_scan

__all__ = ["theano_scan"]
