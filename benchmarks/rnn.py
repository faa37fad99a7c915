"""LSTM language-model training step: theon's scan against PyTorch eager, in one run.

    python -m benchmarks.rnn [--device cpu|cuda] [--steps 20]

Vocabulary 1,000, embedding 64, hidden 128, 35 time steps, batch 32, full back-propagation
through time, SGD. theon runs one compiled function (forward scan, reverse scan, updates);
the peers are a PyTorch eager loop over nn.LSTMCell and the fused torch.nn.LSTM (cuDNN on
GPU, oneDNN/ATen on CPU), both with torch.autograd. Same initial weights and batches.
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

import theon as th

VOCAB, EMB, HID, STEPS, BATCH = 1000, 64, 128, 35, 32


def init_weights(seed=0):
    rng = np.random.default_rng(seed)
    s = 1 / np.sqrt(HID)
    return {
        "emb": rng.standard_normal((VOCAB, EMB)).astype("float32") * 0.1,
        "w_ih": rng.uniform(-s, s, (4 * HID, EMB)).astype("float32"),
        "w_hh": rng.uniform(-s, s, (4 * HID, HID)).astype("float32"),
        "b": rng.uniform(-s, s, (4 * HID,)).astype("float32"),
        "w_out": rng.uniform(-s, s, (VOCAB, HID)).astype("float32"),
        "b_out": np.zeros(VOCAB, "float32"),
    }


def theon_step(weights, lr, device):
    p = {k: th.shared(v, name=k, device=device) for k, v in weights.items()}
    tokens = th.tensor("tokens", (STEPS, BATCH), "int64")
    targets = th.tensor("targets", (STEPS, BATCH), "int64")
    x = th.nn.embedding(tokens, p["emb"])                       # (T, B, E)
    xw = x @ p["w_ih"].T + p["b"]                                # input projection, all steps at once

    def cell(carry, xt):
        h, c = carry
        gates = xt + h @ p["w_hh"].T
        i, f, g, o = th.split(gates, 4, axis=1)
        c = th.sigmoid(f) * c + th.sigmoid(i) * th.tanh(g)
        h = th.sigmoid(o) * th.tanh(c)
        return (h, c), h

    zeros = th.zeros((BATCH, HID))
    _, hs = th.scan(cell, init=(zeros, zeros), xs=xw)
    logits = hs @ p["w_out"].T + p["b_out"]                      # (T, B, V)
    loss = th.nn.cross_entropy(logits.reshape((STEPS * BATCH, VOCAB)), targets.reshape((STEPS * BATCH,))).mean()
    params = list(p.values())
    grads = th.grad(loss, params)
    return th.function([tokens, targets], loss, updates=[(w, w - lr * g) for w, g in zip(params, grads)],
                       device=device, keep_on_device=True)


class CellModel(torch.nn.Module):  # the peers (benchmarks may use torch.nn freely)
    def __init__(self, weights, fused):
        super().__init__()
        self.emb = torch.nn.Embedding(VOCAB, EMB)
        self.fused = fused
        self.rnn = torch.nn.LSTM(EMB, HID) if fused else torch.nn.LSTMCell(EMB, HID)
        self.out = torch.nn.Linear(HID, VOCAB)
        with torch.no_grad():
            self.emb.weight.copy_(torch.from_numpy(weights["emb"]))
            suffix = "_l0" if fused else ""
            getattr(self.rnn, "weight_ih" + suffix).copy_(torch.from_numpy(weights["w_ih"]))
            getattr(self.rnn, "weight_hh" + suffix).copy_(torch.from_numpy(weights["w_hh"]))
            getattr(self.rnn, "bias_ih" + suffix).copy_(torch.from_numpy(weights["b"]))
            getattr(self.rnn, "bias_hh" + suffix).zero_()
            self.out.weight.copy_(torch.from_numpy(weights["w_out"]))
            self.out.bias.zero_()

    def forward(self, tokens):
        x = self.emb(tokens)
        if self.fused:
            hs, _ = self.rnn(x)
        else:
            h = c = torch.zeros(BATCH, HID, device=x.device)
            out = []
            for t in range(STEPS):
                h, c = self.rnn(x[t], (h, c))
                out.append(h)
            hs = torch.stack(out)
        return self.out(hs)


def torch_step(weights, lr, device, fused):
    model = CellModel(weights, fused).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def step(tokens, targets):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(tokens).reshape(-1, VOCAB), targets.reshape(-1))
        loss.backward()
        opt.step()
        return loss.detach()
    return step


WARMUP = 3


def measure(step, batches, sync):
    start = time.perf_counter()
    losses = [step(*batches[0])]
    sync()
    first_s = time.perf_counter() - start
    losses += [step(*b) for b in batches[1:WARMUP]]
    sync()
    start = time.perf_counter()
    for b in batches[WARMUP:]:
        losses.append(step(*b))
    sync()
    per_step = (time.perf_counter() - start) / (len(batches) - WARMUP)
    return first_s, per_step, [float(l) for l in losses]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=15)
    args = parser.parse_args(argv)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    rng = np.random.default_rng(1)
    np_batches = [(rng.integers(0, VOCAB, (STEPS, BATCH)), rng.integers(0, VOCAB, (STEPS, BATCH)))
                  for _ in range(args.steps)]
    batches = [tuple(torch.from_numpy(a).to(dev) for a in b) for b in np_batches]
    weights = init_weights()
    print(f"LSTM LM step (vocab {VOCAB}, emb {EMB}, hidden {HID}, {STEPS} steps, batch {BATCH}) on {dev}")
    rows = {}
    for name, make in (("theon scan", lambda: theon_step(weights, 0.5, args.device)),
                       ("torch LSTMCell loop", lambda: torch_step(weights, 0.5, dev, False)),
                       ("torch nn.LSTM", lambda: torch_step(weights, 0.5, dev, True))):
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        first, per, losses = measure(make(), batches, sync)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
        rows[name] = (first, per, losses)
        print(f"{name:<22} {BATCH / per:9.1f} sequences/s   step {per * 1e3:7.2f} ms   "
              f"first step {first * 1e3:8.1f} ms   maxrss growth {rss / 1024:7.1f} MiB")
    base = rows["theon scan"][1]
    for name in ("torch LSTMCell loop", "torch nn.LSTM"):
        print(f"theon speed / {name}: {rows[name][1] / base:5.2f}x")
    drift = max(abs(a - b) for a, b in zip(rows["theon scan"][2], rows["torch nn.LSTM"][2]))
    print(f"max loss difference theon vs torch over {args.steps} steps: {drift:.2e}")


if __name__ == "__main__":
    main()
