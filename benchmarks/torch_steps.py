"""PyTorch's contenders: eager, torch.compile (default mode, and reduce-overhead on CUDA),
and for the LSTM also an eager LSTMCell loop. Each holds theon's initial weights and the
same optimiser, and offers the interface of theon_steps (`first`, `step`, `check`).

Training compiles the loss function (forward and, through AOTAutograd, its backward); the
optimiser step stays eager, torch's defaults (`foreach` where torch picks it).
"""
from __future__ import annotations

import importlib

import torch
import torch._dynamo  # torch.optim imports it when the first optimiser is built
import torch.nn.functional as F
from torch import nn

from .workloads import EMBED, HIDDEN, VOCAB, Workload


class LanguageModel(nn.Module):
    """Embedding, one LSTM layer over (batch, time) tokens, a linear output per step."""

    def __init__(self, cell_loop: bool = False):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, EMBED)
        self.cell_loop = cell_loop
        self.rnn = nn.LSTMCell(EMBED, HIDDEN) if cell_loop else nn.LSTM(EMBED, HIDDEN, batch_first=True)
        self.out = nn.Linear(HIDDEN, VOCAB)

    def forward(self, tokens):
        x = self.embed(tokens)
        if self.cell_loop:
            h = c = x.new_zeros(x.shape[0], HIDDEN)
            hs = []
            for t in range(x.shape[1]):
                h, c = self.rnn(x[:, t], (h, c))
                hs.append(h)
            hs = torch.stack(hs, 1)
        else:
            hs, _ = self.rnn(x)
        return self.out(hs)


def _layers(workload: Workload, cell_loop: bool = False) -> nn.Module:
    if workload.model == "lenet":
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
                             nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
                             nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    if workload.model == "mlp":
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
    return LanguageModel(cell_loop)


def parameter_names(workload: Workload, m: nn.Module) -> list:
    """(theon's weight name, the torch parameter holding it, whether theon's is its transpose)."""
    if workload.model == "lstm":
        suffix = "" if m.cell_loop else "_l0"  # theon's LSTM holds torch's tensors 1:1
        return [("embed/embeddings", m.embed.weight, False),
                *((f"lstm/{key}", getattr(m.rnn, key + suffix), False)
                  for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")),
                ("out/kernel", m.out.weight, True), ("out/bias", m.out.bias, False)]
    layers = {"lenet": ((0, "conv1"), (3, "conv2"), (7, "dense1"), (9, "dense2"), (11, "dense3")),
              "mlp": ((0, "dense1"), (2, "dense2"), (4, "dense3"))}[workload.model]
    out = []
    for i, name in layers:
        dense = isinstance(m[i], nn.Linear)  # theon's Dense kernel is (in, out); convolutions agree
        out += [(f"{name}/kernel", m[i].weight, dense), (f"{name}/bias", m[i].bias, False)]
    return out


def torch_model(workload: Workload, weights: dict, cell_loop: bool = False) -> nn.Module:
    """The workload's model as torch modules, holding theon's `weights`."""
    m = _layers(workload, cell_loop)
    with torch.no_grad():
        for name, param, transposed in parameter_names(workload, m):
            value = torch.from_numpy(weights[name].copy())
            param.copy_(value.T if transposed else value)
    return m


def torch_optimizer(workload: Workload, params):
    if workload.optimizer == "sgd-momentum":
        return torch.optim.SGD(params, lr=workload.lr, momentum=0.9)
    if workload.optimizer == "adam":
        return torch.optim.Adam(params, lr=workload.lr)
    return torch.optim.SGD(params, lr=workload.lr)


class TorchStep:
    """One PyTorch contender. mode: None (eager), "default" or "reduce-overhead" (torch.compile)."""

    def __init__(self, workload: Workload, weights: dict, device: str, mode=None, cell_loop=False):
        self.workload, self.mode = workload, mode
        self.model = torch_model(workload, weights, cell_loop).to(device)
        classes = workload.classes
        if workload.train:
            self.opt = torch_optimizer(workload, self.model.parameters())
            model = self.model

            def loss_fn(x, y):
                return F.cross_entropy(model(x).reshape(-1, classes), y.reshape(-1))
            self.fn = loss_fn if mode is None else torch.compile(loss_fn, mode=mode)
        else:
            self.model.eval()
            self.fn = self.model if mode is None else torch.compile(self.model, mode=mode)

    def step(self, x, y):
        if self.mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()  # the last step's outputs may be overwritten
        if not self.workload.train:
            with torch.inference_mode():
                return self.fn(x)
        self.opt.zero_grad(set_to_none=True)
        loss = self.fn(x, y)
        loss.backward()
        self.opt.step()
        return loss.detach()

    def first(self, x, y):
        return self.check(self.step(x, y))

    def check(self, out):
        return float(out) if self.workload.train else out.float().cpu().numpy()

    def weights(self) -> dict:
        """The model's weights now, under theon's names and layouts."""
        return {name: (p.detach().T if transposed else p.detach()).cpu().numpy().copy()
                for name, p, transposed in parameter_names(self.workload, self.model)}


def prepare(framework: str) -> None:
    """Import what a contender would import on its first step (torch.compile's compiler):
    start-up costs, not the step's."""
    if framework.startswith("torch-compile"):
        importlib.import_module("torch._inductor.compile_fx")


def build(framework: str, workload: Workload, weights: dict, device: str) -> TorchStep:
    mode = {"torch-eager": None, "torch-lstmcell": None, "torch-compile": "default",
            "torch-compile-reduce-overhead": "reduce-overhead"}[framework]
    return TorchStep(workload, weights, device, mode, cell_loop=framework == "torch-lstmcell")
