"""BERT (Devlin et al. 2019) with Hugging Face's parameter names, so a `BertModel`'s
`model.safetensors` (or `pytorch_model.bin`) loads by name, and sentence embeddings by mean
pooling (sentence-transformers' all-MiniLM-L6-v2 is such a model).

    bert = th.zoo.bert(config="config.json", weights="model.safetensors")
    hidden, pooled = bert.predict({"input_ids": ids, "attention_mask": mask,
                                   "token_type_ids": types})
    embed = th.zoo.sentence_embedding(bert)          # (N, hidden), L2-normalised
    vectors = embed.predict({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})

Layers carry the checkpoint's module names ("embeddings", "encoder.layer.3", "pooler") and
their parameters its parameter names, in torch's layouts (a Linear weight is (out, in)).
"""
from __future__ import annotations

import json
import os

from .. import nn
from ..errors import ShapeError
from ..graph import format_shape
from ..ops.dims import dim
from ..ops.elementwise import gelu, maximum, not_equal, sqrt, tanh
from ..ops.nn_attention import scaled_dot_product_attention
from ..ops.nn_conv import linear
from ..ops.nn_misc import dropout, embedding
from ..ops.nn_norm import layer_norm
from ..ops.reduce import cumsum, sum as _sum
from ..ops.shape import expand_dims, reshape, swapaxes
from ..ops.constructors import ones_like
from ..nn import initializers
from ..nn.layer import Layer
from .weights import apply_weights

__all__ = ["bert", "bert_config", "sentence_embedding", "BertEmbeddings", "BertLayer", "BertPooler",
           "MeanPooling"]

# the config fields the architecture reads, with BERT-base's values as defaults
_DEFAULTS = {"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072, "hidden_act": "gelu", "max_position_embeddings": 512,
             "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1,
             "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
             "position_embedding_type": "absolute"}
_ACTIVATIONS = {"gelu": lambda x: gelu(x), "gelu_new": lambda x: gelu(x, approximate="tanh"),
                "gelu_pytorch_tanh": lambda x: gelu(x, approximate="tanh")}


def bert_config(config=None, **overrides) -> dict:
    """A checked architecture config from a Hugging Face config.json path, a dict, or None
    (BERT-base), with keyword overrides."""
    where = "BERT config"
    if isinstance(config, (str, os.PathLike)):
        where = f"BERT config {os.fspath(config)!r}"
        try:
            with open(config, encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f"{where}: cannot read it as JSON: {e}") from None
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"bert config must be a path, a dict or None, got {type(config).__name__}")
    merged = {k: (config or {}).get(k, v) for k, v in _DEFAULTS.items()}
    merged.update(overrides)
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                "intermediate_size", "max_position_embeddings", "type_vocab_size"):
        if not isinstance(merged[key], int) or isinstance(merged[key], bool) or merged[key] < 1:
            raise ValueError(f"{where}: {key} must be a positive integer, got {merged[key]!r}")
    if merged["hidden_size"] % merged["num_attention_heads"]:
        raise ValueError(f"{where}: hidden_size {merged['hidden_size']} is not a multiple of "
                         f"num_attention_heads {merged['num_attention_heads']}")
    if merged["hidden_act"] not in _ACTIVATIONS:
        raise ValueError(f"{where}: hidden_act {merged['hidden_act']!r} is not supported; theon has "
                         f"{', '.join(_ACTIVATIONS)}")
    if merged["position_embedding_type"] != "absolute":
        raise ValueError(f"{where}: position_embedding_type {merged['position_embedding_type']!r} is not "
                         f"supported (only 'absolute')")
    return merged


