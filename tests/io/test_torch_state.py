"""th.io.load_state_dict and Model.load_state_dict: safe reading, torch layouts, all-at-once errors."""

import numpy as np
import pytest
import torch

from theon import nn
from theon.io import StateDictError, load_state_dict, save_file


class Hostile:
    """Unpickling this runs a function: what a malicious model file does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def torch_cnn():
    torch.manual_seed(0)
    net = torch.nn.Sequential()
    net.add_module("conv", torch.nn.Conv2d(3, 4, 3, padding=1))
    net.add_module("bn", torch.nn.BatchNorm2d(4))
    net.add_module("act", torch.nn.PReLU(4))
    net.add_module("flat", torch.nn.Flatten())
    net.add_module("fc", torch.nn.Linear(4 * 5 * 5, 6))
    with torch.no_grad():  # non-trivial running statistics and slopes
        net.bn.running_mean.uniform_(-1, 1)
        net.bn.running_var.uniform_(0.5, 2)
        net.bn.weight.uniform_(0.5, 1.5)
        net.bn.bias.uniform_(-1, 1)
        net.act.weight.uniform_(0, 0.5)
    return net.eval()


def theon_cnn(names=("conv", "bn", "act", "fc")):
    x = nn.Input((3, 5, 5))
    h = nn.Conv2D(4, 3, padding=1, name=names[0])(x)
    h = nn.BatchNorm(name=names[1])(h)
    h = nn.PReLU(name=names[2])(h)
    y = nn.Dense(6, name=names[3])(nn.Flatten()(h))
    return nn.Model(x, y)


def test_cnn_matches_torch_from_a_pt_file(tmp_path):
    net = torch_cnn()
    path = tmp_path / "cnn.pt"
    torch.save(net.state_dict(), path)
    state = load_state_dict(path)
    assert set(state) == set(net.state_dict())
    assert all(isinstance(v, np.ndarray) for v in state.values())
    model = theon_cnn()
    model.load_state_dict(state)  # num_batches_tracked is a known torch buffer: ignored
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 5)).astype("float32")
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.predict(x), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(model.get_layer("fc").param("kernel").get_value(),
                                  net.fc.weight.detach().numpy().T)


def test_safetensors_file_and_tensor_values(tmp_path):
    net = torch_cnn()
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    save_file(sd, tmp_path / "cnn.safetensors")
    state = load_state_dict(tmp_path / "cnn.safetensors")
    assert sorted(state) == sorted(sd)
    a, b = theon_cnn(), theon_cnn()
    a.load_state_dict(state)
    b.load_state_dict(net.state_dict())  # torch tensors directly
    for pa, pb in zip(a.params, b.params):
        np.testing.assert_array_equal(pa.get_value(), pb.get_value())


def test_recurrent_layers_take_torch_gate_order():
    torch.manual_seed(0)
    lstm, gru = torch.nn.LSTM(3, 5, batch_first=True), torch.nn.GRU(5, 4, batch_first=True)
    bi = torch.nn.LSTM(4, 2, batch_first=True, bidirectional=True)
    state = {**{f"lstm.{k}": v for k, v in lstm.state_dict().items()},
             **{f"gru.{k}": v for k, v in gru.state_dict().items()},
             **{f"bi.{k}": v for k, v in bi.state_dict().items()}}
    x = nn.Input((7, 3))
    h = nn.LSTM(5, return_sequences=True, name="lstm")(x)
    h = nn.GRU(4, return_sequences=True, name="gru")(h)
    y = nn.Bidirectional(nn.LSTM(2, return_sequences=True), name="bi")(h)
    model = nn.Model(x, y)
    model.load_state_dict(state)
    xs = np.random.default_rng(2).standard_normal((2, 7, 3)).astype("float32")
    with torch.no_grad():
        want = bi(gru(lstm(torch.from_numpy(xs))[0])[0])[0].numpy()
    np.testing.assert_allclose(model.predict(xs), want, rtol=1e-5, atol=1e-5)


def test_mapping_dict_and_function():
    net = torch_cnn()
    sd = net.state_dict()
    model = theon_cnn(names=("c1", "n1", "p1", "out"))
    model.load_state_dict(sd, mapping={"conv": "c1", "bn": "n1", "act": "p1", "fc": "out"})
    np.testing.assert_array_equal(model.get_layer("n1").param("running_var").get_value(),
                                  sd["bn.running_var"].numpy())
    other = theon_cnn(names=("m.conv", "m.bn", "m.act", "m.fc"))
    other.load_state_dict({"backbone." + k: v for k, v in sd.items()},
                          mapping=lambda k: "m." + k[len("backbone."):])
    for pa, pb in zip(model.params, other.params):
        np.testing.assert_array_equal(pa.get_value(), pb.get_value())
    # a prefix mapped to None is dropped
    dropped = {**sd, "aux.weight": torch.zeros(3)}
    model.load_state_dict(dropped, mapping={"conv": "c1", "bn": "n1", "act": "p1", "fc": "out", "aux": None})


def test_every_problem_is_reported_at_once_and_nothing_changes():
    sd = dict(torch_cnn().state_dict())
    del sd["conv.bias"]                                  # missing
    sd["head.weight"] = torch.zeros(2, 2)                # unexpected
    sd["fc.weight"] = torch.zeros(6, 99)                 # mis-shaped (torch layout named)
    sd["bn.running_mean"] = torch.zeros(5)               # mis-shaped
    model = theon_cnn()
    before = model.get_weights()
    with pytest.raises(StateDictError) as info:
        model.load_state_dict(sd)
    msg = str(info.value)
    for part in ("missing (1): conv.bias", "unexpected (1): head.weight",
                 "fc.weight: expected shape (6, 100)", "got (6, 99)", "bn.running_mean: expected shape (4,)"):
        assert part in msg, msg
    assert "changed nothing" in msg
    for k, v in model.get_weights().items():
        np.testing.assert_array_equal(v, before[k])
    # strict=False allows missing and unexpected keys, never wrong shapes
    with pytest.raises(StateDictError, match="fc.weight"):
        model.load_state_dict(sd, strict=False)
    del sd["fc.weight"], sd["bn.running_mean"]
    model.load_state_dict(sd, strict=False)
    np.testing.assert_array_equal(model.get_layer("conv").param("bias").get_value(), before["conv/bias"])
    assert not np.array_equal(model.get_layer("conv").param("kernel").get_value(), before["conv/kernel"])


def test_bad_arguments():
    model = theon_cnn()
    with pytest.raises(TypeError, match="dict of name -> tensor"):
        model.load_state_dict([1, 2])
    with pytest.raises(TypeError, match="mapping"):
        model.load_state_dict({}, mapping=3)
    with pytest.raises(StateDictError, match="float32"):
        model.load_state_dict({**torch_cnn().state_dict(), "fc.bias": torch.zeros(6, dtype=torch.complex64)})


def test_a_file_that_needs_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(2), "x": Hostile(str(marker))}, path)
    assert not marker.exists()
    with pytest.raises(StateDictError, match="needs pickle code"):
        load_state_dict(path)
    assert not marker.exists()
    # an old-style (non-zip) pickle too
    legacy = tmp_path / "evil.pth"
    torch.save({"x": Hostile(str(marker))}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(StateDictError, match="needs pickle code"):
        load_state_dict(legacy)
    # a whole pickled module
    whole = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), whole)
    with pytest.raises(StateDictError, match="needs pickle code"):
        load_state_dict(whole)
    assert not marker.exists()


def test_corrupt_and_wrong_files(tmp_path):
    good = tmp_path / "good.pt"
    torch.save(torch_cnn().state_dict(), good)
    blob = good.read_bytes()
    for cut in (10, len(blob) // 2, len(blob) - 30):
        bad = tmp_path / f"cut{cut}.pt"
        bad.write_bytes(blob[:cut])
        with pytest.raises(StateDictError, match=str(bad.name)):
            load_state_dict(bad)
    rng = np.random.default_rng(0)
    for i in range(20):  # random bytes after a zip or pickle magic never crash the reader
        noise = tmp_path / f"noise{i}.pt"
        noise.write_bytes((b"PK\x03\x04", b"\x80\x02")[i % 2] + rng.bytes(int(rng.integers(0, 400))))
        with pytest.raises(StateDictError):
            load_state_dict(noise)
    with pytest.raises(StateDictError, match="no such file"):
        load_state_dict(tmp_path / "absent.pt")
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(StateDictError, match="neither a torch file"):
        load_state_dict(text)
    listed = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(StateDictError, match="not a state dict"):
        load_state_dict(listed)
    numbers = tmp_path / "numbers.pt"
    torch.save({"epoch": 3}, numbers)
    with pytest.raises(StateDictError, match="'epoch' is a int, not a tensor"):
        load_state_dict(numbers)


def test_training_checkpoint_wrapper_and_bfloat16(tmp_path):
    path = tmp_path / "ckpt.pth"
    torch.save({"state_dict": {"w": torch.ones(2, dtype=torch.bfloat16)}, "epoch": torch.tensor(3)}, path)
    state = load_state_dict(path)
    assert list(state) == ["w"] and state["w"].dtype == np.float32
    np.testing.assert_array_equal(state["w"], [1, 1])


def test_unbuilt_model_is_refused():
    model = nn.Sequential([nn.Dense(3, name="fc")])
    with pytest.raises(StateDictError, match="not built"):
        model.load_state_dict({"fc.weight": np.zeros((3, 2), "float32")})


def test_mutated_files_load_or_fail_cleanly(tmp_path):
    """Bytes of a real state dict changed at random: the reader returns arrays or raises
    StateDictError, never another exception, and never runs anything."""
    good = tmp_path / "good.pt"
    torch.save(torch_cnn().state_dict(), good)
    blob = bytearray(good.read_bytes())
    rng = np.random.default_rng(3)
    outcomes = set()
    for i in range(40):
        bad = bytearray(blob)
        for pos in rng.integers(0, len(bad), int(rng.integers(1, 8))):
            bad[pos] = int(rng.integers(0, 256))
        path = tmp_path / f"mutated{i}.pt"
        path.write_bytes(bytes(bad))
        try:
            state = load_state_dict(path)
        except StateDictError:
            outcomes.add("refused")
            continue
        assert all(isinstance(v, np.ndarray) for v in state.values())
        outcomes.add("loaded")
    assert "refused" in outcomes
