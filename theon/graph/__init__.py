"""The graph: types, variables, nodes, traversal. Knows nothing about ops or compilation."""
from .basic import Constant, Node, Variable, apply, constant
from .inner import InnerGraph
from .shared import Shared, shared
from .source import SourceLoc, current_scope, located, scope, user_location
from .traverse import ancestors, clone, depends_on, graph_inputs, rebuild, replace, toposort
from .types import TensorType, canonical_dtype, default_dtype, format_shape, is_float, is_int, shapes_agree
from .verify import verify

__all__ = [
    "Constant", "InnerGraph", "Node", "Variable", "apply", "constant", "Shared", "shared", "SourceLoc", "current_scope", "located", "scope",
    "user_location", "ancestors", "clone", "depends_on", "graph_inputs", "rebuild", "replace", "toposort",
    "TensorType", "canonical_dtype", "format_shape", "shapes_agree", "is_float", "is_int", "verify",
]
