"""The sink interface every output follows, and the null output."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from engine.errors import SinkError
from stream.settings.encoder import EncoderSettings


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
    """

    name: str = "sink"

    @abstractmethod
    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        """Encode one frame shown at ``pts_s`` seconds (caller's clock)."""

    def write_audio(self, samples: np.ndarray, pts_s: float) -> None:
        """Encode ``samples`` (2, N) float32 starting at ``pts_s`` seconds. Default: ignored."""

    @abstractmethod
    def close(self) -> None:
        """Flush and finalise; safe to call twice."""

    @property
    def stats(self) -> SinkStats:
        return SinkStats()

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
        self.name = "null"
        self.settings = settings
        self._frames = 0

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        check_image(image, self.settings, self.name)
        self._frames += 1

    def close(self) -> None:
        pass

    @property
    def stats(self) -> SinkStats:
        return SinkStats(frames_written=self._frames)
