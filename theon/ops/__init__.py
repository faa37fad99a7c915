"""Every operator, one file per family. Importing this attaches Python operators to Variable."""
from . import operators  # noqa: F401  (attaches +, @, [] ... to Variable)
from .base import Op, as_variable, broadcast_shapes, cast_to, normalize_axis, result_dtype, tensor, unify
from .constructors import (arange, dim, empty, empty_like, eye, full, full_like, linspace, ones, ones_like,
                           zeros, zeros_like)
from .elementwise import *  # noqa: F401,F403
from .elementwise import __all__ as _ew_all
from .index import *  # noqa: F401,F403
from .index import __all__ as _index_all
from .linalg import *  # noqa: F401,F403
from .linalg import __all__ as _linalg_all
from .random import *  # noqa: F401,F403
from .random import __all__ as _random_all
from .reduce import *  # noqa: F401,F403
from .reduce import __all__ as _reduce_all
from .shape import *  # noqa: F401,F403
from .shape import __all__ as _shape_all

__all__ = [
    "Op", "as_variable", "broadcast_shapes", "cast_to", "normalize_axis", "result_dtype", "tensor",
    "unify", "arange", "dim", "empty", "empty_like", "eye", "full", "full_like", "linspace", "ones", "ones_like", "zeros",
    "zeros_like",
    *_ew_all, *_index_all, *_linalg_all, *_random_all, *_reduce_all, *_shape_all,
]
