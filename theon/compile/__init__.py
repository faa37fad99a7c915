"""Compilation: specialise, optimise, plan memory, generate a program, cache it."""
from .function import Function, function

__all__ = ["Function", "function"]
