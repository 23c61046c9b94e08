"""A preset's dream settings for a running ``live``: what ``!preset NAME`` switches to."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.dream import DreamSettings
from stream.settings.live import live_class_dream
from stream.settings.loader import load_config


@dataclass(frozen=True)
class DreamPreset:
    """The ``dream`` and (live) ``class_dream`` settings of one preset."""

    name: str
    dream: DreamSettings
    class_dream: DreamSettings


PresetLoader = Callable[[str], DreamPreset]
"""``name -> DreamPreset``; raises :class:`~engine.errors.ConfigError` for a preset that does not load."""


def load_dream_preset(
    name: str, user_file: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> DreamPreset:
    """Preset ``name`` through the one loader, with the same ``--config`` file and flags on top.

    The class settings are the live ones (:func:`live_class_dream`), as when ``live`` starts.
    """
    cfg = load_config(name, user_file, overrides)
    return DreamPreset(name, cfg.dream, live_class_dream(cfg.class_dream, cfg.dream, cfg.section("live")))
