"""A restricted Boltzmann machine on binarised Fashion-MNIST (pixels > 0.5 are on).

Trains a 784-256 Bernoulli RBM with CD-1 (or PCD-k with --pcd) on a subset of the training
images, prints the reconstruction error, cross-entropy and pseudo-likelihood per epoch,
and saves the learned filters (each column of W as a 28x28 tile) as a PNG (with matplotlib:
pip install 'theon[plot]').

    python examples/rbm_fashion_mnist.py [--n 20000] [--epochs 5] [--hidden 256] [--pcd]
                                         [--k 1] [--out rbm_filters.png]

The DBN classifier (greedy pretraining, then fine-tuning against the same MLP from
scratch) is examples/dbn_fashion_mnist.py.
"""
import argparse
import time

import numpy as np

import theon as th
from theon import plotting
from theon.nn import RBM
from theon.optim import SGD


class EpochReport(th.callbacks.Callback):
    """One line per epoch, with the monitors in words."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        print(f"epoch {epoch + 1}: reconstruction error {logs['recon_error']:.4f} (squared, per pixel)  "
              f"cross-entropy {logs['recon_xent']:.2f}  pseudo-likelihood {logs['pseudo_likelihood']:.2f}  "
              f"({time.perf_counter() - self.start:.1f}s)", flush=True)


def binarised_fashion_mnist():
    (x, y), (xt, yt) = th.data.fashion_mnist()
    binar = lambda a: (a.reshape(len(a), -1) > 0.5).astype("float32")  # noqa: E731
    return (binar(x), y), (binar(xt), yt)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000, help="training images used")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--k", type=int, default=1, help="Gibbs steps per update (CD-k / PCD-k)")
    ap.add_argument("--pcd", action="store_true", help="persistent CD (chains kept between updates)")
    ap.add_argument("--out", default="rbm_filters.png")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    (x, _), (xt, _) = binarised_fashion_mnist()
    x = x[np.random.default_rng(args.seed).permutation(len(x))[:args.n]]
    rbm = RBM(args.hidden, n_visible=784, seed=args.seed)
    rbm.init_visible_bias(x)
    method = f"{'PCD' if args.pcd else 'CD'}-{args.k}"
    print(f"RBM 784-{args.hidden}, {method}, {len(x)} binarised images, batch {args.batch}, "
          f"SGD lr {args.lr} momentum 0.5")
    start = time.perf_counter()
    rbm.compile(SGD(lr=args.lr, momentum=0.5), k=args.k, persistent=args.pcd)
    hist = rbm.fit(x, epochs=args.epochs, batch_size=args.batch, seed=args.seed, verbose=0,
                   callbacks=[EpochReport()])
    print(f"trained in {time.perf_counter() - start:.1f}s")

    v = th.tensor("v", (None, 784))
    test = th.function([v], [rbm.reconstruction_error(v), rbm.reconstruction_cross_entropy(v),
                             rbm.free_energy(v).mean()])
    err, xent, fe = (float(o) for o in test(xt[:2000]))
    print(f"test images: reconstruction error {err:.4f}, cross-entropy {xent:.2f}, mean free energy {fe:.1f}")

    shown = min(args.hidden, 100)
    title = f"RBM 784-{args.hidden} ({method}, {args.epochs} epochs): {shown} filters, each scaled to its range"
    if plotting.save_filters(rbm.W.get_value(), args.out, (28, 28), n=shown, title=title):
        print(f"saved {shown} filters to {args.out}")
    return hist


if __name__ == "__main__":
    main()
