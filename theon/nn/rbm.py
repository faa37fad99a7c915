"""A Bernoulli-Bernoulli restricted Boltzmann machine trained by contrastive divergence.

Energy E(v, h) = -v.vbias - h.hbias - v W h, W shaped (n_visible, n_hidden). The free energy
F(v) = -v.vbias - sum_j softplus(v W + hbias)_j. CD-k and persistent CD (PCD) descend
mean F(v_data) - mean F(v_model) with v_model, the end of a k-step Gibbs chain (a th.scan
whose draws are the RNG ops), held constant by `stop_gradient`; its gradient is the
usual positive minus negative statistics, e.g. dW = -(v0' p(h|v0) - vk' p(h|vk)) / N.

Every sampling method takes optional `noise`: uniform draws u, with sample = (u < p), so a
test can feed the same numbers to a reference implementation. Without it the draws come
from th.bernoulli on the RBM's RandomState.

Training runs on the one loop every model uses (`Trainer`): the RBM's `train_step` is the
CD-k / PCD-k update (the chains are shared state the step updates), so `fit` takes
callbacks, resumes exactly from a checkpoint and never waits on the device per step:

    rbm.compile(th.optim.SGD(0.1, momentum=0.5), k=1, persistent=False)
    history = rbm.fit(x, epochs=5, batch_size=20)
"""
from __future__ import annotations

import numpy as np

from ..autodiff import grad
from ..errors import ShapeError
from ..graph import Shared, format_shape, shared
from ..ops import elementwise as ew
from ..ops.base import as_variable, tensor
from ..ops.gradient import stop_gradient
from ..ops.constructors import arange, zeros
from ..control import scan
from ..ops.random import RandomState, bernoulli, uniform
from ..optim import SGD
from . import initializers
from .layer import Layer
from .trainer import Trainer

__all__ = ["RBM"]


def _log_sigmoid(x):
    return -ew.softplus(-x)


def _bce_from_logits(logits, target):
    """Per-element binary cross-entropy -[t log s(z) + (1-t) log(1-s(z))], stably."""
    return ew.softplus(logits) - target * logits


