"""A deep belief network on binarised Fashion-MNIST, against the same MLP from scratch.

Pretrains a 784-256-256 DBN greedily (CD-1, each RBM on the previous one's hidden
probabilities) on unlabelled training images, turns it into a classifier (Dense(sigmoid)
layers initialised from the RBMs plus a Dense(10) output), and fine-tunes it on a small
labelled subset. The same network with Glorot initialisation is trained identically (same
labels, optimiser, epochs, batch order); both are evaluated on the test set.

    python examples/dbn_fashion_mnist.py [--unlabelled 20000] [--labels 1000]
                                         [--pretrain-epochs 10] [--epochs 20]
"""
import argparse
import time

import numpy as np

from rbm_fashion_mnist import binarised_fashion_mnist  # the example beside this one
from theon.nn import DBN
from theon.optim import SGD


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--unlabelled", type=int, default=20000, help="images for pretraining")
    ap.add_argument("--labels", type=int, default=1000, help="labelled images for fine-tuning")
    ap.add_argument("--hidden", default="256,256")
    ap.add_argument("--pretrain-epochs", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=20, help="fine-tuning epochs (both networks)")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    (x, y), (xt, yt) = binarised_fashion_mnist()
    order = np.random.default_rng(args.seed).permutation(len(x))
    unlabelled = order[:args.unlabelled]
    labelled = order[args.unlabelled:args.unlabelled + args.labels]  # disjoint from the above
    sizes = [int(s) for s in args.hidden.split(",")]

    dbn = DBN(784, sizes, seed=args.seed)
    print(f"pretraining {dbn} on {len(unlabelled)} images, {args.pretrain_epochs} epochs per layer")
    start = time.perf_counter()
    hists = dbn.pretrain(x[unlabelled], epochs=args.pretrain_epochs, batch_size=20,
                         optimizer=lambda: SGD(lr=0.1, momentum=0.5))
    for rbm, h in zip(dbn.rbms, hists):
        err = h.history["recon_error"]
        print(f"  {rbm.name}: reconstruction error {err[0]:.4f} -> {err[-1]:.4f}")
    print(f"pretrained in {time.perf_counter() - start:.1f}s")

    results = {}
    for name, pretrained in (("DBN", True), ("MLP from scratch", False)):
        model = dbn.to_classifier(10, input_shape=(784,), pretrained=pretrained)
        model.compile(SGD(lr=args.lr, momentum=0.9), "cross_entropy", ["accuracy"])
        start = time.perf_counter()
        hist = model.fit(x[labelled], y[labelled], epochs=args.epochs, batch_size=20, seed=args.seed, verbose=0)
        results[name] = model.evaluate(xt, yt)["accuracy"]
        print(f"{name:17s} fine-tuned on {len(labelled)} labels for {args.epochs} epochs: train loss "
              f"{hist.history['loss'][-1]:.3f}, test accuracy {results[name]:.4f} ({time.perf_counter() - start:.1f}s)")
    gain = results["DBN"] - results["MLP from scratch"]
    print(f"pretraining gains {100 * gain:+.1f} points of test accuracy")
    return results


if __name__ == "__main__":
    main()
