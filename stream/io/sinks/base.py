"""The sink interface every output follows, and the null output."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from engine.errors import SinkError
from stream.settings.encoder import EncoderSettings

MAX_PENDING_AUDIO = 500  # chunks written before the first frame, kept until it sets time zero


@dataclass(frozen=True)
class SinkStats:
    """A snapshot of one output's counters (for the pipeline's stats lines)."""

    frames_written: int = 0
    frames_dropped: int = 0
    reconnects: int = 0
    connected: bool = True


class Sink(ABC):
    """An output. ``write_video``/``write_audio`` are called from one thread; ``close`` finalises.

    Images are (H, W, 3) uint8 RGB of exactly the settings' size; audio is (2, N)
    float32 at ``settings.audio_rate``. Arrays are not copied: do not modify them
    after writing. ``name`` is safe to log (redacted).

    The lifecycle every output shares lives here: ``close`` runs the sink's own ``_finish`` once;
    ``_accept_video``/``_accept_audio`` check what is written and that the output is open;
    ``_tick`` puts a frame on the constant frame rate clock whose time zero is the first frame,
    and ``_hold_audio``/``_held_audio`` keep the sound written before that frame.
    """

    name: str = "sink"
    settings: EncoderSettings | None = None
    _closed: bool = False
    _frames: int = 0

    def __init__(self, name: str, settings: EncoderSettings | None) -> None:
        self.name = name
        self.settings = settings
        self._closed = False
        self._frames = 0  # frames written
        self._t0: float | None = None  # caller's time of the first frame
        self._last_index = -1  # frame index of the last frame
        self._pending_audio: deque[tuple[np.ndarray, float]] = deque()  # before the first frame

    @abstractmethod
    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        """Encode one frame shown at ``pts_s`` seconds (caller's clock)."""

    def write_audio(self, samples: np.ndarray, pts_s: float) -> None:
        """Encode ``samples`` (2, N) float32 starting at ``pts_s`` seconds. Default: ignored."""

    def close(self) -> None:
        """Flush and finalise; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._finish()

    def _finish(self) -> None:
        """The sink's own flushing and finalising (``close`` runs it once)."""

    @property
    def stats(self) -> SinkStats:
        return SinkStats(frames_written=self._frames)

    def _check_open(self) -> None:
        if self._closed:
            raise SinkError(f"output {self.name} is closed")

    def _accept_video(self, image: np.ndarray) -> None:
        """SinkError unless ``image`` fits the settings and the output is open."""
        assert self.settings is not None
        check_image(image, self.settings, self.name)
        self._check_open()

    def _accept_audio(self, samples: np.ndarray) -> bool:
        """False when the output takes no sound; SinkError unless ``samples`` are stereo and the output is open."""
        if self.settings is None or not self.settings.audio:
            return False
        check_audio(samples, self.name)
        self._check_open()
        return True

    def _tick(self, pts_s: float) -> int:
        """The frame index of ``pts_s``: ``round((pts_s - first pts_s) * fps)``, bumped past the last one."""
        assert self.settings is not None
        if self._t0 is None:
            self._t0 = pts_s
        self._last_index = max(round((pts_s - self._t0) * self.settings.fps), self._last_index + 1)
        return self._last_index

    def _hold_audio(self, samples: np.ndarray, pts_s: float) -> bool:
        """Before the first frame (which sets time zero), keep ``samples`` (the newest chunks); True if kept."""
        if self._t0 is not None:
            return False
        self._pending_audio.append((samples, pts_s))
        while len(self._pending_audio) > MAX_PENDING_AUDIO:
            self._pending_audio.popleft()
        return True

    def _held_audio(self) -> Iterator[tuple[np.ndarray, float]]:
        """The chunks kept before the first frame, oldest first, each taken once."""
        while self._pending_audio:
            yield self._pending_audio.popleft()

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def check_image(image: np.ndarray, settings: EncoderSettings, name: str) -> None:
    shape = (settings.height, settings.width, 3)
    if not isinstance(image, np.ndarray) or image.shape != shape or image.dtype != np.uint8:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise SinkError(f"output {name} takes uint8 RGB frames of shape {shape}, got {got}")


def check_audio(samples: np.ndarray, name: str) -> None:
    if not isinstance(samples, np.ndarray) or samples.ndim != 2 or samples.shape[0] != 2:
        got = f"{samples.dtype} {samples.shape}" if isinstance(samples, np.ndarray) else type(samples).__name__
        raise SinkError(f"output {name} takes float32 stereo audio of shape (2, N), got {got}")


class NullSink(Sink):
    """Discards everything (for benchmarks); counts frames."""

    def __init__(self, settings: EncoderSettings) -> None:
        super().__init__("null", settings)

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        check_image(image, self.settings, self.name)
        self._frames += 1