class _HFLayer(Layer):
    """A layer holding Hugging Face parameters under their own names ("attention.self.query.weight")."""

    def __init__(self, config: dict, **kwargs):
        super().__init__(**kwargs)
        self.config = bert_config(config)
        self._init = initializers.RandomNormal(0.0, self.config["initializer_range"])

    def _linear(self, prefix, n_out, n_in):
        self.add_param(f"{prefix}.weight", (n_out, n_in), self._init)
        self.add_param(f"{prefix}.bias", (n_out,), "zeros")

    def _norm(self, prefix, n):
        self.add_param(f"{prefix}.weight", (n,), "ones")
        self.add_param(f"{prefix}.bias", (n,), "zeros")

    def _apply_linear(self, prefix, x):
        return linear(x, self.param(f"{prefix}.weight"), self.param(f"{prefix}.bias"))

    def _apply_norm(self, prefix, x):
        return layer_norm(x, self.config["hidden_size"], self.param(f"{prefix}.weight"),
                          self.param(f"{prefix}.bias"), eps=self.config["layer_norm_eps"])

    def _dropout(self, x, training):
        rate = self.config["hidden_dropout_prob"]
        return dropout(x, rate) if training and rate > 0 else x

    def get_config(self):
        return {**super().get_config(), "config": self.config}


class BertEmbeddings(_HFLayer):
    """[input_ids, token_type_ids] (N, T) -> (N, T, hidden): word + position + token type
    embeddings, layer-normalised."""

    takes_list = True

    def build(self, input_shape):
        c = self.config
        tables = (("word_embeddings", c["vocab_size"]), ("position_embeddings", c["max_position_embeddings"]),
                  ("token_type_embeddings", c["type_vocab_size"]))
        for name, rows in tables:
            self.add_param(f"{name}.weight", (rows, c["hidden_size"]), self._init)
        self._norm("LayerNorm", c["hidden_size"])

    def call(self, xs, training=False):
        ids, types = (x.astype("int64") for x in xs)
        length = ids.type.shape[1]
        if length is not None and length > self.config["max_position_embeddings"]:
            raise ShapeError(f"layer {self.name!r}: {length} tokens, more than max_position_embeddings "
                             f"{self.config['max_position_embeddings']}")
        positions = cumsum(ones_like(ids), axis=1) - 1
        h = (embedding(ids, self.param("word_embeddings.weight"))
             + embedding(positions, self.param("position_embeddings.weight"))
             + embedding(types, self.param("token_type_embeddings.weight")))
        return self._dropout(self._apply_norm("LayerNorm", h), training)

    def output_shape(self, input_shape):
        return (*input_shape[0], self.config["hidden_size"])


class BertLayer(_HFLayer):
    """One encoder block, [hidden (N, T, H), attention_mask (N, T)] -> (N, T, H): self-attention
    over the unmasked tokens, then the feed-forward block, each with a residual and LayerNorm."""

    takes_list = True

    def build(self, input_shape):
        h, inner = self.config["hidden_size"], self.config["intermediate_size"]
        for name in ("query", "key", "value"):
            self._linear(f"attention.self.{name}", h, h)
        self._linear("attention.output.dense", h, h)
        self._norm("attention.output.LayerNorm", h)
        self._linear("intermediate.dense", inner, h)
        self._linear("output.dense", h, inner)
        self._norm("output.LayerNorm", h)

    def _heads(self, x):
        """(N, T, H) -> (N, heads, T, H / heads)."""
        return swapaxes(reshape(x, (dim(x, 0), dim(x, 1), self.config["num_attention_heads"], -1)), 1, 2)

    def call(self, xs, training=False):
        x, mask = xs
        x = self.cast_input(x)
        if x.ndim != 3 or mask.ndim != 2:
            raise ShapeError(f"layer {self.name!r} (BertLayer) takes hidden (N, T, H) and a mask (N, T), "
                             f"got {format_shape(x.type.shape)} and {format_shape(mask.type.shape)}")
        q, k, v = (self._heads(self._apply_linear(f"attention.self.{n}", x))
                   for n in ("query", "key", "value"))
        attend = expand_dims(not_equal(mask, 0), (1, 2))  # (N, 1, 1, T): keys to attend to
        heads = swapaxes(scaled_dot_product_attention(q, k, v, mask=attend), 1, 2)
        joined = reshape(heads, (dim(heads, 0), dim(heads, 1), self.config["hidden_size"]))
        attended = self._dropout(self._apply_linear("attention.output.dense", joined), training)
        h = self._apply_norm("attention.output.LayerNorm", attended + x)
        inner = _ACTIVATIONS[self.config["hidden_act"]](self._apply_linear("intermediate.dense", h))
        out = self._dropout(self._apply_linear("output.dense", inner), training)
        return self._apply_norm("output.LayerNorm", out + h)

    def output_shape(self, input_shape):
        return tuple(input_shape[0])


