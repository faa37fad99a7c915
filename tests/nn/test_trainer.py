"""The one training loop (theon.nn.trainer.Trainer): overridable steps, the RBM and the DBN's
classifier on it, no host reads per step, callbacks through their documented interface."""
import ast
from pathlib import Path

import numpy as np
import pytest
import torch

import theon as th
from theon import nn
from theon.nn.trainer import Trainer

NN = Path(th.nn.__file__).parent


def digits_mlp(seed=0):
    return nn.Sequential([nn.Flatten(), nn.Dense(16, activation="relu"), nn.Dense(10)],
                         input_shape=(1, 8, 8), seed=seed)


@pytest.fixture(scope="module")
def digits():
    return th.data.digits()


def binary_images(n, seed=0):
    return (np.random.default_rng(seed).random((n, 12)) < 0.3).astype("float32")


def test_models_and_rbms_share_one_trainer():
    assert issubclass(nn.Model, Trainer) and issubclass(nn.Sequential, Trainer) and issubclass(nn.RBM, Trainer)
    assert nn.Sequential.fit is Trainer.fit and nn.Model.evaluate is Trainer.evaluate
    assert nn.RBM.train_step is not Trainer.train_step  # the RBM's step is CD-k


def test_an_overridden_train_step_is_what_fit_compiles_and_runs(digits):
    (xtr, ytr), _ = digits

    class L2Model(nn.Sequential):
        """A penalty on the first kernel, logged as 'penalty', by overriding the step."""
        built_steps = 0

        def train_step(self, x, y):
            type(self).built_steps += 1
            y_pred = self(x, training=True)
            kernel = self.layers[1].kernel
            penalty = 1e-3 * th.sum(kernel * kernel)
            loss = self.compute_loss(y_pred, y) + penalty
            params = self.trainable_params
            updates = self.optimizer.updates(params, th.grad(loss, params))
            return {"loss": loss, "penalty": penalty}, updates

    model = L2Model([nn.Flatten(), nn.Dense(16, activation="relu"), nn.Dense(10)], input_shape=(1, 8, 8), seed=0)
    model.compile(th.optim.SGD(0.1), "cross_entropy", device="cpu")
    k0 = model.layers[1].kernel.get_value().astype(np.float64)
    history = model.fit(xtr[:64], ytr[:64], epochs=1, batch_size=64, verbose=0)  # one step
    assert history.history["penalty"] == [pytest.approx(1e-3 * (k0 ** 2).sum(), rel=1e-5)]
    history = model.fit(xtr[:256], ytr[:256], epochs=3, batch_size=64, verbose=0)
    assert L2Model.built_steps == 1 and model.train_function.compile_count == 1
    assert set(history.history) == {"loss", "penalty"} and len(history.history["penalty"]) == 3
    assert history.history["loss"][2] < history.history["loss"][0]


class _Reads:
    """Counts reads of tensor values on the host (tolist, item, float, numpy)."""

    def __init__(self, monkeypatch):
        self.count = 0
        for name in ("tolist", "item", "__float__", "numpy"):
            original = getattr(torch.Tensor, name)

            def counted(t, *a, _original=original, **k):
                self.count += 1
                return _original(t, *a, **k)
            monkeypatch.setattr(torch.Tensor, name, counted)


def _reads_during_fit(monkeypatch, fit, n_batches):
    reads = _Reads(monkeypatch)
    fit(n_batches)
    monkeypatch.undo()
    return reads.count


def test_no_host_read_per_step_in_model_rbm_and_dbn_fits(monkeypatch, digits):
    """Reads of device values per epoch do not grow with the number of steps."""
    (xtr, ytr), _ = digits

    def model_fit(n):
        model = digits_mlp()
        model.compile(th.optim.SGD(0.1), "cross_entropy", ["accuracy"], device="cpu")
        model.fit(xtr[:16 * n], ytr[:16 * n], epochs=1, batch_size=16, verbose=0)

    def rbm_fit(n):
        rbm = nn.RBM(5, n_visible=12, seed=0)
        rbm.fit(binary_images(16 * n), epochs=1, batch_size=16, k=2, persistent=True, verbose=0)

    def dbn_fine_tuning(n):
        dbn = nn.DBN(12, [6], seed=0)
        clf = dbn.to_classifier(3)
        clf.compile(th.optim.SGD(0.1), "cross_entropy", device="cpu")
        clf.fit(binary_images(16 * n), np.arange(16 * n) % 3, epochs=1, batch_size=16, verbose=0)

    for fit in (model_fit, rbm_fit, dbn_fine_tuning):
        few, many = _reads_during_fit(monkeypatch, fit, 2), _reads_during_fit(monkeypatch, fit, 12)
        assert few == many, (fit.__name__, few, many)


