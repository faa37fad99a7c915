"""theon's contenders: the Keras-style step (`Model.fit` / `Model.predict`) and the same
computation written by hand in one `th.function`, plus the initial weights every framework
starts from.

A contender is built from (workload, initial weights, device) and offers `first(x, y)` (the
first step, done the way a user would), `step(x, y)` (one later step; returns what the step
returned) and `check(out)` (the loss as a float, or the output as an array), with batches as
torch tensors on the device.
"""
from __future__ import annotations

import theon as th
from theon import nn
from theon.codegen import cache as codegen_cache

from .workloads import EMBED, HIDDEN, TIME_STEPS, VOCAB, Workload


def keras_model(workload: Workload) -> nn.Sequential:
    """The workload's model in theon's layer API, initialised from seed 0."""
    if workload.model == "lenet":
        layers = [nn.Conv2D(6, 5, padding="same", activation="relu", name="conv1"), nn.MaxPool2D(2),
                  nn.Conv2D(16, 5, activation="relu", name="conv2"), nn.MaxPool2D(2), nn.Flatten(),
                  nn.Dense(120, activation="relu", name="dense1"), nn.Dense(84, activation="relu", name="dense2"),
                  nn.Dense(10, name="dense3")]
        return nn.Sequential(layers, input_shape=workload.x_shape, seed=0)
    if workload.model == "mlp":
        layers = [nn.Dense(512, activation="relu", name="dense1"), nn.Dense(512, activation="relu", name="dense2"),
                  nn.Dense(10, name="dense3")]
        return nn.Sequential(layers, input_shape=workload.x_shape, seed=0)
    layers = [nn.Embedding(VOCAB, EMBED, name="embed"), nn.LSTM(HIDDEN, return_sequences=True, name="lstm"),
              nn.Dense(VOCAB, name="out")]
    return nn.Sequential(layers, input_shape=workload.x_shape, dtype="int64", seed=0)


def initial_weights(workload: Workload) -> dict:
    """name -> NumPy array: the weights every contender of `workload` starts from."""
    return keras_model(workload).get_weights()


def optimizer(workload: Workload):
    if workload.optimizer == "sgd-momentum":
        return th.optim.SGD(workload.lr, momentum=0.9)
    if workload.optimizer == "adam":
        return th.optim.Adam(workload.lr)
    return th.optim.SGD(workload.lr)


def lm_loss(y_pred, y):
    """Per-sequence loss, as Keras losses are per example: the mean cross-entropy of its
    (time, vocabulary) logits against its tokens (the batch's mean is then the mean over
    every token, torch's F.cross_entropy)."""
    tokens = th.nn.cross_entropy(y_pred.reshape((-1, VOCAB)), y.reshape((-1,)))
    return tokens.reshape((-1, TIME_STEPS)).mean(axis=1)


class ModelStep:
    """Keras-style: `Model.fit` on the first batch, then the step function fit built
    (`model.train_function`); for inference `Model.predict`, then `model.predict_function`."""

    def __init__(self, workload: Workload, weights: dict, device: str):
        self.workload = workload
        self.model = keras_model(workload)
        self.model.set_weights(weights)
        loss = lm_loss if workload.model == "lstm" else "cross_entropy"
        self.model.compile(optimizer(workload), loss, [], device=device)
        self.fn = None

    def first(self, x, y):
        xb, yb = x.cpu().numpy(), y.cpu().numpy()
        if self.workload.train:
            history = self.model.fit(xb, yb, epochs=1, batch_size=len(xb), shuffle=False, verbose=0)
            self.fn = self.model.train_function
            return float(history.history["loss"][0])
        out = self.model.predict(xb, batch_size=len(xb))
        self.fn = self.model.predict_function
        return out

    def step(self, x, y):
        return self.fn(x, y) if self.workload.train else self.fn(x)

    def check(self, out):
        # a training step returns the batch's loss first (with the metric sums after it)
        return float(out[0]) if self.workload.train else out.cpu().numpy()

    def weights(self) -> dict:
        return self.model.get_weights()


