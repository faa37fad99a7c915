"""What the generated conv+ReLU+max-pool kernels (theon/codegen/conv_pool.py) buy over the
unfused kernels (oneDNN's convolution with ReLU, ATen's pool, scatter and convolution
backward), layer by layer: LeNet-5's two layers at batch 64 and 256.

    python -m benchmarks.conv_pool [--rounds 15] [--threads N] [--batches 64,256]

For each layer and batch: the forward (pooled values; with the argmax a training step
needs) and the gradients from the pooled gradient (the first layer's weights and bias; the
second layer's input too), generated against unfused in alternating windows
(benchmarks/harness.py); ratios above 1 mean the generated kernel is faster. The kernels are
built first (the build's time is printed; a later run loads them from the disk cache).
"""
from __future__ import annotations

import argparse
import time

import torch

from benchmarks.harness import alternate_calls, row
from theon import config
from theon.codegen import cache
from theon.codegen.conv_pool import (ConvReluPool, ConvReluPoolBackward, ConvReluPoolBackwardWithInput,
                                     ConvReluPoolWithIndices, built)

# (label, x shape without the batch, w shape, padding, the gradient op)
LAYERS = [("LeNet conv1 1->6 5x5", (1, 28, 28), (6, 1, 5, 5), (2, 2), ConvReluPoolBackward),
          ("LeNet conv2 6->16 5x5", (6, 14, 14), (16, 6, 5, 5), (0, 0), ConvReluPoolBackwardWithInput)]
POOL = (2, 2)


def _generated(op, x, w):
    """The op's built function, taking what its `unfused` takes (after waiting for the build)."""
    if built(op, x.shape, w.shape, op.function) is None:
        cache.wait()
    fn = built(op, x.shape, w.shape, op.function)
    if fn is None:
        raise SystemExit("the generated kernel did not build (is ninja or a C++ compiler missing?)")
    return op.adapt(fn)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--batches", default="64,256")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config.CODEGEN = "auto"
    print(f"torch threads: {torch.get_num_threads()}; generated / unfused, median [quartiles] of "
          f"{args.rounds} alternating rounds (above 1: generated faster)")
    for label, x_shape, w_shape, padding, gradient in LAYERS:
        gen = torch.Generator().manual_seed(0)
        w = torch.randn(w_shape, generator=gen) * 0.2
        b = torch.randn(w_shape[0], generator=gen) * 0.1
        start = time.perf_counter()
        ops = [ConvReluPool(padding, POOL), ConvReluPoolWithIndices(padding, POOL), gradient(padding, POOL)]
        fns = [_generated(op, torch.zeros(1, *x_shape), w) for op in ops]
        print(f"\n{label}: kernels ready in {time.perf_counter() - start:.1f} s")
        for batch in (int(n) for n in args.batches.split(",")):
            x = torch.randn(batch, *x_shape, generator=gen)
            pooled, idx = fns[1](x, w, b, True)
            g = torch.randn(pooled.shape, generator=gen)
            calls = [("forward", ops[0], fns[0], (x, w, b, False)),
                     ("forward with argmax", ops[1], fns[1], (x, w, b, True)),
                     (gradient.name.replace("conv_relu_pool_", ""), ops[2], fns[2], (g, pooled, idx, x, w))]
            for what, op, fn, call_args in calls:
                def generated(fn=fn, call_args=call_args):
                    return fn(*call_args)

                def unfused(op=op, call_args=call_args):
                    return op.unfused(*call_args)
                generated()
                unfused()
                per_round = 5
                times = alternate_calls({"generated": generated, "unfused": unfused}, args.rounds, per_round)
                print(row(f"  batch {batch:>3} {what}", times["generated"], times["unfused"], per_round,
                          unit=1e-3, unit_name="ms", peer="unfused"))


if __name__ == "__main__":
    main()
