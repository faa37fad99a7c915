"""Zoo models are ordinary nn.Models: they save to one theon model file and load back
identical (their own layers included), and cut at a torch module name."""

import numpy as np
import pytest

import theon as th
from theon import nn

TINY_BERT = {"hidden_size": 8, "num_attention_heads": 2, "num_hidden_layers": 2, "intermediate_size": 16,
             "vocab_size": 50, "max_position_embeddings": 16}


def example(name):
    rng = np.random.default_rng(0)
    if name == "bert":
        ids = rng.integers(0, 50, (2, 5))
        return th.zoo.bert(TINY_BERT), {"input_ids": ids, "attention_mask": np.ones((2, 5), "int64"),
                                        "token_type_ids": np.zeros((2, 5), "int64")}
    if name == "onet":
        return th.zoo.onet(), rng.standard_normal((2, 3, 48, 48)).astype("float32")
    if name == "vgg11":
        return (th.zoo.vgg11(5, width=1 / 16, hidden=16, input_shape=(3, 32, 32)),
                rng.standard_normal((2, 3, 32, 32)).astype("float32"))
    return (th.zoo.mobilenet_v2(5, width=0.25, input_shape=(3, 32, 32)),
            rng.standard_normal((2, 3, 32, 32)).astype("float32"))


def as_list(v):
    return v if isinstance(v, list) else [v]


@pytest.mark.parametrize("name", ["onet", "vgg11", "mobilenet_v2", "bert"])
def test_save_and_load_model_round_trip(name, tmp_path):
    model, x = example(name)
    path = tmp_path / f"{name}.safetensors"
    model.save(path)
    again = nn.load_model(path)
    assert [layer.name for layer in again.layers] == [layer.name for layer in model.layers]
    for a, b in zip(as_list(model.predict(x)), as_list(again.predict(x))):
        np.testing.assert_array_equal(a, b)


def test_cut_at_a_module_name_and_freeze():
    model, x = example("mobilenet_v2")
    trunk = nn.Model(model.inputs, model.get_layer("avgpool").output)
    trunk.trainable = False
    inp = nn.Input((3, 32, 32))
    head = nn.Model(inp, nn.Dense(3)(trunk(inp)))
    before = {p.name: p.get_value() for p in trunk.params}
    head.compile(th.optim.SGD(0.1), "cross_entropy")
    head.fit(x, np.array([0, 2]), epochs=2, batch_size=2, verbose=0)
    for p in trunk.params:
        np.testing.assert_array_equal(p.get_value(), before[p.name])
    assert head.predict(x).shape == (2, 3)
