"""Neural-network operators (PyTorch functional semantics, NCHW), one file per kind:
nn_conv (linear, convolutions), nn_pool, nn_norm, nn_loss (softmax and losses),
nn_attention, nn_misc (embedding, dropout). `th.nn` re-exports these names."""
from .nn_attention import *  # noqa: F401,F403
from .nn_attention import __all__ as _attention_all
from .nn_conv import *  # noqa: F401,F403
from .nn_conv import __all__ as _conv_all
from .nn_loss import *  # noqa: F401,F403
from .nn_loss import __all__ as _loss_all
from .nn_misc import *  # noqa: F401,F403
from .nn_misc import __all__ as _misc_all
from .nn_norm import *  # noqa: F401,F403
from .nn_norm import __all__ as _norm_all
from .nn_pool import *  # noqa: F401,F403
from .nn_pool import __all__ as _pool_all

__all__ = [*_conv_all, *_pool_all, *_norm_all, *_loss_all, *_attention_all, *_misc_all]
