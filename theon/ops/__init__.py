"""Every operator, one file per family. Importing this attaches Python operators to Variable.

The families import each other bottom-up only: base; axes, dims; broadcast; constructors;
elementwise; shape; rearrange; reduce, index, linalg, random, gradient; the nn_* families;
operators (the Python operators on Variable, attached last).
"""
from . import operators  # noqa: F401  (attaches +, @, [] ... to Variable)
from .axes import broadcast_shapes, normalize_axis
from .base import Op, as_variable, result_dtype, tensor
from .broadcast import broadcast_to
from .constructors import (
    arange,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    zeros,
    zeros_like,
)
from .dims import dim
from .elementwise import *  # noqa: F401,F403
from .elementwise import __all__ as _ew_all
from .elementwise import cast_to, unify
from .extension import load_inline
from .gradient import stop_gradient
from .index import *  # noqa: F401,F403
from .index import __all__ as _index_all
from .linalg import *  # noqa: F401,F403
from .linalg import __all__ as _linalg_all
from .random import *  # noqa: F401,F403
from .random import __all__ as _random_all
from .rearrange import *  # noqa: F401,F403
from .rearrange import __all__ as _rearrange_all
from .reduce import *  # noqa: F401,F403
from .reduce import __all__ as _reduce_all
from .shape import *  # noqa: F401,F403
from .shape import __all__ as _shape_all

__all__ = [
    "Op", "as_variable", "broadcast_shapes", "broadcast_to", "cast_to", "normalize_axis",
    "load_inline", "result_dtype", "tensor", "unify", "stop_gradient", "arange", "dim", "eye", "full",
    "full_like", "ones", "ones_like", "zeros", "zeros_like", "empty", "empty_like", "linspace",
    *_ew_all, *_index_all, *_linalg_all, *_random_all, *_rearrange_all, *_reduce_all, *_shape_all,
]
