"""ResNet-50 (v1.5, stride on the 3x3 conv), keyed like torchvision's ``resnet50``.

Weights: torchvision ``IMAGENET1K_V1`` (``resnet50-0676ba61.pth``, BSD-3-Clause), the
original recipe. The V2 weights score higher on ImageNet but were trained with heavy
augmentation and label smoothing, which tends to make less legible dreams.
Stages: ``stem`` (conv, bn, relu, max pool) then one per bottleneck block (``layer3.2``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import torch.nn.functional as F
from torch import Tensor, nn

from engine.models.registry import (
    LOGITS,
    DreamModel,
    LayerInfo,
    ModelSpec,
    WeightSource,
    fuse_conv_bn,
    register_model,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# planes, blocks, stride of the first block
LAYERS = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
EXPANSION = 4


def _fuse_pairs(module: nn.Module, pairs: tuple[tuple[str, str], ...]) -> None:
    for conv, bn in pairs:
        if isinstance(getattr(module, bn), nn.BatchNorm2d):
            fuse_conv_bn(getattr(module, conv), getattr(module, bn))
            setattr(module, bn, nn.Identity())


class Bottleneck(nn.Module):
    """1x1, 3x3 (stride), 1x1 with a residual: ``(B, cin, H, W) -> (B, 4 planes, H/s, W/s)``."""

    def __init__(self, cin: int, planes: int, stride: int) -> None:
        super().__init__()
        cout = planes * EXPANSION
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1: nn.Module = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, padding=1, bias=False)
        self.bn2: nn.Module = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
        self.bn3: nn.Module = nn.BatchNorm2d(cout)
        self.downsample: nn.Sequential | None = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(h + identity)

    def fuse_bn(self) -> None:
        _fuse_pairs(self, (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")))
        if self.downsample is not None:
            _fuse_pairs(self.downsample, (("0", "1"),))


class ResNet50(DreamModel):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__(IMAGENET_MEAN, IMAGENET_STD)
        self.conv1 = nn.Conv2d(3, 64, 7, 2, padding=3, bias=False)
        self.bn1: nn.Module = nn.BatchNorm2d(64)
        cin = 64
        for i, (planes, blocks, stride) in enumerate(LAYERS, start=1):
            layer = []
            for b in range(blocks):
                layer.append(Bottleneck(cin, planes, stride if b == 0 else 1))
                cin = planes * EXPANSION
            self.add_module(f"layer{i}", nn.Sequential(*layer))
        self.fc = nn.Linear(512 * EXPANSION, num_classes)

    def stages(self) -> Iterator[tuple[str, Callable[[Tensor], Tensor]]]:
        yield "stem", self._stem
        for i in range(1, len(LAYERS) + 1):
            for b, block in enumerate(getattr(self, f"layer{i}")):
                yield f"layer{i}.{b}", block
        yield LOGITS, lambda x: self.fc(x.mean(dim=(2, 3)))

    def _stem(self, x: Tensor) -> Tensor:
        return F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, padding=1)

    def fuse_bn(self) -> None:
        _fuse_pairs(self, (("conv1", "bn1"),))


def _layers() -> tuple[LayerInfo, ...]:
    notes = {"stem": "colour edges", "layer1": "strokes, fine textures", "layer2": "textures, patterns",
             "layer3": "eyes, faces, animal parts", "layer4": "objects"}
    infos = [LayerInfo("stem", 64, 4, notes["stem"])]
    stride = 4
    for i, (planes, blocks, s) in enumerate(LAYERS, start=1):
        stride *= s
        for b in range(blocks):
            infos.append(LayerInfo(f"layer{i}.{b}", planes * EXPANSION, stride, notes[f"layer{i}"]))
    return tuple(infos)


def _aliases() -> dict[str, str]:
    aliases = {f"layer{i}": f"layer{i}.{blocks - 1}" for i, (_p, blocks, _s) in enumerate(LAYERS, start=1)}
    aliases.update({"strokes": "layer1.2", "textures": "layer2.1", "patterns": "layer2.3",
                    "eyes": "layer3.3", "dogs": "layer3.5", "animals": "layer4.0", "objects": "layer4.2"})
    return aliases


SPEC = register_model(
    ModelSpec(
        name="resnet50",
        description="ResNet-50, ImageNet (torchvision IMAGENET1K_V1 weights)",
        layers=_layers(),
        default_layer="layer3.5",
        weights=WeightSource(
            filename="resnet50-0676ba61.pth",
            url="https://download.pytorch.org/models/resnet50-0676ba61.pth",
            sha256="0676ba61",
            license="BSD-3-Clause (torchvision)",
        ),
        builder=ResNet50,
        aliases=_aliases(),
    )
)
