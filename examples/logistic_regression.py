"""Logistic regression on scikit-learn's digits, written with theon's core API.

    python examples/logistic_regression.py
"""
import numpy as np

import theon as th


def load_digits():
    from sklearn.datasets import load_digits as sk_digits
    data = sk_digits()
    x = (data.data / 16.0).astype("float32")
    return x, data.target.astype("int64")


def main(epochs: int = 30, batch: int = 64, lr: float = 0.5):
    xs, ys = load_digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(xs))
    xs, ys = xs[order], ys[order]
    split = int(len(xs) * 0.8)
    (xtr, ytr), (xte, yte) = (xs[:split], ys[:split]), (xs[split:], ys[split:])

    x = th.tensor("x", shape=(None, xs.shape[1]))
    y = th.tensor("y", shape=(None,), dtype="int64")
    W = th.shared(rng.standard_normal((xs.shape[1], 10)).astype("float32") * 0.01, name="W")
    b = th.shared(np.zeros(10, "float32"), name="b")
    logits = x @ W + b
    loss = th.nn.cross_entropy(logits, y).mean()
    gW, gb = th.grad(loss, [W, b])
    train = th.function([x, y], loss, updates=[(W, W - lr * gW), (b, b - lr * gb)])
    predict = th.function([x], th.argmax(logits, axis=1))

    for epoch in range(epochs):
        losses = [train(xtr[i:i + batch], ytr[i:i + batch]) for i in range(0, split, batch)]
        if epoch % 10 == 9 or epoch == epochs - 1:
            accuracy = float((predict(xte) == yte).mean())
            print(f"epoch {epoch + 1:3d}  loss {np.mean(losses):.4f}  test accuracy {accuracy:.3f}")
    print("\nthe generated training step:\n" + train.source)
    return accuracy


if __name__ == "__main__":
    main()
