"""`th.callbacks`: the training callbacks, which live in `theon.nn.callbacks`."""
from .nn.callbacks import *  # noqa: F401,F403
from .nn.callbacks import __all__  # noqa: F401
