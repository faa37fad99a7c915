"""th.zoo.pnet/rnet/onet load facenet-pytorch's MTCNN state dicts and match the same nets
written in plain torch (the package itself is never imported)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import theon as th
from theon.io import StateDictError, load_state_dict

from .conftest import package_dir


def weights_file(name):
    path = package_dir("facenet_pytorch") / "data" / f"{name}.pt"
    assert path.is_file(), path
    return path


def conv_prelu(sd, x, i):
    x = F.conv2d(x, sd[f"conv{i}.weight"], sd[f"conv{i}.bias"])
    return F.prelu(x, sd[f"prelu{i}.weight"])


def dense_trunk(sd, x, i):
    x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
    return F.prelu(F.linear(x, sd[f"dense{i}.weight"], sd[f"dense{i}.bias"]), sd[f"prelu{i}.weight"])


def torch_pnet(sd, x):
    x = conv_prelu(sd, x, 1)
    x = F.max_pool2d(x, 2, 2, ceil_mode=True)
    x = conv_prelu(sd, conv_prelu(sd, x, 2), 3)
    prob = F.softmax(F.conv2d(x, sd["conv4_1.weight"], sd["conv4_1.bias"]), dim=1)
    return F.conv2d(x, sd["conv4_2.weight"], sd["conv4_2.bias"]), prob


def torch_rnet(sd, x):
    x = F.max_pool2d(conv_prelu(sd, x, 1), 3, 2, ceil_mode=True)
    x = F.max_pool2d(conv_prelu(sd, x, 2), 3, 2, ceil_mode=True)
    x = dense_trunk(sd, conv_prelu(sd, x, 3), 4)
    prob = F.softmax(F.linear(x, sd["dense5_1.weight"], sd["dense5_1.bias"]), dim=1)
    return F.linear(x, sd["dense5_2.weight"], sd["dense5_2.bias"]), prob


def torch_onet(sd, x):
    x = F.max_pool2d(conv_prelu(sd, x, 1), 3, 2, ceil_mode=True)
    x = F.max_pool2d(conv_prelu(sd, x, 2), 3, 2, ceil_mode=True)
    x = F.max_pool2d(conv_prelu(sd, x, 3), 2, 2, ceil_mode=True)
    x = dense_trunk(sd, conv_prelu(sd, x, 4), 5)
    prob = F.softmax(F.linear(x, sd["dense6_1.weight"], sd["dense6_1.bias"]), dim=1)
    return (F.linear(x, sd["dense6_2.weight"], sd["dense6_2.bias"]),
            F.linear(x, sd["dense6_3.weight"], sd["dense6_3.bias"]), prob)


CASES = [("pnet", th.zoo.pnet, torch_pnet, (2, 3, 37, 50)),  # odd sizes: ceil pooling keeps edges
         ("rnet", th.zoo.rnet, torch_rnet, (3, 3, 24, 24)),
         ("onet", th.zoo.onet, torch_onet, (3, 3, 48, 48))]


@pytest.mark.parametrize("name,build,reference,shape", CASES, ids=[c[0] for c in CASES])
def test_matches_plain_torch(name, build, reference, shape):
    path = weights_file(name)
    model = build(weights=path)
    sd = torch.load(path, map_location="cpu", weights_only=True)
    x = np.random.default_rng(0).uniform(-1, 1, shape).astype("float32")
    with torch.no_grad():
        want = reference(sd, torch.from_numpy(x))
    got = model.predict(x)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == tuple(w.shape)
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-4, atol=1e-4)


def test_pnet_is_fully_convolutional():
    model = th.zoo.pnet(weights=weights_file("pnet"))
    box, prob = model.predict(np.zeros((1, 3, 12, 12), "float32"))
    assert box.shape == (1, 4, 1, 1) and prob.shape == (1, 2, 1, 1)
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, rtol=1e-6)


def test_wrong_file_for_the_net_lists_every_problem():
    with pytest.raises(StateDictError) as info:
        th.zoo.rnet(weights=weights_file("onet"))
    msg = str(info.value)
    assert "missing" in msg and "dense5_1.weight" in msg
    assert "unexpected" in msg and "dense6_3.weight" in msg
    assert "conv1.weight: expected shape (28, 3, 3, 3)" in msg


def test_weights_as_a_dict_and_bad_weights_argument():
    sd = load_state_dict(weights_file("pnet"))
    a = th.zoo.pnet(weights=sd)
    np.testing.assert_array_equal(a.get_layer("prelu2").param("alpha").get_value(), sd["prelu2.weight"])
    with pytest.raises(TypeError, match="file path, a state dict, a name in th.zoo.PRETRAINED or None"):
        th.zoo.pnet(weights=3)
