"""Settings of the model section: what to dream with and what to amplify."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSettings:
    """What to dream with and what to amplify."""

    name: str = "efficientnet_lite0"
    weights: str | None = None
    device: str = "auto"
    threads: int = 0  # torch intra-op threads; 0 = auto: the cores other processes leave (stream.io.cpu_share)
    layers: tuple[str, ...] = ()  # empty = the model's default layer
    channels: tuple[int, ...] = ()
    target: str | None = None
    guide: str | None = None
    guide_weight: float = 1.0
