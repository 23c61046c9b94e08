"""The ``video`` section: how a video is dreamed over time, and how a long one is split into chunks."""
from __future__ import annotations

from dataclasses import dataclass

from engine.fields import Rule, setting
from engine.temporal import TemporalSettings


@dataclass(frozen=True)
class VideoSettings(TemporalSettings):
    """:class:`TemporalSettings` plus the chunking of ``dreamstream video --workers N | --resume``.

    ``chunk_s``: a scene longer than this (seconds) is split into chunks of about this length.
    ``chunk_overlap``: frames dreamed before a chunk that starts inside a scene, then thrown away,
    so the carried dream is warm at the seam (cost: that many frames per such chunk).
    """

    chunk_s: float = setting(20.0, Rule(0.1, 86_400.0),
        "--workers N / --resume: scenes longer than this (s) are split into chunks")
    chunk_overlap: int = setting(24, Rule(0, 10_000),
        "frames dreamed before a chunk that starts inside a scene, then dropped (warm seam)")
