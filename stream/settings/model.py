"""Settings of the model section: what to dream with and what to amplify."""
from __future__ import annotations

from dataclasses import dataclass

from engine.fields import Rule, setting


@dataclass(frozen=True)
class ModelSettings:
    """What to dream with and what to amplify."""

    name: str = setting("efficientnet_lite0", help="dreamstream models")
    weights: str | None = setting(None, help="a .pth state dict; null = the package or the download cache")
    device: str = setting("auto", help="auto, cpu, cuda, cuda:N, mps")
    threads: int = setting(
        0, Rule(0, 256), "torch threads; 0 = auto: the cores other processes leave (stream.io.cpu_share)"
    )
    layers: tuple[str, ...] = setting((), Rule(items=16),
        "empty = the model's default layer (dreamstream layers MODEL)")
    channels: tuple[int, ...] = setting((), Rule(0, 65535, items=64), "dream only these channels of the (first) layer")
    target: str | None = setting(None, help="an ImageNet class name, synonym or index (dreamstream targets QUERY)")
    guide: str | None = setting(None, help="a guide image whose features the dream matches")
    guide_weight: float = setting(1.0, Rule(0.0, 100.0), "the guide's weight against the layers' objective")
