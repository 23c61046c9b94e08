"""One pass over the input before any chunk is dreamed: every frame's timestamp and the scene cuts.

The cuts are found exactly as :class:`engine.temporal.TemporalDreamer` finds them while dreaming
(:func:`engine.flow.cut_score` of consecutive frames, grey at the dream's size, against
``cut_threshold``), so a chunk that starts at a cut starts where a single pass restarts the dream.
Reading the whole input also proves it decodes before any worker starts.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from engine.errors import SourceError
from engine.flow import cut_score
from engine.temporal import TemporalSettings, dream_size, scene_gray
from stream.io.video.info import VideoInfo
from stream.io.video.reader import VideoReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """The part of the input that is dreamed (``dreamstream video --start --duration --max-frames``)."""

    start_s: float = 0.0
    duration_s: float | None = None
    max_frames: int | None = None


@dataclass(frozen=True)
class Scan:
    """The frames of the window: ``pts[i]`` of frame ``i`` (input time base); new scenes begin at ``cuts``."""

    pts: tuple[int, ...]
    cuts: tuple[int, ...]
    origin: int  # pts of the video stream's start (what VideoReader's start_s counts from)
    time_base: Fraction
    truncated: bool

    @property
    def frames(self) -> int:
        return len(self.pts)

    def start_s(self, index: int) -> float:
        """``start_s`` for a :class:`VideoReader` whose first frame is frame ``index``."""
        return float((self.pts[index] - self.origin) * self.time_base)


def scan_input(
    path: str,
    window: Window,
    settings: TemporalSettings,
    progress: Callable[[int], None] | None = None,
) -> tuple[VideoInfo, Scan]:
    """Decode the window of ``path`` once; SourceError if nothing decodes. ``progress(frames)`` per frame."""
    pts: list[int] = []
    cuts: list[int] = []
    with VideoReader(
        path, start_s=window.start_s, duration_s=window.duration_s, max_frames=window.max_frames
    ) as reader:
        info = reader.info
        length = info.duration_s
        if window.start_s and length and window.start_s >= length:
            raise SourceError(f"--start {window.start_s:g} s is past the end of {path!r}; allowed 0 to {length:.3g} s")
        size = dream_size(settings, reader.height, reader.width)  # upright
        detect = settings.flow != "none"  # without flow every frame is dreamed afresh: no scenes to find
        prev = None
        for frame in reader:
            if detect:
                gray = scene_gray(frame.image, size)
                if prev is not None and cut_score(prev, gray) >= settings.cut_threshold:
                    cuts.append(len(pts))
                prev = gray
            pts.append(frame.pts)
            if progress is not None:
                progress(len(pts))
        truncated = reader.truncated
    if not pts:
        raise SourceError(f"{path}: no frame decoded" + (f" from {window.start_s:g} s" if window.start_s else ""))
    log.debug("%s: %d frames, %d scene cuts", path, len(pts), len(cuts))
    origin = round(Fraction(info.start_s) / info.time_base)
    return info, Scan(tuple(pts), tuple(cuts), origin, info.time_base, truncated)
