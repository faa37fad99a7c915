"""Converters from ONNX ops to theon graphs, one module per family. A converter takes a
NodeContext (inputs, attributes, opset) and returns the node's outputs as theon variables."""
from __future__ import annotations

REGISTRY: dict = {}


def converter(*names, domain: str = ""):
    """Register the decorated function as the converter of ONNX ops `names`."""
    def deco(fn):
        for name in names:
            REGISTRY[(domain, name)] = fn
        return fn
    return deco


def lookup(domain: str, op_type: str):
    return REGISTRY.get((domain, op_type))


def convert(ctx) -> list:
    out = REGISTRY[(ctx.node.domain, ctx.node.op_type)](ctx)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def supported_ops() -> list:
    """The ONNX op types theon imports (default domain unless prefixed)."""
    return sorted(n if not d else f"{d}.{n}" for d, n in REGISTRY)


from . import (  # noqa: E402,F401
    attention,
    control,
    elementwise,
    grid_sample,
    losses,
    nn,
    quantized,
    reduce,
    rnn,
    sequence_models,  # (importing registers them)
    shape,
    tensor_misc,
)
