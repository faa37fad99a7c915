"""Export rules, one module per op family; importing this package registers them all."""
from . import constructors, control, elementwise, index, linalg, nn, rearrange, reduce, shape, user
