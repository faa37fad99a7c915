"""Generated kernels for chains of elementwise ops that ATen runs as separate kernels.

`chain.py` describes a chain (its ops, in order, over numbered inputs) independently of
any device; `cpp.py` turns it into C++ for the CPU and `triton.py` into Triton for CUDA;
`cache.py` builds them (C++ in a background thread, kept on disk) while `op.py`'s
`FusedElementwise` runs the chain's own ops until the built kernel is ready. The compiler's
`fuse_elementwise` pass (theon/compile/passes/) makes the `FusedElementwise` nodes.
"""
