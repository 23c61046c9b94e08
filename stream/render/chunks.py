"""Split a video's frames into chunks that separate workers can dream (pure planning, no I/O).

Chunks are cut at scene cuts, where the dream restarts anyway, so a chunk that starts at a cut
is dreamed exactly as a single pass would dream it. A scene longer than about ``chunk_s``
seconds is split into pieces of about that length; a piece that starts inside a scene begins
``overlap`` frames early (never before its scene's first frame): those *lead-in* frames are
dreamed only to warm up the carried dream, then thrown away, so the seam matches. Consecutive
short scenes share a chunk (up to ``chunk_s``); the dreamer restarts at their cuts by itself.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    """Frames ``start`` to ``stop - 1`` of the video (0 = the first frame dreamed), kept in the output.

    ``lead_in`` frames before ``start`` are dreamed first and dropped; ``first`` is where reading starts.
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
    return [(a, b) for a, b in zip(edges, edges[1:])]


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
        for i, (s, e) in enumerate(zip(edges, edges[1:])):
            pieces.append((s, e, min(overlap, s - a), i == 0))
    chunks: list[Chunk] = []
    for s, e, lead_in, at_cut in pieces:
        last = chunks[-1] if chunks else None
        if last is not None and at_cut and (e - last.start) <= chunk_frames:
            chunks[-1] = Chunk(last.index, last.start, e, last.lead_in)  # short scenes share a chunk
        else:
            chunks.append(Chunk(len(chunks), s, e, lead_in))
    return chunks


def chunk_frames(chunk_s: float, fps: float) -> int:
    """The target chunk length in frames for ``chunk_s`` seconds at ``fps``."""
    return max(1, round(chunk_s * fps))
