"""ImageNet CNNs with torchvision's module names, so torchvision-style state dicts (`.pth` or
`.safetensors`) load by name: VGG-11/16 (Simonyan & Zisserman 2015), ResNet-18/34/50 (He et
al. 2016, torchvision's v1.5 bottleneck with its stride on the 3x3 conv) and MobileNetV2
(Sandler et al. 2018).

Each builds from a config: num_classes, the input shape (no batch dim; any image size the
pooling allows), and `width` (a multiplier on the channel counts; 1.0 is the published
network) so that small variants for tests or tiny data keep the same names.
"""
from __future__ import annotations

from .. import nn
from .layers import AdaptiveAvgPool2D
from .weights import apply_weights

__all__ = ["vgg11", "vgg16", "resnet18", "resnet34", "resnet50", "mobilenet_v2"]

_VGG = {11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
        16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]}


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def _check_width(width):
    if not width > 0:
        raise ValueError(f"width must be a positive multiplier of the channel counts, got {width!r}")


def _vgg(depth, num_classes, batch_norm, width, hidden, dropout, input_shape, weights):
    _check_width(width)
    x = nn.Input(input_shape, name="image")
    h, i = x, 0
    for v in _VGG[depth]:
        if v == "M":
            h = nn.MaxPool2D(2, name=f"features.{i}")(h)
            i += 1
            continue
        h = nn.Conv2D(_scaled(v, width), 3, padding=1, name=f"features.{i}")(h)
        i += 1
        if batch_norm:
            h = nn.BatchNorm(name=f"features.{i}")(h)
            i += 1
        h = nn.ReLU(name=f"features.{i}")(h)
        i += 1
    h = nn.Flatten(name="flatten")(AdaptiveAvgPool2D(7, name="avgpool")(h))
    for j in (0, 3):
        h = nn.Dense(hidden, name=f"classifier.{j}")(h)
        h = nn.Dropout(dropout, name=f"classifier.{j + 2}")(nn.ReLU(name=f"classifier.{j + 1}")(h))
    y = nn.Dense(num_classes, name="classifier.6")(h)
    name = f"vgg{depth}" + ("_bn" if batch_norm else "")
    return apply_weights(nn.Model(x, y, name=name), weights)


def vgg11(num_classes: int = 1000, batch_norm: bool = False, width: float = 1.0, hidden: int = 4096,
          dropout: float = 0.5, input_shape=(3, 224, 224), weights=None) -> nn.Model:
    """VGG-11 (torchvision's vgg11, or vgg11_bn with batch_norm=True); hidden: the width of
    the two hidden classifier layers (4096 in the published net)."""
    return _vgg(11, num_classes, batch_norm, width, hidden, dropout, input_shape, weights)


def vgg16(num_classes: int = 1000, batch_norm: bool = False, width: float = 1.0, hidden: int = 4096,
          dropout: float = 0.5, input_shape=(3, 224, 224), weights=None) -> nn.Model:
    """VGG-16 (torchvision's vgg16, or vgg16_bn with batch_norm=True)."""
    return _vgg(16, num_classes, batch_norm, width, hidden, dropout, input_shape, weights)


# ---- ResNet ---------------------------------------------------------------------------------------


def _conv_bn(h, filters, kernel, stride, conv_name, bn_name):
    h = nn.Conv2D(filters, kernel, strides=stride, padding=(kernel - 1) // 2, use_bias=False,
                  name=conv_name)(h)
    return nn.BatchNorm(name=bn_name)(h)


def _basic_block(h, planes, stride, prefix, in_channels):
    out = nn.ReLU()(_conv_bn(h, planes, 3, stride, f"{prefix}.conv1", f"{prefix}.bn1"))
    out = _conv_bn(out, planes, 3, 1, f"{prefix}.conv2", f"{prefix}.bn2")
    return _residual(h, out, planes, stride, prefix, in_channels), planes


def _bottleneck(h, planes, stride, prefix, in_channels):
    out = nn.ReLU()(_conv_bn(h, planes, 1, 1, f"{prefix}.conv1", f"{prefix}.bn1"))
    out = nn.ReLU()(_conv_bn(out, planes, 3, stride, f"{prefix}.conv2", f"{prefix}.bn2"))
    out = _conv_bn(out, planes * 4, 1, 1, f"{prefix}.conv3", f"{prefix}.bn3")
    return _residual(h, out, planes * 4, stride, prefix, in_channels), planes * 4


def _residual(h, out, channels, stride, prefix, in_channels):
    if stride != 1 or in_channels != channels:
        h = _conv_bn(h, channels, 1, stride, f"{prefix}.downsample.0", f"{prefix}.downsample.1")
    return nn.ReLU()(nn.Add()([out, h]))


