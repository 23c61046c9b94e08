"""VGG16 and VGG19 (no BatchNorm), keyed like torchvision's ``vgg16``/``vgg19``.

``features.N`` holds the convolutions at torchvision's indices (ReLU and max-pool slots
keep their index without parameters), ``classifier.0/3/6`` the three linear layers.
Stages are ``convK_J`` (after its ReLU) and ``poolK``; the 7x7 average pool before the
classifier is adaptive, so any input size works. Weights: torchvision (BSD-3-Clause).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

import torch.nn.functional as F
from torch import Tensor, nn

from engine.models.registry import LOGITS, DreamModel, LayerInfo, ModelSpec, WeightSource, register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# output channels and number of convolutions per block (torchvision configs "D" and "E")
CONFIGS = {
    "vgg16": ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)),
    "vgg19": ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4)),
}


def _plan(config: tuple[tuple[int, int], ...]) -> list[tuple[str, int | None, int, int]]:
    """``(stage name, features index or None for a pool, in channels, out channels)`` in order."""
    plan: list[tuple[str, int | None, int, int]] = []
    index, cin = 0, 3
    for block, (cout, convs) in enumerate(config, start=1):
        for j in range(1, convs + 1):
            plan.append((f"conv{block}_{j}", index, cin, cout))
            index, cin = index + 2, cout  # conv, relu
        plan.append((f"pool{block}", None, cout, cout))
        index += 1
    return plan


def _relu_conv(conv: nn.Conv2d, x: Tensor) -> Tensor:
    return F.relu(conv(x))


def _pool(x: Tensor) -> Tensor:
    return F.max_pool2d(x, 2, 2)


class VGG(DreamModel):
    """``(B, 3, H, W)`` RGB in ``[0, 1]``; any ``H, W >= 32``."""

    def __init__(self, arch: str, num_classes: int = 1000) -> None:
        super().__init__(IMAGENET_MEAN, IMAGENET_STD)
        self.plan = _plan(CONFIGS[arch])
        slots: list[nn.Module] = []
        for _name, index, cin, cout in self.plan:
            if index is None:
                slots.append(nn.MaxPool2d(2, 2))
            else:
                slots += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]
        # registered as "features" for torchvision's keys (the name DreamModel.features
        # already holds, so add_module refuses it); read it back through `trunk`
        self._modules["features"] = nn.Sequential(*slots)
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, num_classes),
        )

    @property
    def trunk(self) -> nn.Sequential:
        """The ``features`` submodule (the attribute name is shadowed by ``DreamModel.features``)."""
        return self._modules["features"]  # type: ignore[return-value]

    def stages(self) -> Iterator[tuple[str, Callable[[Tensor], Tensor]]]:
        trunk = self.trunk
        for name, index, _cin, _cout in self.plan:
            yield name, _pool if index is None else partial(_relu_conv, trunk[index])
        yield LOGITS, self._logits

    def _logits(self, x: Tensor) -> Tensor:
        x = F.adaptive_avg_pool2d(x, (7, 7)).flatten(1)
        fc1, fc2, fc3 = self.classifier[0], self.classifier[3], self.classifier[6]
        return fc3(F.relu(fc2(F.relu(fc1(x)))))


def _layers(arch: str) -> tuple[LayerInfo, ...]:
    notes = {1: "colour edges", 2: "strokes", 3: "textures", 4: "patterns, eyes, faces", 5: "objects"}
    infos = []
    for name, index, _cin, cout in _plan(CONFIGS[arch]):
        block = int(name[4])
        stride = 2 ** block if index is None else 2 ** (block - 1)
        infos.append(LayerInfo(name, cout, stride, notes[block]))
    return tuple(infos)


def _aliases(arch: str) -> dict[str, str]:
    last = {block: convs for block, (_c, convs) in enumerate(CONFIGS[arch], start=1)}
    aliases = {f"relu{name[4:]}": name for name, index, _ci, _co in _plan(CONFIGS[arch]) if index is not None}
    aliases.update({"strokes": f"conv2_{last[2]}", "textures": f"conv3_{last[3]}", "patterns": "conv4_1",
                    "eyes": f"conv4_{last[4]}", "dogs": "conv5_1", "animals": "conv5_2",
                    "objects": f"conv5_{last[5]}"})
    return aliases


def _register(arch: str, filename: str, default_layer: str) -> ModelSpec:
    return register_model(
        ModelSpec(
            name=arch,
            description=f"{arch.upper()}, ImageNet (torchvision weights); strong textures, large and slow",
            layers=_layers(arch),
            default_layer=default_layer,
            weights=WeightSource(
                filename=filename,
                url=f"https://download.pytorch.org/models/{filename}",
                sha256=filename.rsplit("-", 1)[1].split(".")[0],
                license="BSD-3-Clause (torchvision)",
            ),
            builder=partial(VGG, arch),
            aliases=_aliases(arch),
        )
    )


VGG16_SPEC = _register("vgg16", "vgg16-397923af.pth", "conv4_3")
VGG19_SPEC = _register("vgg19", "vgg19-dcbb9e9d.pth", "conv4_4")