class RBM(Layer, Trainer):
    """A Bernoulli-Bernoulli RBM; as a layer, it maps v (N, n_visible) to p(h=1|v).

    n_hidden: hidden units. n_visible: visible units (builds the parameters at once;
    otherwise the first call or training step builds them from the data).
    Parameters (th.shared, named "<name>/W", "<name>/vbias", "<name>/hbias"): W
    (n_visible, n_hidden) from `kernel_initializer` (default N(0, 0.01^2), as Hinton's
    guide), the biases from their initialisers (zeros).
    seed: seeds the weights and the RBM's own RandomState for Gibbs sampling; without it
    the weights follow th.seed's stream and draws use th's default RandomState.
    """

    def __init__(self, n_hidden: int, n_visible: int | None = None,
                 kernel_initializer=None, visible_bias_initializer="zeros",
                 hidden_bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if int(n_hidden) < 1:
            raise ValueError(f"RBM: n_hidden must be positive, got {n_hidden}")
        self.n_hidden = int(n_hidden)
        self.n_visible = None if n_visible is None else int(n_visible)
        self.kernel_initializer = initializers.get(
            kernel_initializer if kernel_initializer is not None else initializers.RandomNormal(0.0, 0.01))
        self.visible_bias_initializer = initializers.get(visible_bias_initializer)
        self.hidden_bias_initializer = initializers.get(hidden_bias_initializer)
        self.rng = RandomState(self.seed) if self.seed is not None else None
        self.persistent: Shared | None = None  # PCD's chain state (hidden samples)
        if self.n_visible is not None:
            self._build_for(self.dtype or "float32", (self.n_visible,))

    # ---- parameters ---------------------------------------------------------------------

    def build(self, input_shape):
        if len(input_shape) != 1 or input_shape[0] is None:
            raise ShapeError(f"layer {self.name!r} (RBM) needs inputs (N, n_visible) with n_visible "
                             f"known; got {format_shape((None, *input_shape))} (flatten images first)")
        n_visible = int(input_shape[0])
        if self.n_visible is not None and self.n_visible != n_visible:
            raise ShapeError(f"RBM {self.name!r} has {self.n_visible} visible units; got inputs "
                             f"{format_shape((None, *input_shape))}")
        self.n_visible = n_visible
        self.W = self.add_param("W", (n_visible, self.n_hidden), self.kernel_initializer)
        self.vbias = self.add_param("vbias", (n_visible,), self.visible_bias_initializer)
        self.hbias = self.add_param("hbias", (self.n_hidden,), self.hidden_bias_initializer)

    def _build_for(self, dtype, shape):
        self.compute_dtype = self.dtype or dtype
        self.input_shape = tuple(shape)
        self.build(self.input_shape)
        self.built = True

    def _ready(self, v):
        """v (N, n_visible) in the RBM's dtype, building the parameters on first use."""
        v = as_variable(v)
        if v.ndim != 2:
            raise ShapeError(f"RBM {self.name!r} takes (N, n_visible) inputs, got "
                             f"{format_shape(v.type.shape)}")
        if not self.built:
            self._build_for(v.dtype if v.dtype.startswith("float") else "float32", v.type.shape[1:])
        elif v.type.shape[1] not in (None, self.n_visible):
            raise ShapeError(f"RBM {self.name!r} has {self.n_visible} visible units; got inputs "
                             f"{format_shape(v.type.shape)}")
        return self.cast_input(v)

    def output_shape(self, input_shape):
        return (self.n_hidden,)

    def call(self, x, training=False):
        return self.hidden_probs(x)

    def get_config(self):
        return {**super().get_config(), "n_hidden": self.n_hidden, "n_visible": self.n_visible,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "visible_bias_initializer": initializers.serialize(self.visible_bias_initializer),
                "hidden_bias_initializer": initializers.serialize(self.hidden_bias_initializer)}

    def get_weights(self) -> dict:
        """{"W", "vbias", "hbias"} -> NumPy copies (keys without the layer name)."""
        self._require_built()
        return {k: np.array(p.get_value()) for k, p in zip(self._param_keys, self._params)}

    def set_weights(self, weights: dict) -> None:
        """Set parameters from a dict keyed "W"/"vbias"/"hbias" (or "<name>/W", ...)."""
        self._require_built()
        for key, value in weights.items():
            p = self.param(key.rsplit("/", 1)[-1])
            value = np.asarray(value)
            if value.shape != tuple(p.type.shape):
                raise ShapeError(f"RBM {self.name!r}: {key!r} has shape {value.shape}, the parameter "
                                 f"{format_shape(p.type.shape)}")
            p.set_value(value.astype(p.dtype))

    def init_visible_bias(self, x) -> None:
        """Set vbias to log(p / (1 - p)), p each pixel's mean in `x` (Hinton's guide, 8.1)."""
        self._require_built()
        p = np.clip(np.asarray(x, dtype=np.float64).reshape(len(x), -1).mean(0), 1e-3, 1 - 1e-3)
        self.vbias.set_value(np.log(p / (1 - p)).astype(self.vbias.dtype))

    def _require_built(self):
        if not self.built:
            raise ValueError(f"RBM {self.name!r} is not built: give n_visible= or use it on data first")

    # ---- conditionals and energies (symbolic) -----------------------------------------------

    def hidden_logits(self, v):
        return self._ready(v) @ self.W + self.hbias

    def hidden_probs(self, v):
        return ew.sigmoid(self.hidden_logits(v))

    def visible_logits(self, h):
        self._require_built()
        return self.cast_input(h) @ self.W.T + self.vbias

    def visible_probs(self, h):
        return ew.sigmoid(self.visible_logits(h))

    def free_energy(self, v):
        """F(v) per example, shape (N,)."""
        v = self._ready(v)
        return -(v @ self.vbias) - ew.softplus(v @ self.W + self.hbias).sum(axis=1)

    def _sample(self, p, noise):
        if noise is None:
            return bernoulli(p, rng=self.rng)
        return ew.cast(ew.less(self.cast_input(noise), p), p.dtype)

    def sample_h_given_v(self, v, noise=None):
        """(p(h=1|v), a sample of h)."""
        p = self.hidden_probs(v)
        return p, self._sample(p, noise)

    def sample_v_given_h(self, h, noise=None):
        """(p(v=1|h), a sample of v)."""
        p = self.visible_probs(h)
        return p, self._sample(p, noise)

    def gibbs_hvh(self, h, noise_v=None, noise_h=None):
        """One step h -> v -> h: (v_probs, v_sample, h_probs, h_sample)."""
        vp, vs = self.sample_v_given_h(h, noise_v)
        hp, hs = self.sample_h_given_v(vs, noise_h)
        return vp, vs, hp, hs

    def gibbs_vhv(self, v, noise_h=None, noise_v=None):
        """One step v -> h -> v: (h_probs, h_sample, v_probs, v_sample)."""
        hp, hs = self.sample_h_given_v(v, noise_h)
        vp, vs = self.sample_v_given_h(hs, noise_v)
        return hp, hs, vp, vs

    def gibbs_chain(self, h0, k: int = 1, noise=None):
        """k Gibbs steps h -> v -> h from hidden states h0, in one th.scan.

        Returns the chain's end (v_probs, v_sample, h_probs, h_sample). noise: optional
        (u_v, u_h) uniform arrays shaped (k, N, n_visible), (k, N, n_hidden), step t using
        u_v[t], u_h[t]; without it each step draws fresh numbers.
        """
        self._require_built()
        k = int(k)
        if k < 1:
            raise ValueError(f"RBM.gibbs_chain: k must be >= 1, got {k}")
        h0 = self.cast_input(h0)
        n = h0.shape[0]
        zv = zeros((n, self.n_visible), dtype=h0.dtype)  # the visible slots' initial values
        init = (zv, zv, h0, h0)                             # (v_probs, v_sample, h_probs, h_sample)

        def step(carry, u):
            uv, uh = (None, None) if u is None else u
            return self.gibbs_hvh(carry[3], uv, uh), None

        if noise is None:
            end, _ = scan(step, init, None, length=k)
        else:
            if len(noise) != 2:
                raise ValueError("RBM.gibbs_chain: noise must be a pair (u_v, u_h)")
            end, _ = scan(step, init, tuple(self.cast_input(u) for u in noise), length=k)
        return end

    def sample(self, v0, k: int = 1, noise_h0=None, noise=None):
        """A k-step chain started at visible v0: (v_probs, v_sample) at its end."""
        _, h0 = self.sample_h_given_v(v0, noise_h0)
        vp, vs, _, _ = self.gibbs_chain(h0, k, noise)
        return vp, vs

    # ---- learning -------------------------------------------------------------------------

    def cd_cost(self, v, k: int = 1, persistent: bool | Shared = False, noise_h0=None, noise=None):
        """(cost, chain_end, updates) of CD-k (or PCD-k when `persistent`).

        cost = mean F(v) - mean F(stop_gradient(v_model)), whose gradient is the CD update
        direction. The chain starts from h ~ p(h|v) (CD) or from the persistent hidden
        state (PCD: a th.shared, `persistent` itself or `self.persistent`), and `updates`
        moves that state to the chain's end. chain_end: (v_probs, v_sample, h_probs, h_sample).
        """
        v = self._ready(v)
        updates = []
        if persistent is not False and persistent is not None:
            state = persistent if isinstance(persistent, Shared) else self.persistent
            if state is None:
                raise ValueError("RBM.cd_cost: persistent=True needs a chain state; call "
                                 "rbm.make_persistent(n_chains) first")
            h0 = state
        else:
            _, h0 = self.sample_h_given_v(v, noise_h0)
        end = self.gibbs_chain(h0, k, noise)
        v_model = stop_gradient(end[1])
        cost = self.free_energy(v).mean() - self.free_energy(v_model).mean()
        if persistent is not False and persistent is not None:
            updates.append((h0, end[3]))
        return cost, end, updates

    def cd_grads(self, v, k: int = 1, persistent: bool | Shared = False, noise_h0=None, noise=None):
        """([dW, dvbias, dhbias], chain_end, updates): th.grad of `cd_cost`."""
        cost, end, updates = self.cd_cost(v, k, persistent, noise_h0, noise)
        return grad(cost, [self.W, self.vbias, self.hbias]), end, updates

    def make_persistent(self, n_chains: int) -> Shared:
        """The PCD chain state: a th.shared of hidden samples (n_chains, n_hidden), zeros
        to start (so the first negative samples come from p(v|h=0)); kept in `persistent`."""
        self._require_built()
        self.persistent = shared(np.zeros((int(n_chains), self.n_hidden), self.compute_dtype),
                                 name=f"{self.name}/persistent")
        return self.persistent

    # ---- monitoring (symbolic) --------------------------------------------------------------

    def pseudo_likelihood(self, v, index=None):
        """Stochastic pseudo-log-likelihood, a scalar: n_visible * mean over examples of
        log sigmoid(F(v with bit i flipped) - F(v)), one bit i per example. index: the bits
        (int, shape (N,)); default: drawn uniformly at random."""
        v = self._ready(v)
        n = v.shape[0]
        if index is None:
            u = uniform(size=(n,), dtype="float32", rng=self.rng)
            index = ew.cast(ew.floor(u * float(self.n_visible)), "int64")
            index = ew.minimum(index, self.n_visible - 1)  # guards a float32 rounding up to n
        flip = ew.cast(ew.equal(arange(self.n_visible)[None, :], index[:, None]), v.dtype)
        v_flip = v + flip - 2.0 * v * flip
        return float(self.n_visible) * _log_sigmoid(self.free_energy(v_flip) - self.free_energy(v)).mean()

    def reconstruction_cross_entropy(self, v):
        """Mean over examples of the summed binary cross-entropy between v and its mean-field
        reconstruction p(v|h = p(h|v))."""
        v = self._ready(v)
        return _bce_from_logits(self.visible_logits(self.hidden_probs(v)), v).sum(axis=1).mean()

    def reconstruction_error(self, v):
        """Mean squared error per pixel of the mean-field reconstruction."""
        v = self._ready(v)
        return ew.square(v - self.visible_probs(self.hidden_probs(v))).mean()

    # ---- training (the loop is Trainer's; the step is CD-k / PCD-k) ----------------------------

    def compile(self, optimizer=None, k: int = 1, persistent: bool = False, n_chains: int | None = None,
                pseudo_likelihood: bool = True, device=None):
        """Set up `fit`: one step is a CD-k (PCD-k when `persistent`) update by `optimizer`
        (a theon.optim optimiser, default SGD(lr=0.1)). persistent: PCD with `n_chains`
        chains (default: fit's batch size), updated in the same step. The step logs
        "recon_error", "recon_xent" and (when asked) "pseudo_likelihood" of the batch
        before the update."""
        k = int(k)
        if k < 1:
            raise ValueError(f"RBM.compile: k must be >= 1, got {k}")
        Trainer.compile(self, optimizer if optimizer is not None else SGD(lr=0.1), loss=None, device=device)
        self._cd = {"k": k, "persistent": bool(persistent), "n_chains": None if n_chains is None else int(n_chains),
                    "pseudo_likelihood": bool(pseudo_likelihood)}
        return self

    def get_compile_config(self) -> dict:
        return {**Trainer.get_compile_config(self), **self._cd}

    def input_array(self, x) -> np.ndarray:
        x = np.asarray(x)
        x = x.reshape(len(x), -1)
        if not self.built:
            self._build_for(self.dtype or "float32", (x.shape[1],))
        return x.astype(self.compute_dtype, copy=False)

    def batch_inputs(self, x, y):
        if y is not None:
            raise ValueError(f"RBM {self.name!r} trains on x alone (unsupervised); got targets y")
        return tensor("v", (None, self.n_visible), self.compute_dtype), None

    def _monitors(self, v) -> dict:
        logs = {"recon_error": self.reconstruction_error(v), "recon_xent": self.reconstruction_cross_entropy(v)}
        if self._cd["pseudo_likelihood"]:
            logs["pseudo_likelihood"] = self.pseudo_likelihood(v)
        return logs

    def train_step(self, v, y=None):
        """The monitors of the batch, and the CD-k / PCD-k updates of the parameters (and chains)."""
        cd = self._cd
        if cd["persistent"]:
            if cd["n_chains"] is None:
                raise ValueError("RBM: persistent=True needs n_chains (fit uses its batch size)")
            if self.persistent is None or self.persistent.type.shape[0] != cd["n_chains"]:
                self.make_persistent(cd["n_chains"])
        grads, _, chain_updates = self.cd_grads(v, cd["k"], persistent=cd["persistent"])
        params = [self.W, self.vbias, self.hbias]
        return self._monitors(v), list(self.optimizer.updates(params, grads)) + chain_updates

    def test_step(self, v, y=None):
        return self._monitors(v)

    def predict_step(self, v):
        return self.hidden_probs(v)

    def fit(self, x, y=None, epochs: int = 5, batch_size: int = 64, optimizer=None, k: int | None = None,
            persistent: bool | None = None, n_chains: int | None = None, pseudo_likelihood: bool | None = None,
            **fit_kwargs):
        """Train on binary (or [0, 1]) data x (N, n_visible, or images flattened to it) with
        Trainer.fit (callbacks, verbose, seed, resume_from, ... as for a model). Given any of
        optimizer, k, persistent, n_chains or pseudo_likelihood (or before any compile), it
        compiles first with them (see `compile`). Returns the History: each monitor, the
        mean over the epoch's examples, one value per epoch."""
        settings = {"optimizer": optimizer, "k": k, "persistent": persistent, "n_chains": n_chains,
                    "pseudo_likelihood": pseudo_likelihood}
        if not self._compiled or any(v is not None for v in settings.values()):
            self.compile(**{key: v for key, v in settings.items() if v is not None})
        if self._cd["persistent"] and self._cd["n_chains"] is None:
            self._cd["n_chains"] = int(batch_size)
        return Trainer.fit(self, x, y, epochs=epochs, batch_size=batch_size, **fit_kwargs)

    def transform(self, x, batch_size: int = 1024) -> np.ndarray:
        """p(h=1|v) for data x (N, n_visible), as NumPy (compiled once per RBM)."""
        self._require_built()
        return self.predict(x, batch_size=batch_size)
