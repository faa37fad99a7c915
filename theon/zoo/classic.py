"""Small classic networks: LeNet-5 and a multilayer perceptron, with the module names of the
usual PyTorch definitions ("conv1", "conv2", "fc1", ...), so their state dicts load by name."""
from __future__ import annotations

from .. import nn
from .weights import apply_weights

__all__ = ["lenet5", "mlp"]


def lenet5(num_classes: int = 10, input_shape=(1, 28, 28), weights=None) -> nn.Model:
    """LeNet-5 (LeCun et al. 1998) as in PyTorch's tutorials: conv1 (6 5x5 filters, padding 2),
    max pool, conv2 (16 5x5), max pool, fc1 (120), fc2 (84), fc3 (num_classes logits); ReLUs.
    A 28x28 input (MNIST) reaches fc1 as 16x5x5, as the original's 32x32."""
    x = nn.Input(input_shape, name="image")
    h = nn.MaxPool2D(2, name="pool1")(nn.Conv2D(6, 5, padding=2, activation="relu", name="conv1")(x))
    h = nn.MaxPool2D(2, name="pool2")(nn.Conv2D(16, 5, activation="relu", name="conv2")(h))
    h = nn.Flatten(name="flatten")(h)
    h = nn.Dense(120, activation="relu", name="fc1")(h)
    h = nn.Dense(84, activation="relu", name="fc2")(h)
    y = nn.Dense(num_classes, name="fc3")(h)
    return apply_weights(nn.Model(x, y, name="lenet5"), weights)


def mlp(input_dim: int = 784, hidden=(256, 128), num_classes: int = 10, activation="relu",
        weights=None) -> nn.Model:
    """A multilayer perceptron on flat (N, input_dim) inputs: Dense layers "fc1", "fc2", ...
    with `activation` between them and num_classes logits from the last."""
    if isinstance(hidden, int):
        hidden = (hidden,)
    x = nn.Input((int(input_dim),), name="features")
    h = x
    for i, units in enumerate(hidden, start=1):
        h = nn.Dense(int(units), activation=activation, name=f"fc{i}")(h)
    y = nn.Dense(num_classes, name=f"fc{len(hidden) + 1}")(h)
    return apply_weights(nn.Model(x, y, name="mlp"), weights)
