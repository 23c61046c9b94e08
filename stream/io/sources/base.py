"""What every input is: a :class:`Source` of :class:`SourceFrame` and :class:`AudioChunk`."""
from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from engine.errors import SourceError
from stream.settings.encoder import AUDIO_RATE

log = logging.getLogger(__name__)


MAX_AUDIO_S = 10.0


@dataclass(frozen=True, eq=False)  # arrays: identity equality
class SourceFrame:
    """One video frame. ``image`` (H, W, 3) uint8 RGB; ``time_s`` monotonic capture time;
    ``pts_s`` media time in seconds; ``index`` counts frames delivered by the source;
    ``holding``: a holding card shown while the input is awaited (not to be dreamed)."""

    image: np.ndarray
    time_s: float
    pts_s: float
    index: int = 0
    holding: bool = False


@dataclass(frozen=True, eq=False)
class AudioChunk:
    """Stereo audio: ``samples`` (2, N) float32 in [-1, 1] at ``rate`` Hz, starting at ``pts_s``."""

    samples: np.ndarray
    pts_s: float
    rate: int = AUDIO_RATE

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.rate


class Source:
    """Base class: a context manager yielding :class:`SourceFrame` from ``read()``.

    ``width``/``height`` are the delivered size; ``fps`` the nominal rate (the
    requested one for testsrc and cameras, the stream's for files and URLs).
    """

    live: bool = True
    width: int = 0
    height: int = 0
    fps: float = 30.0
    has_audio: bool = False
    audio_rate: int = AUDIO_RATE
    name: str = "source"

    def __init__(self) -> None:
        self._audio: deque[AudioChunk] = deque()
        self._audio_lock = threading.Lock()
        self._audio_overflow_logged = False

    def read(self) -> SourceFrame | None:
        """The next frame (blocking), or None at end of stream or after ``close``."""
        raise NotImplementedError

    def read_audio(self) -> list[AudioChunk]:
        """All audio decoded so far and not yet read (may be empty). Never blocks."""
        with self._audio_lock:
            chunks = list(self._audio)
            self._audio.clear()
        return chunks

    def _push_audio(self, chunk: AudioChunk) -> None:
        with self._audio_lock:
            self._audio.append(chunk)
            buffered = sum(c.samples.shape[1] for c in self._audio) / AUDIO_RATE
            while buffered > MAX_AUDIO_S and len(self._audio) > 1:
                buffered -= self._audio.popleft().duration_s
                if not self._audio_overflow_logged:
                    self._audio_overflow_logged = True
                    log.warning("input %s: audio is not being read; dropping the oldest", self.name)

    def close(self) -> None:
        """Release the device/file/connection; safe to call twice."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.width}x{self.height}>"


def check_size(width: int | None, height: int | None, fps: float) -> None:
    for key, value in (("width", width), ("height", height)):
        if value is not None and (not isinstance(value, int) or not 2 <= value <= 7680):
            raise SourceError(f"input {key}={value!r} is out of range; allowed: 2 to 7680 pixels")
    if not (isinstance(fps, (int, float)) and 0 < fps <= 240):
        raise SourceError(f"input fps={fps!r} is out of range; allowed: 0 < fps <= 240")
