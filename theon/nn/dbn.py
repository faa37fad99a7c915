"""A deep belief network: RBMs stacked and trained greedily, then turned into a classifier.

Layer i is an RBM trained (CD-k or PCD-k) on the hidden probabilities p(h|v) of layer i-1
for the data (Hinton, Osindero & Teh, 2006). `to_classifier` makes the usual discriminative
network from it: Dense(sigmoid) layers whose kernels and biases are the RBMs' W and hidden
biases, plus a new output Dense (logits): a Sequential, fine-tuned by back-propagation
with the same `compile`/`fit` as any model:

    clf = dbn.to_classifier(10)
    clf.compile(th.optim.SGD(0.05, momentum=0.9), "cross_entropy", ["accuracy"])
    clf.fit(x, y, epochs=20, batch_size=20)
"""
from __future__ import annotations

import numpy as np

from .layers_core import Dense, Flatten
from .model import Sequential
from .rbm import RBM

__all__ = ["DBN"]


class DBN:
    """RBMs of `hidden_sizes` stacked on `n_visible` inputs.

    seed: RBM i gets seed `seed + i` (its weights and its Gibbs draws). Other keyword
    arguments go to every RBM (initialisers, dtype).
    """

    def __init__(self, n_visible: int, hidden_sizes, seed: int = 0, name: str = "dbn", **rbm_kwargs):
        sizes = [int(h) for h in hidden_sizes]
        if not sizes:
            raise ValueError("DBN: give at least one hidden layer size")
        self.name = name
        self.n_visible = int(n_visible)
        self.hidden_sizes = sizes
        self.seed = int(seed)
        self.rbms = []
        n_in = self.n_visible
        for i, n_h in enumerate(sizes):
            self.rbms.append(RBM(n_h, n_visible=n_in, seed=self.seed + i, name=f"{name}_rbm{i + 1}",
                                 **rbm_kwargs))
            n_in = n_h

    def pretrain(self, x, epochs=5, batch_size: int = 64, optimizer=None, k: int = 1,
                 persistent: bool = False, init_visible_bias: bool = True, shuffle: bool = True,
                 verbose=0, callbacks=None) -> list:
        """Greedy layer-wise training on x (N, ...) in [0, 1]: RBM i on the hidden
        probabilities of RBM i-1, each with `RBM.fit`. epochs: an int or one per layer.
        optimizer: None (SGD(lr=0.1) per layer) or a zero-argument callable returning a fresh
        optimiser for each layer. verbose, callbacks: as fit's, for every layer. Returns the
        RBMs' History objects."""
        data = np.asarray(x).reshape(len(x), -1)
        per_layer = list(epochs) if isinstance(epochs, (list, tuple)) else [int(epochs)] * len(self.rbms)
        if len(per_layer) != len(self.rbms):
            raise ValueError(f"DBN.pretrain: {len(per_layer)} epoch counts for {len(self.rbms)} layers")
        histories = []
        for i, (rbm, n_epochs) in enumerate(zip(self.rbms, per_layer)):
            if init_visible_bias:
                rbm.init_visible_bias(data)
            opt = optimizer() if optimizer is not None else None
            rbm.compile(opt, k=k, persistent=persistent, pseudo_likelihood=False)
            histories.append(rbm.fit(data, epochs=n_epochs, batch_size=batch_size, shuffle=shuffle,
                                     seed=self.seed + i, verbose=verbose, callbacks=callbacks))
            if i + 1 < len(self.rbms):
                data = rbm.transform(data)
        return histories

    def transform(self, x) -> np.ndarray:
        """The top layer's hidden probabilities for x, propagated up through every RBM."""
        data = np.asarray(x).reshape(len(x), -1)
        for rbm in self.rbms:
            data = rbm.transform(data)
        return data

    def to_classifier(self, n_classes: int, input_shape=None, pretrained: bool = True,
                      name: str | None = None, seed: int | None = None) -> Sequential:
        """A Sequential of Dense(sigmoid) layers, one per RBM, initialised from the RBMs'
        W and hidden biases (Glorot-initialised when not `pretrained`: the same MLP from
        scratch), and an output Dense(n_classes) giving logits. input_shape: the input
        without the batch dim (e.g. (1, 28, 28): a Flatten comes first); default
        (n_visible,). seed: the layers' initialisation seed (default the DBN's)."""
        input_shape = (self.n_visible,) if input_shape is None else tuple(input_shape)
        if int(np.prod(input_shape)) != self.n_visible:
            raise ValueError(f"DBN.to_classifier: input_shape {input_shape} does not hold "
                             f"{self.n_visible} visible units")
        dtype = self.rbms[0].compute_dtype or "float32"
        layers = [Flatten()] if len(input_shape) != 1 else []
        hidden = [Dense(rbm.n_hidden, activation="sigmoid", dtype=dtype) for rbm in self.rbms]
        out = Dense(int(n_classes), dtype=dtype)
        model = Sequential(layers + hidden + [out], input_shape=input_shape, dtype=dtype,
                           name=name or f"{self.name}_{'classifier' if pretrained else 'mlp'}",
                           seed=self.seed if seed is None else seed)
        if pretrained:
            for dense, rbm in zip(hidden, self.rbms):
                dense.kernel.set_value(np.array(rbm.W.get_value()))
                dense.bias.set_value(np.array(rbm.hbias.get_value()))
        return model

    @property
    def params(self) -> list:
        return [p for rbm in self.rbms for p in rbm.params]

    def get_weights(self) -> dict:
        """Every RBM parameter by its full name ("dbn_rbm1/W", ...)."""
        return {p.name: np.array(p.get_value()) for p in self.params}

    def set_weights(self, weights: dict) -> None:
        by_name = {p.name: p for p in self.params}
        for key, value in weights.items():
            if key not in by_name:
                raise KeyError(f"DBN {self.name!r} has no parameter {key!r}; it has {sorted(by_name)}")
            by_name[key].set_value(np.asarray(value).astype(by_name[key].dtype))

    def __repr__(self):
        return f"<DBN {self.name!r}: {self.n_visible} -> {' -> '.join(map(str, self.hidden_sizes))}>"