_RESNETS = {18: (_basic_block, (2, 2, 2, 2)), 34: (_basic_block, (3, 4, 6, 3)),
            50: (_bottleneck, (3, 4, 6, 3))}


def _resnet(depth, num_classes, width, input_shape, weights):
    _check_width(width)
    block, counts = _RESNETS[depth]
    x = nn.Input(input_shape, name="image")
    base = _scaled(64, width)
    h = nn.ReLU(name="relu")(_conv_bn(x, base, 7, 2, "conv1", "bn1"))
    h = nn.MaxPool2D(3, 2, padding=1, name="maxpool")(h)
    channels = base
    for stage, count in enumerate(counts):
        planes = base * 2 ** stage
        for j in range(count):
            stride = 2 if stage > 0 and j == 0 else 1
            h, channels = block(h, planes, stride, f"layer{stage + 1}.{j}", channels)
    h = nn.GlobalAvgPool2D(name="avgpool")(h)
    y = nn.Dense(num_classes, name="fc")(h)
    return apply_weights(nn.Model(x, y, name=f"resnet{depth}"), weights)


def resnet18(num_classes: int = 1000, width: float = 1.0, input_shape=(3, 224, 224),
             weights=None) -> nn.Model:
    """ResNet-18 (torchvision's resnet18 names: conv1, bn1, layer1.0.conv1, ..., fc)."""
    return _resnet(18, num_classes, width, input_shape, weights)


def resnet34(num_classes: int = 1000, width: float = 1.0, input_shape=(3, 224, 224),
             weights=None) -> nn.Model:
    """ResNet-34 (torchvision's resnet34)."""
    return _resnet(34, num_classes, width, input_shape, weights)


def resnet50(num_classes: int = 1000, width: float = 1.0, input_shape=(3, 224, 224),
             weights=None) -> nn.Model:
    """ResNet-50 (torchvision's resnet50: bottleneck blocks, stride on the 3x3 conv)."""
    return _resnet(50, num_classes, width, input_shape, weights)


# ---- MobileNetV2 ----------------------------------------------------------------------------------

# (expansion t, output channels c, repeats n, first stride s), as in the paper's table 2
_MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                 (6, 160, 3, 2), (6, 320, 1, 1))


def _make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision's rounding of scaled channel counts: to a multiple of 8, never 10% below v."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def _conv_bn_relu6(h, filters, kernel, stride, prefix, groups=1):
    h = nn.Conv2D(filters, kernel, strides=stride, padding=(kernel - 1) // 2, groups=groups,
                  use_bias=False, name=f"{prefix}.0")(h)
    return nn.ReLU(max_value=6.0)(nn.BatchNorm(name=f"{prefix}.1")(h))


def _inverted_residual(h, inp, oup, stride, expand, prefix):
    hidden = int(round(inp * expand))
    out, j = h, 0
    if expand != 1:
        out = _conv_bn_relu6(out, hidden, 1, 1, f"{prefix}.conv.0")
        j = 1
    out = _conv_bn_relu6(out, hidden, 3, stride, f"{prefix}.conv.{j}", groups=hidden)
    out = nn.Conv2D(oup, 1, use_bias=False, name=f"{prefix}.conv.{j + 1}")(out)
    out = nn.BatchNorm(name=f"{prefix}.conv.{j + 2}")(out)
    return nn.Add()([h, out]) if stride == 1 and inp == oup else out


def mobilenet_v2(num_classes: int = 1000, width: float = 1.0, dropout: float = 0.2,
                 input_shape=(3, 224, 224), weights=None) -> nn.Model:
    """MobileNetV2 (torchvision's mobilenet_v2 names: features.0.0, features.1.conv.0.0, ...,
    classifier.1); width is torchvision's width_mult."""
    _check_width(width)
    x = nn.Input(input_shape, name="image")
    channels = _make_divisible(32 * width)
    last = _make_divisible(1280 * max(1.0, width))
    h = _conv_bn_relu6(x, channels, 3, 2, "features.0")
    i = 1
    for t, c, n, s in _MOBILENET_V2:
        out = _make_divisible(c * width)
        for j in range(n):
            h = _inverted_residual(h, channels, out, s if j == 0 else 1, t, f"features.{i}")
            channels = out
            i += 1
    h = _conv_bn_relu6(h, last, 1, 1, f"features.{i}")
    h = nn.GlobalAvgPool2D(name="avgpool")(h)
    y = nn.Dense(num_classes, name="classifier.1")(nn.Dropout(dropout, name="classifier.0")(h))
    return apply_weights(nn.Model(x, y, name="mobilenet_v2"), weights)
