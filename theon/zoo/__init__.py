"""Model architectures and their pretrained-weight loaders.

Each builder returns an `nn.Model` whose layers are named like the modules of the
ecosystem's reference implementation, so `weights=` (a torch `.pt`/`.pth` state dict or a
`.safetensors` file on disk, or a dict) loads by name through `Model.load_state_dict`.
Nothing is downloaded.

- MTCNN face detection: `pnet`, `rnet`, `onet` (facenet-pytorch's state dicts).
- Classic nets: `lenet5`, `mlp`; ImageNet CNNs with torchvision's names: `vgg11`, `vgg16`,
  `resnet18`, `resnet34`, `resnet50`, `mobilenet_v2` (`width` scales the channels).
- BERT: `bert` (Hugging Face's names and config.json), `sentence_embedding` (mean pooling).
"""
from .layers import AdaptiveAvgPool2D, CeilMaxPool2D, Permute
from .classic import lenet5, mlp
from .vision import mobilenet_v2, resnet18, resnet34, resnet50, vgg11, vgg16
from .mtcnn import onet, pnet, rnet
from .bert import bert, bert_config, sentence_embedding
from .weights import apply_weights

__all__ = ["lenet5", "mlp", "vgg11", "vgg16", "resnet18", "resnet34", "resnet50", "mobilenet_v2",
           "pnet", "rnet", "onet", "bert", "bert_config", "sentence_embedding",
           "AdaptiveAvgPool2D", "CeilMaxPool2D", "Permute", "apply_weights"]
