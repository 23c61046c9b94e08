"""The live dream's settings as the product builds them (the shipped ``live`` and ``video`` sections), for tests."""
from __future__ import annotations

import dataclasses
from typing import Any

from engine.live_dream import LiveDreamSettings
from stream.settings.live import live_temporal
from stream.settings.loader import load_config


def live_dream_settings(for_class: bool = False, **changes: Any) -> LiveDreamSettings:
    """:func:`live_temporal` of the shipped config (a class dream's bounds with ``for_class``), with ``changes``."""
    cfg = load_config()
    return dataclasses.replace(live_temporal(cfg.section("video"), cfg.section("live"), for_class), **changes)
