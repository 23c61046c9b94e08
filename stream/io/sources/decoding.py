"""What every PyAV input shares: the pts timeline and decoding video with its sound."""
from __future__ import annotations

import time

import numpy as np

from stream.io.sources.base import AudioChunk, Source, SourceFrame
from stream.io.video.reader import VideoReader
from stream.settings.encoder import AUDIO_RATE


class Timeline:
    """Keeps ``pts_s`` increasing across restarts (file loops, reconnects)."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self.offset = 0.0
        self.last: float | None = None
        self.restarted = False

    def restart(self) -> None:
        self.restarted = True

    def video(self, t: float | None) -> float:
        if t is None:
            t = (self.last - self.offset + self.period) if self.last is not None else 0.0
        if self.restarted:
            self.restarted = False
            if self.last is not None:
                self.offset = self.last + self.period - t
        pts = t + self.offset
        if self.last is not None and pts <= self.last:
            pts = self.last + self.period
        self.last = pts
        return pts

    def audio(self, t: float) -> float:
        return t + self.offset


class AvSource(Source):
    """Shared machinery of file, URL and camera sources: frames and sound from the one :class:`VideoReader`.

    Times are seconds from the input's start (its container's start time, else its first timestamp).
    """

    _reader: VideoReader | None = None

    def _start(self, reader: VideoReader) -> VideoReader:
        self._reader = reader
        self._frames_iter = iter(reader)
        self._origin_s = reader.origin_s
        self._audio_end_s = 0.0
        return reader

    def _relative(self, t: float) -> float:
        if self._origin_s is None:
            self._origin_s = t
        return t - self._origin_s

    def _next_video(self) -> tuple[np.ndarray, float] | None:
        """(image, seconds from the start), or None at the end (or when the input broke: ``truncated``)."""
        frame = next(self._frames_iter, None)
        return None if frame is None else (frame.image, self._relative(frame.time_s))

    def _pump_audio(self) -> None:
        reader = self._reader
        if reader is None:
            return
        while reader.audio_chunks:
            samples, t = reader.audio_chunks.popleft()
            start = self._relative(t) if t is not None else self._audio_end_s  # no timestamp: follow on
            self._audio_end_s = start + samples.shape[1] / AUDIO_RATE
            self._push_audio(AudioChunk(samples, self._timeline.audio(start)))

    def _frame(self, image: np.ndarray, t: float | None) -> SourceFrame:
        frame = SourceFrame(image, time.monotonic(), self._timeline.video(t), self._index)
        self._index += 1
        self._pump_audio()
        return frame
