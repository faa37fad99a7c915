"""Per-step cost of th.scan against the same loop run eagerly in PyTorch, in one run.

    python -m benchmarks.scan_overhead [--device cpu|cuda] [--steps 1000]

Body: h = tanh(h * 0.9 + x) on small tensors, so the numbers show the loop's own cost per
step over the body's kernels. Also the forward+backward (reverse scan) step cost against
torch.autograd over the eager loop.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

import theon as th
from benchmarks.common import per_call


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
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
    rows = [("forward", lambda: (fwd(h_init, xs), sync()), lambda: (eager_fwd(), sync())),
            ("forward + backward", lambda: (bwd(h_init, xs), sync()), lambda: (eager_bwd(), sync()))]
    print(f"scan of {T} steps, body tanh(h * 0.9 + x) on {n} floats, {dev}")
    for label, theon_fn, torch_fn in rows:
        t_theon = per_call(theon_fn, number=3, repeat=5, warmup=1) / T
        t_torch = per_call(torch_fn, number=3, repeat=5, warmup=1) / T
        print(f"{label:<20} per step: theon {t_theon * 1e6:7.2f} us   torch eager {t_torch * 1e6:7.2f} us   "
              f"ratio {t_theon / t_torch:5.2f}")


if __name__ == "__main__":
    main()
