"""Neural networks: the functional operators (th.nn.conv2d, th.nn.cross_entropy, ...)."""
from ..ops.nn import *  # noqa: F401,F403
from ..ops.nn import __all__ as _functional
from ..ops.elementwise import elu, gelu, leaky_relu, relu, sigmoid, silu, softplus, tanh  # noqa: F401

__all__ = [*_functional, "elu", "gelu", "leaky_relu", "relu", "sigmoid", "silu", "softplus", "tanh"]
