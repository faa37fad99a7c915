"""The zoo's CNNs load torchvision-style state dicts by name and match independent torch
implementations (written here as torchvision writes them) with the same random weights.
Reduced widths and small images keep the tests fast; the names and layouts are the full nets'."""

import numpy as np
import pytest
import torch
from torch import nn as tnn

import theon as th
from theon.io import StateDictError, save_file

# ---- the reference implementations ------------------------------------------------------------


class TorchLeNet5(tnn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1, self.conv2 = tnn.Conv2d(1, 6, 5, padding=2), tnn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = tnn.Linear(400, 120), tnn.Linear(120, 84), tnn.Linear(84, num_classes)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2).flatten(1)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class TorchMLP(tnn.Module):
    def __init__(self, sizes):
        super().__init__()
        for i, (a, b) in enumerate(zip(sizes, sizes[1:]), start=1):
            self.add_module(f"fc{i}", tnn.Linear(a, b))

    def forward(self, x):
        layers = list(self.children())
        for layer in layers[:-1]:
            x = torch.tanh(layer(x))
        return layers[-1](x)


class TorchVGG(tnn.Module):
    def __init__(self, cfg, batch_norm, hidden, num_classes):
        super().__init__()
        layers, c = [], 3
        for v in cfg:
            if v == "M":
                layers.append(tnn.MaxPool2d(2, 2))
            else:
                layers += [tnn.Conv2d(c, v, 3, padding=1)] + ([tnn.BatchNorm2d(v)] if batch_norm else []) \
                    + [tnn.ReLU()]
                c = v
        self.features = tnn.Sequential(*layers)
        self.avgpool = tnn.AdaptiveAvgPool2d((7, 7))
        self.classifier = tnn.Sequential(tnn.Linear(c * 49, hidden), tnn.ReLU(), tnn.Dropout(),
                                         tnn.Linear(hidden, hidden), tnn.ReLU(), tnn.Dropout(),
                                         tnn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class BasicBlock(tnn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(tnn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1, self.bn1 = tnn.Conv2d(inplanes, planes, 1, bias=False), tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.conv3, self.bn3 = tnn.Conv2d(planes, planes * 4, 1, bias=False), tnn.BatchNorm2d(planes * 4)
        self.downsample = downsample

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(torch.relu(self.bn2(self.conv2(out)))))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


class TorchResNet(tnn.Module):
    def __init__(self, block, counts, base, num_classes):
        super().__init__()
        self.inplanes = base
        self.conv1 = tnn.Conv2d(3, base, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(base)
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        for i, n in enumerate(counts):
            self.add_module(f"layer{i + 1}", self._stage(block, base * 2 ** i, n, 1 if i == 0 else 2))
        self.fc = tnn.Linear(self.inplanes, num_classes)

    def _stage(self, block, planes, n, stride):
        down = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            down = tnn.Sequential(tnn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                  tnn.BatchNorm2d(planes * block.expansion))
        blocks = [block(self.inplanes, planes, stride, down)]
        self.inplanes = planes * block.expansion
        blocks += [block(self.inplanes, planes, 1, None) for _ in range(1, n)]
        return tnn.Sequential(*blocks)

    def forward(self, x):
        x = self.maxpool(torch.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))


def make_divisible(v, d=8):
    new = max(d, int(v + d / 2) // d * d)
    return new + d if new < 0.9 * v else new


def conv_bn_relu6(inp, oup, k, stride, groups=1):
    return tnn.Sequential(tnn.Conv2d(inp, oup, k, stride, (k - 1) // 2, groups=groups, bias=False),
                          tnn.BatchNorm2d(oup), tnn.ReLU6())


class InvertedResidual(tnn.Module):
    def __init__(self, inp, oup, stride, t):
        super().__init__()
        hidden = int(round(inp * t))
        self.use_res = stride == 1 and inp == oup
        layers = [conv_bn_relu6(inp, hidden, 1, 1)] if t != 1 else []
        layers += [conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
                   tnn.Conv2d(hidden, oup, 1, bias=False), tnn.BatchNorm2d(oup)]
        self.conv = tnn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class TorchMobileNetV2(tnn.Module):
    def __init__(self, width, num_classes):
        super().__init__()
        c, last = make_divisible(32 * width), make_divisible(1280 * max(1.0, width))
        features = [conv_bn_relu6(3, c, 3, 2)]
        for t, ch, n, s in [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
                            [6, 160, 3, 2], [6, 320, 1, 1]]:
            out = make_divisible(ch * width)
            for i in range(n):
                features.append(InvertedResidual(c, out, s if i == 0 else 1, t))
                c = out
        features.append(conv_bn_relu6(c, last, 1, 1))
        self.features = tnn.Sequential(*features)
        self.classifier = tnn.Sequential(tnn.Dropout(0.2), tnn.Linear(last, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(self.features(x), 1), 1))


def randomised(net):
    """net in eval mode with random batch-norm statistics and affine parameters (so a wrong
    mapping of any of them shows)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, tnn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return net.eval()


VGG11 = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def quarter(cfg, div=16):
    return [v if v == "M" else v // div for v in cfg]


CASES = {
    "lenet5": (lambda: TorchLeNet5(10), lambda: th.zoo.lenet5(10), (2, 1, 28, 28)),
    "mlp": (lambda: TorchMLP([20, 16, 12, 5]),
            lambda: th.zoo.mlp(20, hidden=(16, 12), num_classes=5, activation="tanh"), (3, 20)),
    "vgg11": (lambda: TorchVGG(quarter(VGG11), False, 32, 10),
              lambda: th.zoo.vgg11(10, width=1 / 16, hidden=32, input_shape=(3, 32, 32)), (2, 3, 32, 32)),
    "vgg16_bn": (lambda: TorchVGG(quarter(VGG16), True, 32, 10),
                 lambda: th.zoo.vgg16(10, batch_norm=True, width=1 / 16, hidden=32, input_shape=(3, 32, 32)),
                 (2, 3, 32, 32)),
    "resnet18": (lambda: TorchResNet(BasicBlock, [2, 2, 2, 2], 8, 10),
                 lambda: th.zoo.resnet18(10, width=1 / 8, input_shape=(3, 32, 32)), (2, 3, 32, 32)),
    "resnet34": (lambda: TorchResNet(BasicBlock, [3, 4, 6, 3], 8, 10),
                 lambda: th.zoo.resnet34(10, width=1 / 8, input_shape=(3, 32, 32)), (2, 3, 32, 32)),
    "resnet50": (lambda: TorchResNet(Bottleneck, [3, 4, 6, 3], 8, 10),
                 lambda: th.zoo.resnet50(10, width=1 / 8, input_shape=(3, 32, 32)), (2, 3, 32, 32)),
    "mobilenet_v2": (lambda: TorchMobileNetV2(0.25, 10),
                     lambda: th.zoo.mobilenet_v2(10, width=0.25, input_shape=(3, 32, 32)), (2, 3, 32, 32)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_forward_matches_torch_with_the_same_weights(name):
    make_torch, make_theon, shape = CASES[name]
    torch.manual_seed(0)
    net = randomised(make_torch())
    model = make_theon()
    model.load_state_dict(net.state_dict())  # strict: every name matches, none left over
    x = np.random.default_rng(0).standard_normal(shape).astype("float32")
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    got = model.predict(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_weights_from_a_file_and_the_published_names(tmp_path):
    net = randomised(TorchResNet(BasicBlock, [2, 2, 2, 2], 8, 10))
    path = tmp_path / "resnet18.safetensors"
    save_file({k: v.numpy() for k, v in net.state_dict().items()}, path)
    model = th.zoo.resnet18(num_classes=10, width=1 / 8, input_shape=(3, 32, 32), weights=path)
    np.testing.assert_array_equal(model.get_layer("layer2.0.downsample.1").param("running_var").get_value(),
                                  net.layer2[0].downsample[1].running_var.numpy())
    torch.save(net.state_dict(), tmp_path / "resnet18.pth")
    again = th.zoo.resnet18(num_classes=10, width=1 / 8, input_shape=(3, 32, 32),
                            weights=tmp_path / "resnet18.pth")
    for a, b in zip(model.params, again.params):
        np.testing.assert_array_equal(a.get_value(), b.get_value())


def test_full_size_names_and_shapes():
    """The full-width nets have exactly torchvision's parameter names and shapes (counted here
    from the reference modules, which are the published architectures at width 1)."""
    for make_torch, make_theon in [(lambda: TorchResNet(Bottleneck, [3, 4, 6, 3], 64, 1000), th.zoo.resnet50),
                                   (lambda: TorchMobileNetV2(1.0, 1000), th.zoo.mobilenet_v2)]:
        want = {k: tuple(v.shape) for k, v in make_torch().state_dict().items() if "num_batches" not in k}
        model = make_theon()
        got = {}
        for layer in model.layers:
            for tname, (key, convert) in th.io.torch_state.torch_names(layer).items():
                shape = tuple(layer.param(key).type.shape)
                got[f"{layer.name}.{tname}"] = shape[::-1] if convert is not None else shape
        assert got == want
    # torchvision's published parameter counts (running statistics are not parameters there)
    for build, published in ((th.zoo.resnet50, 25_557_032), (th.zoo.mobilenet_v2, 3_504_872)):
        assert sum(int(np.prod(p.type.shape)) for p in build().trainable_params) == published


def test_wrong_architecture_for_the_file_lists_the_problems():
    sd = randomised(TorchResNet(BasicBlock, [2, 2, 2, 2], 8, 10)).state_dict()
    model = th.zoo.resnet34(10, width=1 / 8, input_shape=(3, 32, 32))
    before = model.get_weights()
    with pytest.raises(StateDictError) as info:
        model.load_state_dict(sd)
    assert "missing" in str(info.value) and "layer3.5.conv1.weight" in str(info.value)
    for k, v in model.get_weights().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(StateDictError, match=r"fc.weight: expected shape \(7, 64\)"):
        th.zoo.resnet18(7, width=1 / 8, input_shape=(3, 32, 32), weights=dict(sd))
    with pytest.raises(ValueError, match="width must be a positive"):
        th.zoo.resnet18(width=0)
