"""GoogLeNet (Inception v1 with BatchNorm), keyed like torchvision's ``googlenet``.

The classic DeepDream network. torchvision's published weights (``googlenet-1378be20.pth``,
ported from TensorFlow, BSD-3-Clause) expect ``transform_input=True`` on ImageNet-normalised
input, which amounts to ``(rgb - 0.5) / 0.5``: that is what the ``mean``/``std`` buffers do
here. The auxiliary heads ``aux1``/``aux2`` exist only so the published state dict loads
with every key matched; they are never run, so a state dict without them (torchvision's
``aux_logits=False``, or a user's fine-tune) loads too.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
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

# name, in, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5" (a 3x3 in torchvision), pool proj
INCEPTIONS = (
    ("inception3a", 192, 64, 96, 128, 16, 32, 32),
    ("inception3b", 256, 128, 128, 192, 32, 96, 64),
    ("inception4a", 480, 192, 96, 208, 16, 48, 64),
    ("inception4b", 512, 160, 112, 224, 24, 64, 64),
    ("inception4c", 512, 128, 128, 256, 24, 64, 64),
    ("inception4d", 512, 112, 144, 288, 32, 64, 64),
    ("inception4e", 528, 256, 160, 320, 32, 128, 128),
    ("inception5a", 832, 256, 160, 320, 32, 128, 128),
    ("inception5b", 832, 384, 192, 384, 48, 128, 128),
)
# the max pool that runs before a stage (ceil mode, as in torchvision)
POOL_BEFORE = {"conv2": (3, 2), "inception3a": (3, 2), "inception4a": (3, 2), "inception5a": (2, 2)}


class BasicConv2d(nn.Module):
    """Conv (no bias) + BatchNorm (eps 1e-3) + ReLU: ``(B, cin, H, W) -> (B, cout, H', W')``."""

    def __init__(self, cin: int, cout: int, **kwargs: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn: nn.Module = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))

    def fuse_bn(self) -> None:
        if isinstance(self.bn, nn.BatchNorm2d):
            fuse_conv_bn(self.conv, self.bn)
            self.bn = nn.Identity()


class Inception(nn.Module):
    """Four parallel branches concatenated: ``(B, cin, H, W) -> (B, c1 + c3 + c5 + cp, H, W)``."""

    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, cp: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(cin, c1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(cin, c3r, kernel_size=1), BasicConv2d(c3r, c3, kernel_size=3, padding=1)
        )
        # torchvision uses 3x3 here where the paper has 5x5 (vision issue #906); the weights match it.
        self.branch3 = nn.Sequential(
            BasicConv2d(cin, c5r, kernel_size=1), BasicConv2d(c5r, c5, kernel_size=3, padding=1)
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(cin, cp, kernel_size=1),
        )
        self.out_channels = c1 + c3 + c5 + cp

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier kept for key compatibility only (never run by DreamStream)."""

    def __init__(self, cin: int, num_classes: int) -> None:
        super().__init__()
        self.conv = BasicConv2d(cin, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


class GoogLeNet(DreamModel):
    optional_prefixes = ("aux1.", "aux2.")

    def __init__(self, num_classes: int = 1000) -> None:
        # torchvision's transform_input on ImageNet-normalised input == (rgb - 0.5) / 0.5
        super().__init__(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        for name, *channels in INCEPTIONS:
            self.add_module(name, Inception(*channels))
        self.aux1 = InceptionAux(512, num_classes)
        self.aux2 = InceptionAux(528, num_classes)
        self.fc = nn.Linear(1024, num_classes)

    def stages(self) -> Iterator[tuple[str, Callable[[Tensor], Tensor]]]:
        names = ["conv1", "conv2", "conv3"] + [row[0] for row in INCEPTIONS]
        for name in names:
            yield name, self._stage(name)
        yield LOGITS, lambda x: self.fc(x.mean(dim=(2, 3)))

    def _stage(self, name: str) -> Callable[[Tensor], Tensor]:
        module = getattr(self, name)
        if name not in POOL_BEFORE:
            return module
        k, s = POOL_BEFORE[name]
        return lambda x: module(F.max_pool2d(x, k, s, ceil_mode=True))


def _layers() -> tuple[LayerInfo, ...]:
    notes = {
        "conv1": "colour edges", "conv2": "edges", "conv3": "strokes",
        "inception3a": "fine textures", "inception3b": "textures",
        "inception4a": "patterns, first eyes", "inception4b": "eyes",
        "inception4c": "eyes and dog faces (classic DeepDream)", "inception4d": "animal faces",
        "inception4e": "animals", "inception5a": "objects", "inception5b": "whole objects",
    }
    infos = [LayerInfo("conv1", 64, 2, notes["conv1"]), LayerInfo("conv2", 64, 4, notes["conv2"]),
             LayerInfo("conv3", 192, 4, notes["conv3"])]
    for name, _cin, c1, _c3r, c3, _c5r, c5, cp in INCEPTIONS:
        stride = {"3": 8, "4": 16, "5": 32}[name[len("inception")]]
        infos.append(LayerInfo(name, c1 + c3 + c5 + cp, stride, notes[name]))
    return tuple(infos)


SPEC = register_model(
    ModelSpec(
        name="googlenet",
        description="GoogLeNet (Inception v1), ImageNet; the classic DeepDream network (torchvision weights)",
        layers=_layers(),
        default_layer="inception4c",
        weights=WeightSource(
            filename="googlenet-1378be20.pth",
            url="https://download.pytorch.org/models/googlenet-1378be20.pth",
            sha256="1378be20",
            license="BSD-3-Clause (torchvision)",
        ),
        builder=GoogLeNet,
        aliases={"strokes": "conv3", "textures": "inception3b", "patterns": "inception4a",
                 "eyes": "inception4c", "dogs": "inception4d", "animals": "inception4e",
                 "objects": "inception5b"},
    )
)
