"""th.callbacks.TensorBoard: the event files it writes, read back with TensorBoard's own
reader, hold the epoch scalars, the learning rate, weight histograms and the step's graph."""
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import theon as th
import theon_cli
from theon import nn
from theon.callbacks import LearningRateScheduler, ModelCheckpoint, TensorBoard

ALL = {"scalars": 0, "histograms": 0, "graph": 0}


@pytest.fixture(scope="module")
def digits():
    (x, y), _ = th.data.digits()
    return x[:192], y[:192]


def compiled_mlp(lr=0.1):
    model = nn.Sequential([nn.Flatten(), nn.Dense(16, activation="relu"), nn.Dense(10)], input_shape=(1, 8, 8),
                          seed=0)
    model.compile(th.optim.SGD(lr), "cross_entropy", ["accuracy"], device="cpu")
    return model


def read(logdir) -> EventAccumulator:
    events = EventAccumulator(str(logdir), size_guidance=ALL)
    events.Reload()
    return events


def test_epoch_scalars_match_the_history(digits, tmp_path):
    x, y = digits
    model = compiled_mlp()
    history = model.fit(x, y, epochs=3, batch_size=64, validation_data=(x[:64], y[:64]), verbose=0,
                        callbacks=[TensorBoard(tmp_path / "run")])
    events = read(tmp_path / "run")
    tags = set(events.Tags()["scalars"])
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= tags
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        points = events.Scalars(name)
        assert [p.step for p in points] == [1, 2, 3]
        np.testing.assert_allclose([p.value for p in points], history.history[name], rtol=1e-6)
    assert [p.value for p in events.Scalars("learning_rate")] == pytest.approx([0.1] * 3)


def test_the_learning_rate_follows_a_schedule(digits, tmp_path):
    x, y = digits
    halve = LearningRateScheduler(lambda epoch, lr: 0.2 * 0.5 ** epoch)
    compiled_mlp().fit(x, y, epochs=3, batch_size=64, verbose=0, callbacks=[halve, TensorBoard(tmp_path)])
    assert [p.value for p in read(tmp_path).Scalars("learning_rate")] == pytest.approx([0.2, 0.1, 0.05])


def test_histograms_describe_the_weights_after_each_epoch(digits, tmp_path):
    x, y = digits
    model = compiled_mlp()
    model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[TensorBoard(tmp_path, histogram_freq=1)])
    events = read(tmp_path)
    weights = model.get_weights()
    assert set(events.Tags()["histograms"]) == set(weights)
    for name, value in weights.items():
        last = events.Histograms(name)[-1]
        assert [h.step for h in events.Histograms(name)] == [1, 2]
        h = last.histogram_value
        assert h.num == value.size and h.sum_squares == pytest.approx(float((value.astype(np.float64) ** 2).sum()))
        assert (h.min, h.max) == pytest.approx((float(value.min()), float(value.max())))
        assert sum(h.bucket) == value.size and h.bucket_limit[-1] == pytest.approx(float(value.max()))


def test_histogram_freq_zero_writes_none_and_every_second_epoch_halves_them(digits, tmp_path):
    x, y = digits
    compiled_mlp().fit(x, y, epochs=2, batch_size=64, verbose=0,
                       callbacks=[TensorBoard(tmp_path / "none", histogram_freq=0)])
    assert read(tmp_path / "none").Tags()["histograms"] == []
    compiled_mlp().fit(x, y, epochs=4, batch_size=64, verbose=0,
                       callbacks=[TensorBoard(tmp_path / "two", histogram_freq=2)])
    events = read(tmp_path / "two")
    name = events.Tags()["histograms"][0]
    assert [h.step for h in events.Histograms(name)] == [2, 4]


def test_the_graph_holds_the_layers_gradients_and_updates(digits, tmp_path):
    x, y = digits
    model = compiled_mlp()
    model.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=[TensorBoard(tmp_path)])
    graph = read(tmp_path).Graph()
    nodes = {n.name: n for n in graph.node}
    weights = model.get_weights()
    assert set(weights) <= {n.name for n in graph.node if n.op == "Variable"}
    assert {f"update/{name}" for name in weights} <= set(nodes)
    for name in weights:  # each update reads the parameter it writes
        assert nodes[f"update/{name}"].input[0] == name
    placeholders = [n for n in graph.node if n.op == "Placeholder"]
    assert len(placeholders) == 2  # the batch x and y
    for layer in model.layers[1:]:  # each layer's forward ops are grouped under its name, with the user's line
        ops = [n for n in graph.node if n.name.startswith(f"{layer.name}/") and n.op not in ("Variable", "Assign")]
        assert ops, layer.name
        assert all(n.attr["source"].s.startswith(b"test_tensorboard.py:") for n in ops)
    assert any(n.name.startswith("gradients/") for n in graph.node)
    for n in graph.node:  # every edge names a node of the graph
        for i in n.input:
            assert i.split(":")[0] in nodes, (n.name, i)
    shapes = nodes[placeholders[0].name].attr["_output_shapes"].list.shape[0]
    assert [d.size for d in shapes.dim] in ([-1, 1, 8, 8], [-1])


def test_a_resumed_run_continues_the_curves(digits, tmp_path):
    x, y = digits
    compiled_mlp().fit(x, y, epochs=2, batch_size=64, verbose=0,
                       callbacks=[ModelCheckpoint(tmp_path / "ckpt"), TensorBoard(tmp_path / "tb")])
    history = compiled_mlp().fit(x, y, epochs=3, batch_size=64, verbose=0, resume_from=tmp_path / "ckpt",
                                 callbacks=[TensorBoard(tmp_path / "tb")])
    points = read(tmp_path / "tb").Scalars("loss")
    assert [p.step for p in points] == [1, 2, 3]
    np.testing.assert_allclose([p.value for p in points], history.history["loss"], rtol=1e-6)


def test_batch_losses_every_n_steps(digits, tmp_path):
    x, y = digits
    compiled_mlp().fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[TensorBoard(tmp_path, update_freq=2)])
    points = read(tmp_path).Scalars("batch_loss")
    assert [p.step for p in points] == [2, 4, 6]  # 3 steps per epoch, global step count
    assert all(np.isfinite(p.value) for p in points)


def test_bad_settings_fail_before_training(digits, tmp_path):
    x, y = digits
    with pytest.raises(ValueError, match="histogram_freq"):
        TensorBoard(tmp_path, histogram_freq=-1)
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(tmp_path, update_freq="batch")
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        TensorBoard(afile)
    model = compiled_mlp()
    before = model.get_weights()
    blocked = TensorBoard(afile / "sub")  # its parent is a file: fails when fit starts
    with pytest.raises(ValueError, match="TensorBoard"):
        model.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=[blocked])
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(value, before[name])


def test_theon_train_writes_tensorboard_files(tmp_path, capsys):
    code = theon_cli.main(["train", "mlp", "--dataset", "digits", "--epochs", "2", "--limit", "256", "--quiet",
                           "--device", "cpu", "--out", str(tmp_path / "run"), "--tensorboard", str(tmp_path / "tb")])
    assert code == 0, capsys.readouterr().err
    events = read(tmp_path / "tb")
    _, meta = th.io.load_checkpoint(tmp_path / "run")
    for name in ("loss", "val_accuracy"):
        np.testing.assert_allclose([p.value for p in events.Scalars(name)], meta["history"][name], rtol=1e-6)
    assert events.Tags()["histograms"] and events.Graph().node
