"""theon: a symbolic deep-learning framework. Describe a computation as a graph, differentiate
it symbolically, and compile it into a fast program for the CPU or a CUDA GPU."""
from . import config, errors  # noqa: F401
from .graph import Constant, Shared, Variable, constant, shared  # noqa: F401
from .ops import *  # noqa: F401,F403
from .ops import __all__ as _ops_all
from .autodiff import grad, hessian, jacobian, jvp, vjp  # noqa: F401
from .compile import Function, function  # noqa: F401
from .ops.control import scan  # noqa: F401
from .ops.branch import cond, while_loop  # noqa: F401
from . import data, io, nn, optim, testing  # noqa: F401,E402
from . import callbacks  # noqa: F401,E402
from . import onnx  # noqa: F401,E402  (imports the onnx package only when a model is loaded)

__version__ = "0.1.0"

__all__ = ["Constant", "Shared", "Variable", "constant", "shared", "grad", "hessian", "jacobian",
           "jvp", "vjp", "Function", "function", "scan", "cond", "while_loop", "callbacks", "data", "io", "nn", "onnx", "optim", "testing", *_ops_all]
