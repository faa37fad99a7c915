"""Converters from ONNX ops to theon graphs, one module per family. A converter takes a
NodeContext (inputs, attributes, opset) and returns the node's outputs as theon variables."""
from __future__ import annotations

from .user import user_op_converter

REGISTRY: dict = {}


def converter(*names, domain: str = ""):
    """Register the decorated function as the converter of ONNX ops `names`."""
    def deco(fn):
        for name in names:
            REGISTRY[(domain, name)] = fn
        return fn
    return deco


def lookup(domain: str, op_type: str):
    """The converter of an ONNX op; in a custom domain, a `th.op` op that an imported module
    made with that domain and name (as th.onnx.export writes one)."""
    fn = REGISTRY.get((domain, op_type))
    if fn is None and domain:
        fn = user_op_converter(domain, op_type)
    return fn


def convert(ctx) -> list:
    out = lookup(ctx.node.domain, ctx.node.op_type)(ctx)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def supported_ops() -> list:
    """The ONNX op types theon imports (default domain unless prefixed)."""
    return sorted(n if not d else f"{d}.{n}" for d, n in REGISTRY)


from . import (  # noqa: E402,F401
    attention,
    control,
    deform_conv,
    elementwise,
    functions,
    grid_sample,
    losses,
    nn,
    pool_indices,
    quantized,
    reduce,
    roi_align,
    rnn,
    sequence_models,  # (importing registers them)
    shape,
    signal,
    tensor_misc,
    training,
    tree_ensemble,
)
