"""The `theon` command: train and evaluate the built-in models, and describe the set-up.

    theon train lenet --dataset fashion-mnist --epochs 5 --batch-size 64 --out runs/lenet
    theon train lenet --resume runs/lenet --epochs 10     # continue (epochs is the total)
    theon evaluate --checkpoint runs/lenet
    theon info

`train` shows a progress bar (one line per epoch when the output is not a terminal),
prints the test accuracy after each epoch, and keeps in --out a resumable checkpoint
(replaced after every epoch), history.csv and curves.png (loss and accuracy per epoch).
"""
from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np

from .callbacks import Callback

MODELS = ("lenet", "mlp", "lstm")
DATASETS = ("fashion-mnist", "mnist", "digits")


def build_model(name: str, input_shape, num_classes: int = 10, seed: int = 0):
    """The `theon train` models: LeNet-5, a two-layer MLP, and an LSTM reading each image
    row by row (28 steps of 28 pixels for Fashion-MNIST)."""
    from . import nn
    if name == "lenet":
        same = input_shape[-1] < 28  # small images (digits' 8x8) keep their size through conv 2
        layers = [nn.Conv2D(6, 5, padding="same", activation="relu"), nn.MaxPool2D(2),
                  nn.Conv2D(16, 5, padding="same" if same else "valid", activation="relu"),
                  nn.MaxPool2D(2), nn.Flatten(),
                  nn.Dense(120, activation="relu"), nn.Dense(84, activation="relu"), nn.Dense(num_classes)]
    elif name == "mlp":
        layers = [nn.Flatten(), nn.Dense(256, activation="relu"), nn.Dense(128, activation="relu"),
                  nn.Dense(num_classes)]
    elif name == "lstm":
        rows, cols = input_shape[-2], input_shape[-1]
        layers = [nn.Reshape((rows, cols)), nn.LSTM(128), nn.Dense(num_classes)]
    else:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return nn.Sequential(layers, input_shape=tuple(input_shape), name=name, seed=seed)


def make_optimizer(model_name: str, lr):
    """SGD with momentum 0.9 (lr 0.01) for the convolutional and dense models; Adam (lr 2e-3)
    for the LSTM, which SGD trains slowly."""
    from . import optim
    if model_name == "lstm":
        return optim.Adam(2e-3 if lr is None else lr)
    return optim.SGD(0.01 if lr is None else lr, momentum=0.9)


def load_dataset(name: str):
    from . import data
    return data.load(name)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="theon", description="theon: train and evaluate models, show the set-up")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a built-in model")
    t.add_argument("model", nargs="?", choices=MODELS, help="lenet, mlp or lstm (default: the checkpoint's with --resume)")
    t.add_argument("--dataset", choices=DATASETS, default=None, help="default fashion-mnist")
    t.add_argument("--epochs", type=int, default=5, help="total epochs (a resumed run continues up to it)")
    t.add_argument("--batch-size", type=int, default=None, help="default 64")
    t.add_argument("--lr", type=float, default=None,
                   help="learning rate (default 0.01 for SGD with momentum 0.9; lstm: Adam, 2e-3)")
    t.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: THEON_DEVICE, else CUDA if present)")
    t.add_argument("--out", default=None, help="run folder (default runs/MODEL, or the --resume folder)")
    t.add_argument("--resume", default=None, metavar="DIR", help="continue the run saved in DIR")
    t.add_argument("--seed", type=int, default=None, help="initialisation and shuffling seed (default 0)")
    t.add_argument("--limit", type=int, default=None, help="train on the first N training examples only")
    t.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")

    e = sub.add_parser("evaluate", help="evaluate a checkpoint on a test set")
    e.add_argument("--checkpoint", required=True, metavar="DIR")
    e.add_argument("--dataset", choices=DATASETS, default=None, help="default: the one it was trained on")
    e.add_argument("--batch-size", type=int, default=256)
    e.add_argument("--device", default=None)

    sub.add_parser("info", help="versions, devices and the data sets found")
    return p


class TestAccuracy(Callback):
    """Prints the test accuracy after each epoch (the validation set is the test set)."""

    def on_epoch_end(self, epoch, logs=None):
        acc = (logs or {}).get("val_accuracy")
        if acc is not None:
            print(f"epoch {epoch + 1}/{self.params['epochs']}: test accuracy {acc:.2%}", flush=True)


