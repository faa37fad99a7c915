"""Keras itself as the reference that `theon convert --check` compares an imported model
with (an optional dependency, imported only when a check asks for it)."""
from __future__ import annotations

import os

import numpy as np

from .errors import KerasError

__all__ = ["keras_outputs"]


def keras_outputs(path, xs: list) -> tuple:
    """(Keras' version, the outputs of the model in `path` on inputs `xs`, given in theon's
    layouts (images channels-first) and returned in theon's)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras  # optional: the check against Keras needs it installed
    except ImportError:
        raise KerasError("the check against Keras needs it installed: pip install keras") from None
    model = keras.models.load_model(path, compile=False, safe_mode=True)
    ins = [np.moveaxis(x, 1, -1) if x.ndim >= 4 else x for x in xs]
    outs = model.predict(ins if len(ins) > 1 else ins[0], verbose=0)
    outs = outs if isinstance(outs, list) else [outs]
    return keras.__version__, [np.moveaxis(np.asarray(o), -1, 1) if np.ndim(o) >= 4 else np.asarray(o)
                               for o in outs]
