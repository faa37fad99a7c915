"""LSTM language-model training step: theon against PyTorch eager, in one run.

    python -m benchmarks.rnn [--device cpu|cuda] [--steps 15] [--repeat 3]

Vocabulary 1,000, embedding 64, hidden 128, 35 time steps, batch 32, full back-propagation
through time, SGD. theon runs one compiled function per step in two forms: the fused `rnn`
op (what nn.LSTM builds: one oneDNN call each way on the CPU, cuDNN on GPU) and a
hand-written th.scan cell (forward scan, reverse scan). The peers are a PyTorch eager loop
over nn.LSTMCell and the fused torch.nn.LSTM, both with torch.autograd. Same initial
weights and batches. Each round times every variant once, in turn, so the machine's drift
hits all alike; ratios are per round.
"""
from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

import theon as th
from theon.control.rnn import rnn

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


def scan_lstm(p, x):
    """A hand-written th.scan cell: h for every step."""
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
    return hs


def fused_lstm(p, x):
    """The fused op nn.LSTM builds (b_hh zero: the scan has one bias)."""
    zeros = th.zeros((BATCH, HID))
    hs, _, _ = rnn("lstm", x, [zeros, zeros], p["w_ih"], p["w_hh"], p["b"], th.zeros((4 * HID,)))
    return hs


def theon_step(weights, lr, device, lstm):
    p = {k: th.shared(v, name=k, device=device) for k, v in weights.items()}
    tokens = th.tensor("tokens", (STEPS, BATCH), "int64")
    targets = th.tensor("targets", (STEPS, BATCH), "int64")
    x = th.nn.embedding(tokens, p["emb"])                       # (T, B, E)
    hs = lstm(p, x)
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


WARMUP = 2


def measure(steps: dict, batches, sync, repeat):
    """Per round, each variant's median step time: the variants take turns one step at a
    time, so the machine's drift hits all alike. Also every variant's losses."""
    losses = {name: [] for name in steps}
    rounds = []
    for _ in range(repeat):
        times = {name: [] for name in steps}
        for b in batches:
            for name, step in steps.items():
                sync()
                start = time.perf_counter()
                losses[name].append(float(step(*b)))
                sync()
                times[name].append(time.perf_counter() - start)
        rounds.append({name: float(np.median(t)) for name, t in times.items()})
    return rounds, losses


VARIANTS = {
    "theon fused rnn": lambda w, dev, tdev: theon_step(w, 0.5, dev, fused_lstm),
    "theon scan cell": lambda w, dev, tdev: theon_step(w, 0.5, dev, scan_lstm),
    "torch LSTMCell loop": lambda w, dev, tdev: torch_step(w, 0.5, tdev, False),
    "torch nn.LSTM": lambda w, dev, tdev: torch_step(w, 0.5, tdev, True),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    rng = np.random.default_rng(1)
    np_batches = [(rng.integers(0, VOCAB, (STEPS, BATCH)), rng.integers(0, VOCAB, (STEPS, BATCH)))
                  for _ in range(args.steps)]
    batches = [tuple(torch.from_numpy(a).to(dev) for a in b) for b in np_batches]
    weights = init_weights()
    print(f"LSTM LM step (vocab {VOCAB}, emb {EMB}, hidden {HID}, {STEPS} steps, batch {BATCH}) on {dev}, "
          f"{torch.get_num_threads()} threads")
    steps = {}
    for name, make in VARIANTS.items():  # build, then first step and warm-up, one at a time
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        steps[name] = make(weights, args.device, dev)
        steps[name](*batches[0])
        sync()
        first = time.perf_counter() - start
        for b in batches[1:WARMUP]:
            steps[name](*b)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
        print(f"{name:<20} first step (build included) {first * 1e3:7.1f} ms  maxrss growth {rss / 1024:6.1f} MiB")
    rounds, losses = measure(steps, batches[WARMUP:], sync, args.repeat)
    for r, per in enumerate(rounds, 1):
        eager = per["torch nn.LSTM"]
        print(f"[round {r}] " + "  ".join(f"{name} {per[name] * 1e3:.1f} ms" for name in VARIANTS))
        print(f"[round {r}] speed / torch nn.LSTM: " +
              "  ".join(f"{name} {eager / per[name]:.2f}x" for name in VARIANTS if name != "torch nn.LSTM"))
    n = min(len(v) for v in losses.values())
    drift = max(abs(a - b) for name in ("theon fused rnn", "theon scan cell")
                for a, b in zip(losses[name][:n], losses["torch nn.LSTM"][:n]))
    print(f"max loss difference theon vs torch nn.LSTM over {n} steps: {drift:.2e}")


if __name__ == "__main__":
    main()