def cmd_train(args) -> int:
    from . import callbacks
    from .nn.saving import load_training_checkpoint
    from .plotting import TrainingCurves
    from .ops.random import seed as seed_rng

    saved = {}
    if args.resume:
        _, meta = load_training_checkpoint(args.resume)
        saved = meta.get("user", {})
        if args.model and saved.get("model") and args.model != saved["model"]:
            print(f"theon: {args.resume} holds a {saved['model']} run, not {args.model}", file=sys.stderr)
            return 2
    model_name = args.model or saved.get("model")
    if model_name is None:
        print("theon train: name a model (lenet, mlp or lstm), or --resume a run", file=sys.stderr)
        return 2
    settings = {"model": model_name,
                "dataset": args.dataset or saved.get("dataset", "fashion-mnist"),
                "batch_size": args.batch_size or saved.get("batch_size", 64),
                "lr": args.lr if args.lr is not None else saved.get("lr"),
                "seed": args.seed if args.seed is not None else saved.get("seed", 0),
                "limit": args.limit if args.limit is not None else saved.get("limit")}
    out = Path(args.out or args.resume or f"runs/{model_name}")

    (xtr, ytr), (xte, yte) = load_dataset(settings["dataset"])
    if settings["limit"]:
        xtr, ytr = xtr[:settings["limit"]], ytr[:settings["limit"]]
    seed_rng(settings["seed"])
    model = build_model(model_name, xtr.shape[1:], int(max(ytr.max(), yte.max())) + 1, settings["seed"])
    model.compile(make_optimizer(model_name, settings["lr"]), "cross_entropy", ["accuracy"], device=args.device)
    if not args.resume:
        model.summary()
    print(f"training {model_name} on {settings['dataset']} ({len(xtr)} examples, batch {settings['batch_size']}), "
          f"saving to {out}", flush=True)
    done = int(meta["epoch"]) if args.resume else 0
    if done >= args.epochs:
        print(f"{args.resume} already has {done} epoch(s); pass --epochs N with N > {done} to train on")
        return 0
    curves = TrainingCurves(out / "history.csv", out / "curves.png", title=f"{model_name} on {settings['dataset']}",
                            validation_label="test", append=bool(args.resume))
    cbs = [callbacks.ModelCheckpoint(out, meta=settings), curves]
    if not args.quiet:  # the epoch line (closing the progress display), then the test accuracy
        cbs += [callbacks.ProgressDisplay(1), TestAccuracy()]
    history = model.fit(xtr, ytr, epochs=args.epochs, batch_size=settings["batch_size"],
                        validation_data=(xte, yte), callbacks=cbs, seed=settings["seed"],
                        verbose=0, resume_from=args.resume)
    final = history.history.get("val_accuracy", [float("nan")])[-1]
    drawn = f", curves in {curves.png_path}" if curves.png_path.is_file() else ""
    print(f"test accuracy {final:.2%}; checkpoint in {out}, history in {curves.path}{drawn}")
    return 0


def cmd_evaluate(args) -> int:
    from .nn import load_model
    from .nn.saving import load_training_checkpoint
    _, meta = load_training_checkpoint(args.checkpoint)
    dataset = args.dataset or meta.get("user", {}).get("dataset", "fashion-mnist")
    model = load_model(args.checkpoint, device=args.device)
    _, (xte, yte) = load_dataset(dataset)
    results = model.evaluate(xte, yte, batch_size=args.batch_size)
    print(f"{args.checkpoint} (epoch {meta['epoch']}) on the {dataset} test set ({len(xte)} examples):")
    for k, v in results.items():
        print(f"  {k}: {v:.4f}" + (f" ({v:.2%})" if "acc" in k else ""))
    return 0


def cmd_info(args) -> int:
    import torch

    import theon
    from .data import dataset_locations
    print(f"theon   {theon.__version__} ({Path(theon.__file__).parent})")
    print(f"python  {platform.python_version()} ({sys.executable})")
    print(f"torch   {torch.__version__}")
    print(f"numpy   {np.__version__}")
    try:
        import tqdm
        print(f"tqdm    {tqdm.__version__}")
    except ImportError:
        print("tqdm    not installed (progress shows one line per epoch)")
    print("devices:")
    print(f"  cpu: {platform.machine()}, {torch.get_num_threads()} torch threads")
    if torch.cuda.is_available():
        print(f"  cuda: {torch.cuda.device_count()} device(s)")
        for i in range(torch.cuda.device_count()):
            print(f"    cuda:{i} {torch.cuda.get_device_name(i)}")
    else:
        print("  cuda: none")
    print("data sets:")
    for name, where in dataset_locations().items():
        print(f"  {name}: {where if where is not None else 'not found'}")
    try:
        import sklearn
        print(f"  digits: in scikit-learn {sklearn.__version__}")
    except ImportError:
        print("  digits: not available (pip install scikit-learn)")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .data.errors import DatasetNotFoundError
    from .io import CheckpointError
    try:
        return {"train": cmd_train, "evaluate": cmd_evaluate, "info": cmd_info}[args.command](args)
    except (DatasetNotFoundError, CheckpointError) as e:
        print(f"theon {args.command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
