"""The programs the distributed tests run in each rank: `python -m tests.distributed.workers
SCENARIO OUTDIR` under the environment harness.py sets. Each saves OUTDIR/rank{r}.npz."""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

import theon as th
from theon import nn

N_EXAMPLES, N_FEATURES, N_CLASSES = 1280, 12, 3   # 20 steps of a global batch of 64


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N_EXAMPLES, N_FEATURES))
    y = (x[:, :3].argmax(1) + (x[:, 3] > 1)) % N_CLASSES
    return x, y.astype(np.int64)


def make_model(optimizer: str, init_seed: int = 0, distributed=False, kind: str = "mlp"):
    """A float64 MLP (or an LSTM reading the features as 4 steps of 3) with weights drawn
    from `init_seed` (ranks other than 0 use another seed in the tests, so only the
    broadcast from rank 0 makes them agree)."""
    if kind == "lstm":
        layers = [nn.Reshape((4, N_FEATURES // 4)), nn.LSTM(8), nn.Dense(N_CLASSES)]
    elif kind in ("syncbn", "bn"):
        norm = nn.SyncBatchNorm() if kind == "syncbn" else nn.BatchNorm()
        layers = [nn.Dense(16), norm, nn.Activation("tanh"), nn.Dense(N_CLASSES)]
    else:
        layers = [nn.Dense(16, activation="tanh"), nn.Dense(N_CLASSES)]
    model = nn.Sequential(layers, input_shape=(N_FEATURES,), dtype="float64")
    rng = np.random.default_rng(init_seed)
    model.set_weights({k: 0.3 * rng.standard_normal(v.shape) for k, v in model.get_weights().items()})
    opt = th.optim.SGD(0.1, momentum=0.9) if optimizer == "sgd" else th.optim.Adam(0.01)
    model.compile(opt, "cross_entropy", metrics=["accuracy"], distributed=distributed)
    return model


def fit(model, epochs=1, callbacks=None, **kwargs):
    x, y = data()
    return model.fit(x, y, batch_size=64, epochs=epochs, seed=3, verbose=0, callbacks=callbacks,
                     **kwargs)


def scenario_collectives(out: dict):
    r, world = th.distributed.rank(), th.distributed.world_size()
    x = th.tensor("x", (4, 2), "float64")
    c = th.tensor("c", (4, 2), "float64")
    results = {
        "sum": th.distributed.all_reduce(x), "mean": th.distributed.all_reduce(x, "mean"),
        "max": th.distributed.all_reduce(x, "max"), "bcast": th.distributed.broadcast(x, src=1),
        "reduce": th.distributed.reduce(x, dst=0), "gather": th.distributed.all_gather(x),
        "scatter": th.distributed.reduce_scatter(x)}
    # gradients: each rank weighs the collective's output by its own c
    for name in ("sum", "bcast", "reduce", "gather", "scatter"):
        y = results[name]
        weight = th.concatenate([c] * world) if name == "gather" else c[:y.type.shape[0]]
        results[f"grad_{name}"] = th.grad(th.sum(y * weight), x)
    f = th.function([x, c], list(results.values()))
    xv = (r + 1) * np.arange(8.0).reshape(4, 2) - r
    cv = np.full((4, 2), 10.0 ** r) + np.arange(8.0).reshape(4, 2)
    out.update(zip(results, f(xv, cv)))
    out.update(x=xv, c=cv)


def scenario_train(out: dict, optimizer: str, outdir: Path):
    r = th.distributed.rank()
    model = make_model(optimizer, init_seed=r, distributed=th.distributed.DataParallel(bucket_bytes=300))
    history = fit(model, callbacks=[th.callbacks.ModelCheckpoint(outdir / "checkpoint")])
    out.update({f"w/{k}": v for k, v in model.get_weights().items()})
    out["loss"] = np.array(history.history["loss"])
    out["accuracy"] = np.array(history.history["accuracy"])
    out["source"] = np.array(model.train_function.source)
    if optimizer == "adam":   # and an LSTM: the gradients through its scan, averaged
        lstm = make_model(optimizer, init_seed=r, distributed=True, kind="lstm")
        fit(lstm)
        out.update({f"lstm/{k}": v for k, v in lstm.get_weights().items()})


def scenario_sync_batch_norm(out: dict):
    """SyncBatchNorm and, for contrast, BatchNorm (per-rank statistics), trained with SGD."""
    r = th.distributed.rank()
    for kind in ("syncbn", "bn"):
        model = make_model("sgd", init_seed=r, distributed=True, kind=kind)
        fit(model)
        out.update({f"{kind}/{k}": v for k, v in model.get_weights().items()})


def scenario_fault(out: dict, how: str, outdir: Path):
    """Rank 1 dies (SIGKILL) or hangs at its 4th step of the second epoch."""
    r = th.distributed.rank()

    class Fault(th.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            if r == 1 and self.epoch == 1 and batch == 3:
                (outdir / "fault_time").write_text(repr(time.time()))
                if how == "die":
                    os.kill(os.getpid(), signal.SIGKILL)
                time.sleep(600)

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

    model = make_model("sgd", distributed=True)
    try:
        fit(model, epochs=50, callbacks=[Fault()])
    except th.distributed.DistributedError as e:
        print(f"DistributedError at {time.time()!r}: {e}", flush=True)
        sys.exit(3)


def scenario_checkpoint_kill(out: dict, outdir: Path):
    """Rank 0, the only rank that writes checkpoints, is killed (SIGKILL, no clean-up)
    half-way through writing the second epoch's weights."""
    from theon.io import checkpoint as ckpt

    r = th.distributed.rank()
    saves = []
    write_weights = ckpt._write

    def half_then_die(write, prepared):
        saves.append(1)
        if len(saves) < 2:
            return write_weights(write, prepared)
        buffer = []
        write_weights(buffer.append, prepared)
        data = b"".join(buffer)
        write(data[:len(data) // 2])
        (outdir / "fault_time").write_text(repr(time.time()))
        os.kill(os.getpid(), signal.SIGKILL)

    if r == 0:
        ckpt._write = half_then_die
    model = make_model("sgd", distributed=True)
    try:
        fit(model, epochs=4, callbacks=[th.callbacks.ModelCheckpoint(outdir / "checkpoint")])
    except th.distributed.DistributedError as e:
        print(f"DistributedError at {time.time()!r}: {e}", flush=True)
        sys.exit(3)


def main():
    scenario, outdir = sys.argv[1], Path(sys.argv[2])
    th.distributed.init()
    out: dict = {}
    if scenario == "collectives":
        scenario_collectives(out)
    elif scenario.startswith("train_"):
        scenario_train(out, scenario.split("_", 1)[1], outdir)
    elif scenario == "sync_batch_norm":
        scenario_sync_batch_norm(out)
    elif scenario == "checkpoint_kill":
        scenario_checkpoint_kill(out, outdir)
    elif scenario.startswith("fault_"):
        scenario_fault(out, scenario.split("_", 1)[1], outdir)
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    np.savez(outdir / f"rank{th.distributed.rank()}.npz", **out)
    th.distributed.shutdown()


if __name__ == "__main__":
    main()
