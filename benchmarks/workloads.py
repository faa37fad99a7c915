"""The workloads `theon bench` measures, and their data.

Each workload is one training (or inference) step of a small model at a fixed batch size,
run by every contender from the same initial weights (theon's, copied into the peers) on
the same batches. The data are random (uniform images in [0, 1), uniform labels and
tokens) from a fixed seed: the kernels' speed does not depend on the pictures, and every
machine gets the same numbers to compare the losses on.

Contenders (framework ids):
- theon-model: the Keras-style step a user gets from `Model.fit` (training) or
  `Model.predict` (inference): the first step is that call itself, later ones call the step
  function it built (`model.train_function` / `model.predict_function`).
- theon-function: the same computation written by hand with the core API (`th.nn.conv2d`,
  `x @ W + b`, a `th.scan` LSTM cell, `th.grad`, the optimiser's `updates`) in one
  `th.function`.
- torch-eager: PyTorch eager (torch.nn modules, autograd, torch.optim); every ratio is taken
  against it.
- torch-compile: the same with the loss (training) or model (inference) under
  `torch.compile` (default mode); the optimiser stays eager.
- torch-compile-reduce-overhead: `torch.compile(mode="reduce-overhead")` (CUDA graphs), on
  CUDA only.
- torch-lstmcell: the LSTM workload as an eager Python loop over `torch.nn.LSTMCell`, the
  op-by-op recurrence that theon's scan competes with.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VOCAB, EMBED, HIDDEN, TIME_STEPS = 1000, 64, 128, 35  # the LSTM language model's sizes


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    model: str            # "lenet", "mlp" or "lstm"
    train: bool           # a training step (else an inference step)
    batch: int
    optimizer: str = ""   # "sgd-momentum", "adam" or "sgd"
    lr: float = 0.0
    unit: str = "examples"

    @property
    def x_shape(self) -> tuple:
        return {"lenet": (1, 28, 28), "mlp": (784,), "lstm": (TIME_STEPS,)}[self.model]

    @property
    def classes(self) -> int:
        return VOCAB if self.model == "lstm" else 10


WORKLOADS = {w.name: w for w in [
    Workload("lenet-train-64", "LeNet-5 training, batch 64, SGD (lr 0.01, momentum 0.9)", "lenet", True, 64,
             "sgd-momentum", 0.01),
    Workload("lenet-train-256", "LeNet-5 training, batch 256, SGD (lr 0.01, momentum 0.9)", "lenet", True, 256,
             "sgd-momentum", 0.01),
    Workload("lenet-infer-256", "LeNet-5 inference, batch 256", "lenet", False, 256),
    Workload("mlp-adam-128", "MLP 784-512-512-10 training, batch 128, Adam (lr 1e-3)", "mlp", True, 128,
             "adam", 1e-3),
    Workload("lstm-lm", f"LSTM language model training (vocabulary {VOCAB}, embedding {EMBED}, hidden "
             f"{HIDDEN}, {TIME_STEPS} steps), batch 32, SGD (lr 0.1)", "lstm", True, 32, "sgd", 0.1,
             unit="sequences"),
]}

THEON = ("theon-model", "theon-function")
PEERS = ("torch-compile", "torch-compile-reduce-overhead", "torch-lstmcell", "tensorflow", "jax")
REFERENCE = "torch-eager"


def labels(workload: Workload) -> dict:
    """framework id -> what the table calls it, for this workload."""
    if workload.model == "lstm":
        model, function = "theon nn.LSTM, Model.fit step", "theon th.scan cell, th.function"
    elif workload.train:
        model, function = "theon Model.fit step", "theon th.function (by hand)"
    else:
        model, function = "theon Model.predict step", "theon th.function (by hand)"
    eager = "torch eager nn.LSTM" if workload.model == "lstm" else "torch eager"
    return {"theon-model": model, "theon-function": function, REFERENCE: eager,
            "torch-compile": "torch.compile", "torch-compile-reduce-overhead": "torch.compile reduce-overhead",
            "torch-lstmcell": "torch eager LSTMCell loop"}


def applies(workload: Workload, peer: str, device: str) -> bool:
    """Whether `peer` is a contender of `workload` on `device`."""
    if peer == "torch-lstmcell":
        return workload.model == "lstm"
    if peer == "torch-compile-reduce-overhead":
        return device.startswith("cuda")  # CUDA graphs: nothing to capture on the CPU
    return True


def select(patterns) -> list:
    """The workloads named by `patterns`: a full name, or a prefix ending at a dash
    ('lenet' and 'lenet-train' select both LeNet training batch sizes), in table order."""
    chosen = set()
    for p in patterns:
        hits = [n for n in WORKLOADS if n == p or n.startswith(p + "-")]
        if not hits:
            raise ValueError(f"unknown workload {p!r}; choose from {', '.join(WORKLOADS)}")
        chosen.update(hits)
    return [WORKLOADS[n] for n in WORKLOADS if n in chosen]


def make_batches(workload: Workload, count: int, seed: int = 0) -> list:
    """`count` (x, y) NumPy batches: images or token rows, and integer targets."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        if workload.model == "lstm":
            x = rng.integers(0, VOCAB, (workload.batch, TIME_STEPS), dtype=np.int64)
            y = rng.integers(0, VOCAB, (workload.batch, TIME_STEPS), dtype=np.int64)
        else:
            x = rng.random((workload.batch, *workload.x_shape), dtype=np.float32)
            y = rng.integers(0, 10, workload.batch, dtype=np.int64)
        out.append((x, y))
    return out
