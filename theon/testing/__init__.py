"""Tools to test theon, and operators written with it: verify_grad, op-table types, a
reference evaluator."""
from .opinfo import Const, ErrorCase, OpInfo, Sample, integers, positive, rand
from .verify_grad import GradientCheckError, verify_grad

__all__ = ["Const", "ErrorCase", "OpInfo", "Sample", "integers", "positive", "rand",
           "GradientCheckError", "verify_grad"]
