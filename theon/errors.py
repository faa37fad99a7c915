"""theon's exceptions. Each one that concerns a graph node names the user's source line."""


class TheonError(Exception):
    """Base class of every error theon raises on purpose."""


class ShapeError(TheonError, ValueError):
    """Shapes that can never fit, found when the graph is built or specialised."""


class DTypeError(TheonError, TypeError):
    """A dtype an operator or function cannot take."""


class InputError(TheonError, TypeError):
    """A compiled function was called with arguments that contradict its inputs."""


class GradientError(TheonError, ValueError):
    """A gradient that is undefined or was asked for in a way that cannot work."""


class KernelError(TheonError, RuntimeError):
    """A kernel failed at run time; the message names the op, input shapes and user line."""


class NonFiniteError(TheonError, FloatingPointError):
    """With the NaN guard on, the first op whose output holds a NaN or an infinity."""


class AxisError(ShapeError, IndexError):
    """An axis out of range for a tensor's rank. Like NumPy's AxisError it is a ValueError
    and an IndexError; it is also a ShapeError, so `except ShapeError` still catches it."""


class TensorIndexError(ShapeError, IndexError):
    """An index that does not fit a tensor: out of bounds for its axis (`x[5]` on length 3)
    or more indices than dims. An IndexError, as in NumPy and the Array API, and a ShapeError."""
