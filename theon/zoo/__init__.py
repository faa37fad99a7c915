"""Model architectures and their pretrained-weight loaders.

Each builder returns an `nn.Model` whose layers are named like the modules of the
ecosystem's reference implementation, so `weights=` (a torch `.pt`/`.pth` state dict or a
`.safetensors` file on disk, or a dict) loads by name through `Model.load_state_dict`.
Nothing is downloaded.

- MTCNN face detection: `pnet`, `rnet`, `onet` (facenet-pytorch's state dicts).
- BERT: `bert` (Hugging Face's names and config.json), `sentence_embedding` (mean pooling).
"""
from .layers import CeilMaxPool2D, Permute
from .mtcnn import onet, pnet, rnet
from .bert import bert, bert_config, sentence_embedding
from .weights import apply_weights

__all__ = ["pnet", "rnet", "onet", "bert", "bert_config", "sentence_embedding", "CeilMaxPool2D", "Permute", "apply_weights"]