class BertPooler(_HFLayer):
    """(N, T, H) -> (N, H): tanh(dense(hidden state of the first token))."""

    def build(self, input_shape):
        self._linear("dense", self.config["hidden_size"], self.config["hidden_size"])

    def call(self, x, training=False):
        return tanh(self._apply_linear("dense", self.cast_input(x)[:, 0]))

    def output_shape(self, input_shape):
        return (self.config["hidden_size"],)


class MeanPooling(Layer):
    """[hidden (N, T, H), attention_mask (N, T)] -> (N, H): the mean of the unmasked tokens'
    states (sentence-transformers' mean pooling), L2-normalised when normalize."""

    takes_list = True

    def __init__(self, normalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.normalize = bool(normalize)

    def call(self, xs, training=False):
        hidden, mask = xs
        weights = expand_dims(mask.astype(hidden.dtype), 2)
        pooled = _sum(hidden * weights, axis=1) / maximum(_sum(weights, axis=1), 1e-9)
        if self.normalize:  # torch.nn.functional.normalize: x / max(||x||, 1e-12)
            pooled = pooled / maximum(sqrt(_sum(pooled * pooled, axis=1, keepdims=True)), 1e-12)
        return pooled

    def output_shape(self, input_shape):
        return (input_shape[0][-1],)

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize}


def _hf_names(key: str):
    """A checkpoint key in BertModel's naming: task heads' checkpoints prefix it with "bert.";
    the position-id buffer is not a parameter."""
    if key.startswith("bert."):
        key = key[len("bert."):]
    return None if key == "embeddings.position_ids" else key


def bert(config=None, weights=None, add_pooler: bool = True, strict: bool = True, **overrides) -> nn.Model:
    """BertModel as an nn.Model on inputs "input_ids", "attention_mask" (1 = token, 0 = padding)
    and "token_type_ids", all (N, T) integers; outputs the last hidden state (N, T, H) and,
    with add_pooler, the pooler output (N, H). config: a config.json path, a dict or None
    (BERT-base); weights: a Hugging Face safetensors/bin file or state dict (keys with or
    without "bert."; strict=False ignores task heads' keys)."""
    c = bert_config(config, **overrides)
    ids = nn.Input((None,), "int64", name="input_ids")
    mask = nn.Input((None,), "int64", name="attention_mask")
    types = nn.Input((None,), "int64", name="token_type_ids")
    h = BertEmbeddings(c, name="embeddings")([ids, types])
    for i in range(c["num_hidden_layers"]):
        h = BertLayer(c, name=f"encoder.layer.{i}")([h, mask])
    outputs = [h, BertPooler(c, name="pooler")(h)] if add_pooler else h
    model = nn.Model([ids, mask, types], outputs, name="bert")
    return apply_weights(model, weights, mapping=_hf_names, strict=strict)


def sentence_embedding(model: nn.Model, normalize: bool = True) -> nn.Model:
    """A model of the same inputs giving the mean of the unmasked tokens' last hidden states
    (N, H), L2-normalised unless normalize=False (all-MiniLM-L6-v2 normalises)."""
    hidden = model.outputs[0]
    if hidden.ndim != 3:
        raise ValueError(f"sentence_embedding needs a model whose first output is (N, T, H), got "
                         f"{format_shape(hidden.type.shape)}")
    mask = next((v for v in model.inputs if v.name == "attention_mask"), None)
    if mask is None:
        raise ValueError("sentence_embedding needs a model with an 'attention_mask' input")
    pooled = MeanPooling(normalize, name="mean_pooling")([hidden, mask])
    return nn.Model(model.inputs, pooled, name=f"{model.name}_sentence_embedding")