def test_rbm_fit_takes_callbacks_and_resumes_pcd_chains_exactly(tmp_path):
    x = binary_images(96)

    def run(epochs, resume=False, save=False):
        th.seed(0)
        rbm = nn.RBM(5, n_visible=12, seed=1, name="rbm")
        rbm.compile(th.optim.SGD(0.1, momentum=0.5), k=2, persistent=True, n_chains=16, device="cpu")
        cbs = [th.callbacks.ModelCheckpoint(tmp_path)] if save else []
        history = rbm.fit(x, epochs=epochs, batch_size=16, callbacks=cbs, verbose=0, seed=4,
                          resume_from=tmp_path if resume else None)
        return rbm, history

    straight, straight_history = run(2)
    run(1, save=True)
    resumed, resumed_history = run(2, resume=True)
    assert resumed_history.history == straight_history.history
    for name, value in straight.get_weights().items():
        np.testing.assert_array_equal(resumed.get_weights()[name], value)
    np.testing.assert_array_equal(resumed.persistent.get_value(), straight.persistent.get_value())
    assert set(resumed.evaluate(x)) == {"recon_error", "recon_xent", "pseudo_likelihood"}
    np.testing.assert_allclose(resumed.predict(x[:4]), resumed.transform(x[:4]))


def test_callbacks_see_only_their_documented_interface(digits, tmp_path):
    """A callback saves through model.save_checkpoint and keeps array state through
    get_state/set_state; a resumed run hands that state back."""
    (xtr, ytr), _ = digits

    class SnapshotFirstKernel(th.nn.callbacks.Callback):
        def __init__(self):
            self.snapshots = None
            self.restored = None

        def on_epoch_end(self, epoch, logs=None):
            kernel = self.model.get_weights()["dense_1/kernel"]
            self.snapshots = kernel[None] if self.snapshots is None else np.concatenate([self.snapshots, kernel[None]])
            self.model.save_checkpoint(tmp_path / "run", meta={"by": "snapshot"})

        def get_state(self):
            return {"epochs": len(self.snapshots), "snapshots": self.snapshots}

        def set_state(self, state):
            self.restored = state
            self.snapshots = state["snapshots"]

    model = digits_mlp()
    model.compile(th.optim.SGD(0.1), "cross_entropy", device="cpu")
    first = SnapshotFirstKernel()
    model.fit(xtr[:128], ytr[:128], epochs=2, batch_size=64, callbacks=[first], verbose=0)
    assert not hasattr(first, "run")
    again = SnapshotFirstKernel()
    model.fit(xtr[:128], ytr[:128], epochs=3, batch_size=64, callbacks=[again], verbose=0,
              resume_from=tmp_path / "run")
    assert again.restored["epochs"] == 2
    np.testing.assert_array_equal(again.restored["snapshots"], first.snapshots)
    assert len(again.snapshots) == 3
    _, meta = th.io.load_checkpoint(tmp_path / "run")
    assert meta["epoch"] == 3 and meta["user"] == {"by": "snapshot"}
    assert th.callbacks.ModelCheckpoint is th.nn.callbacks.ModelCheckpoint


def _imports(path: Path):
    """(module-level imported modules, names of functions with an import inside)."""
    tree = ast.parse(path.read_text())
    top = {f"{'.' * n.level}{n.module or ''}" for n in tree.body if isinstance(n, ast.ImportFrom)}
    inner = {f.name for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             and any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(f))}
    return top, inner


def test_the_training_stack_imports_one_way_at_module_level():
    """model -> trainer -> saving, callbacks; never back, and no imports hidden in functions."""
    for name in ("trainer", "saving", "callbacks", "model", "rbm", "dbn", "losses", "metrics"):
        top, inner = _imports(NN / f"{name}.py")
        assert not inner, f"nn/{name}.py imports inside {inner}"
        if name in ("trainer", "saving", "callbacks"):
            assert ".model" not in top and ".rbm" not in top, (name, top)
    assert ".trainer" in _imports(NN / "model.py")[0]
