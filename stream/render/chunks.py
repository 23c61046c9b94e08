"""Split a video's frames into chunks that separate workers can dream (pure planning, no I/O).

Chunks are cut at scene cuts, where the dream restarts anyway, so a chunk that starts at a cut
is dreamed exactly as a single pass would dream it. A scene longer than about ``chunk_s``
seconds is split into pieces of about that length; a piece that starts inside a scene begins
``overlap`` frames early (within the previous piece): over those *lead-in* frames the carried
dream warms up, and then the output fades from the previous chunk's dream to this one's
(:func:`fade_weights`), so the seam does not jump. Consecutive short scenes share a chunk (up to
``chunk_s``); the dreamer restarts at their cuts by itself.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class Chunk:
    """Frames ``start`` to ``stop - 1`` of the video (0 = the first frame dreamed), kept in the output.

    ``lead_in`` frames before ``start`` are dreamed first (warm-up, then a fade from the previous chunk);
    ``first`` is where reading starts. The chunk's file holds every dreamed frame, lead-in included.
    """

    index: int
    start: int
    stop: int
    lead_in: int = 0

    @property
    def first(self) -> int:
        return self.start - self.lead_in

    @property
    def frames(self) -> int:
        """Frames kept in the output."""
        return self.stop - self.start

    @property
    def dreamed(self) -> int:
        """Frames dreamed, lead-in included."""
        return self.stop - self.first

    @property
    def name(self) -> str:
        """The chunk's file name in the work folder."""
        return f"chunk_{self.index:05d}.mkv"

    def describe(self) -> str:
        return f"chunk {self.index} (frames {self.start}-{self.stop - 1})"


def scenes(frame_count: int, cuts: Sequence[int]) -> list[tuple[int, int]]:
    """``(start, stop)`` of each scene of ``frame_count`` frames whose new scenes begin at ``cuts``."""
    edges = [0, *sorted({c for c in cuts if 0 < c < frame_count}), frame_count]
    return list(pairwise(edges))


def plan_chunks(frame_count: int, cuts: Sequence[int], chunk_frames: int, overlap: int) -> list[Chunk]:
    """Chunks covering ``frame_count`` frames, cut at ``cuts`` (frame indices where a scene begins).

    ``chunk_frames``: the target chunk length (``chunk_s`` times the frame rate), at least 1.
    ``overlap``: lead-in frames for a chunk that starts inside a scene.
    """
    if chunk_frames < 1 or overlap < 0:
        raise ValueError(f"chunk_frames {chunk_frames} must be >= 1 and overlap {overlap} >= 0")
    pieces: list[tuple[int, int, int, bool]] = []  # (start, stop, lead_in, starts at a cut or the beginning)
    for a, b in scenes(frame_count, cuts):
        count = max(1, round((b - a) / chunk_frames))
        edges = [a + math.floor(i * (b - a) / count) for i in range(count)] + [b]
        for i, (s, e) in enumerate(pairwise(edges)):
            lead_in = min(overlap, s - edges[i - 1]) if i else 0  # within the previous piece of its scene
            pieces.append((s, e, lead_in, i == 0))
    chunks: list[Chunk] = []
    for s, e, lead_in, at_cut in pieces:
        last = chunks[-1] if chunks else None
        if last is not None and at_cut and (e - last.start) <= chunk_frames:
            chunks[-1] = Chunk(last.index, last.start, e, last.lead_in)  # short scenes share a chunk
        else:
            chunks.append(Chunk(len(chunks), s, e, lead_in))
    return chunks


def fade_weights(lead_in: int) -> list[float]:
    """Weight of a chunk's own dream on each of its ``lead_in`` frames, against the previous chunk's.

    The first half only warms up the carried dream (weight 0: the previous chunk's frames are kept);
    over the second half the output fades linearly to this chunk's dream, which has it from
    ``start`` on. Two dreams of one scene never agree pixel for pixel (a dream amplifies what it
    already holds, so two starts stay different), and a fade spreads the change over several frames.
    """
    warm = lead_in // 2
    fade = lead_in - warm
    return [0.0] * warm + [(j + 1) / (fade + 1) for j in range(fade)]


def chunk_frames(chunk_s: float, fps: float) -> int:
    """The target chunk length in frames for ``chunk_s`` seconds at ``fps``."""
    return max(1, round(chunk_s * fps))
