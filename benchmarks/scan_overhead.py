"""Per-step cost of th.scan against the same loop run eagerly in PyTorch, in one run.

    python -m benchmarks.scan_overhead [--device cpu|cuda] [--steps 1000] [--rounds 15]

Body: h = tanh(h * 0.9 + x) on small tensors, so the numbers show the loop's own cost per
step over the body's kernels. Also the forward+backward (reverse scan) step cost against
torch.autograd over the eager loop. Timed in alternating windows (benchmarks/harness.py):
the speed ratio's median and quartiles over rounds.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

import theon as th
from benchmarks.harness import alternate_calls, row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=15, help="alternating rounds per comparison")
    args = parser.parse_args(argv)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    T, n = args.steps, args.size
    xs_np = np.random.default_rng(0).standard_normal((T, n)).astype("float32")
    xs = torch.from_numpy(xs_np).to(dev)

    seq = th.tensor("seq", (T, n))
    h0 = th.tensor("h0", (n,))
    last, _ = th.scan(lambda h, x: (th.tanh(h * 0.9 + x), None), init=h0, xs=seq)
    fwd = th.function([h0, seq], last, device=args.device, keep_on_device=True)
    bwd = th.function([h0, seq], th.grad(last.sum(), h0), device=args.device, keep_on_device=True)
    h_init = torch.zeros(n, device=dev)

    def eager_fwd():
        h = h_init
        for t in range(T):
            h = torch.tanh(h * 0.9 + xs[t])
        return h

    def eager_bwd():
        h0_ = h_init.clone().requires_grad_(True)
        h = h0_
        for t in range(T):
            h = torch.tanh(h * 0.9 + xs[t])
        return torch.autograd.grad(h.sum(), h0_)[0]

    np.testing.assert_allclose(fwd(h_init, xs).cpu().numpy(), eager_fwd().cpu().numpy(), rtol=1e-5)
    np.testing.assert_allclose(bwd(h_init, xs).cpu().numpy(), eager_bwd().cpu().numpy(), rtol=1e-4, atol=1e-6)
    print(f"scan of {T} steps, body tanh(h * 0.9 + x) on {n} floats, {dev}; times per loop step")
    for label, theon_fn, torch_fn in (("forward", lambda: fwd(h_init, xs), eager_fwd),
                                      ("forward + backward", lambda: bwd(h_init, xs), eager_bwd)):
        theon_fn(), torch_fn()  # warm up
        times = alternate_calls({"theon": theon_fn, "torch": torch_fn}, args.rounds, 1, sync)
        per_step = {k: [t / T for t in v] for k, v in times.items()}
        print(row(label, per_step["theon"], per_step["torch"], 1))


if __name__ == "__main__":
    main()
