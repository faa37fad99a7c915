"""Every THEON_* environment flag, read once at import."""
import os


def _flag(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


DEVICE = _flag("THEON_DEVICE")                    # default device: 'cpu', 'cuda', 'cuda:N'
TRACE = _flag("THEON_TRACE") == "1"               # log every rewrite rule that fires
INPLACE = _flag("THEON_INPLACE", "1") == "1"      # let the compiler reuse dead buffers
NAN_GUARD = _flag("THEON_NAN_GUARD") == "1"     # check every op's output for NaN/inf (slow)
FUSED_OPTIMIZERS = _flag("THEON_FUSED_OPTIMIZERS", "1") == "1"  # one multi-tensor op per step
DIST_TIMEOUT = _flag("THEON_DIST_TIMEOUT", "300")      # seconds a collective may wait for the
#                                                   other ranks (theon.distributed)
FUSE = _flag("THEON_FUSE", "1") == "1"                  # fusion and layout rewrites (compile/passes/fuse.py)
HOIST_STATIC = _flag("THEON_HOIST_STATIC", "1") == "1"  # work on weights alone once per weight value
#                                                   in programs without updates (compile/hoist.py)
FUSED_RNN = _flag("THEON_FUSED_RNN", "1") == "1"        # LSTM/GRU layers as one fused op (control/rnn.py)
CACHE_DIR = _flag("THEON_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "theon")
#                                                   built extensions (th.ops.load_inline) live here
CODEGEN = _flag("THEON_CODEGEN", "auto")             # generated kernels: 'auto' those that are timed
#                                                   against ATen's before use (conv+ReLU+pool,
#                                                   codegen/conv_pool.py); 'cpp' also elementwise
#                                                   chains (C++ on the CPU, Triton on CUDA); 'off' none
CUDA_GRAPH = _flag("THEON_CUDA_GRAPH", "1") == "1"  # record CUDA functions' programs in CUDA graphs
#                                                   and replay them (compile/capture.py); no effect on the CPU