def _lenet(x, p):
    h = th.nn.max_pool2d(th.nn.relu(th.nn.conv2d(x, p["conv1/kernel"], p["conv1/bias"], padding=2)), 2)
    h = th.nn.max_pool2d(th.nn.relu(th.nn.conv2d(h, p["conv2/kernel"], p["conv2/bias"])), 2)
    h = h.reshape((-1, 16 * 5 * 5))
    h = th.nn.relu(h @ p["dense1/kernel"] + p["dense1/bias"])
    h = th.nn.relu(h @ p["dense2/kernel"] + p["dense2/bias"])
    return h @ p["dense3/kernel"] + p["dense3/bias"]


def _mlp(x, p):
    h = th.nn.relu(x @ p["dense1/kernel"] + p["dense1/bias"])
    h = th.nn.relu(h @ p["dense2/kernel"] + p["dense2/bias"])
    return h @ p["dense3/kernel"] + p["dense3/bias"]


def _lstm_lm(tokens, p):
    """Embedding, an LSTM written as a th.scan cell (torch's gate order i, f, g, o), and the
    output projection; logits (time, batch, vocabulary)."""
    x = th.nn.embedding(tokens.T, p["embed/embeddings"])             # (T, B, E), time-major
    xw = x @ p["lstm/weight_ih"].T + (p["lstm/bias_ih"] + p["lstm/bias_hh"])  # all steps at once
    w_hh = p["lstm/weight_hh"]

    def cell(carry, xt):
        h, c = carry
        i, f, g, o = th.split(xt + h @ w_hh.T, 4, axis=1)
        c = th.sigmoid(f) * c + th.sigmoid(i) * th.tanh(g)
        h = th.sigmoid(o) * th.tanh(c)
        return (h, c), h

    zeros = th.zeros((tokens.shape[0], HIDDEN))
    _, hs = th.scan(cell, init=(zeros, zeros), xs=xw)                # (T, B, H)
    return hs @ p["out/kernel"] + p["out/bias"]


class FunctionStep:
    """The workload's step written with the core API: one th.function per contender."""

    def __init__(self, workload: Workload, weights: dict, device: str, cuda_graph=None):
        self.workload = workload
        self.params = p = {k: th.shared(v, name=k, device=device) for k, v in weights.items()}
        if workload.model == "lstm":
            x = th.tensor("tokens", (workload.batch, TIME_STEPS), "int64")
            y = th.tensor("targets", (workload.batch, TIME_STEPS), "int64")
            logits = _lstm_lm(x, p)
            loss = th.nn.cross_entropy(logits.reshape((-1, VOCAB)), y.T.reshape((-1,))).mean()
        else:
            x = th.tensor("x", (None, *workload.x_shape))
            y = th.tensor("y", (None,), "int64")
            logits = (_lenet if workload.model == "lenet" else _mlp)(x, p)
            loss = th.nn.cross_entropy(logits, y).mean()
        if workload.train:
            params = list(p.values())
            updates = optimizer(workload).updates(params, th.grad(loss, params))
            self.fn = th.function([x, y], loss, updates=updates, device=device, keep_on_device=True,
                                  name="train_step", cuda_graph=cuda_graph)
        else:
            self.fn = th.function([x], logits, device=device, keep_on_device=True, name="predict_step",
                                  cuda_graph=cuda_graph)

    def first(self, x, y):
        return self.check(self.step(x, y))

    def step(self, x, y):
        return self.fn(x, y) if self.workload.train else self.fn(x)

    def check(self, out):
        return float(out) if self.workload.train else out.cpu().numpy()

    def weights(self) -> dict:
        return {k: p.get_value() for k, p in self.params.items()}


def settle() -> None:
    """Before timing: wait for the kernels theon generates in the background (a first
    build takes about a minute; later processes load it from disk), so the timed steps run
    what every step after the first minute of a training run runs. First-step times never
    wait."""
    codegen_cache.wait(900)


def prepare(framework: str) -> None:
    """Nothing to import: `import theon` loads all of it (the training loop included)."""


def build(framework: str, workload: Workload, weights: dict, device: str):
    return {"theon-model": ModelStep, "theon-function": FunctionStep}[framework](workload, weights, device)
