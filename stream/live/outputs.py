"""Each output fed by its own thread through a bounded queue, so a slow or failing output never delays the others.

The output clock hands every frame to every :class:`OutputFeed` without waiting (live sources:
a full queue drops the frame and counts it) or waiting for room (file sources: nothing is lost).
An output that fails (a full disk, a dead file system) stops alone, with one log line; the
others carry on. The pipeline stops only when every output has failed.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import DreamError
from stream.io.sinks.base import Sink
from stream.live.queues import StageQueue

log = logging.getLogger(__name__)

_VIDEO, _AUDIO = "video", "audio"


@dataclass(frozen=True)
class OutputState:
    """One output as the stats and the panel show it."""

    name: str
    written: int
    dropped: int
    audio_dropped: int
    connected: bool
    reconnects: int
    failed: str | None  # the one-line reason this output stopped, or None while it runs

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class OutputFeed:
    """Feeds one :class:`Sink` from its own thread; ``block`` waits for room instead of dropping."""

    def __init__(self, sink: Sink, maxsize: int, *, block: bool) -> None:
        self.sink = sink
        self.block = block
        self.queue: StageQueue[tuple[str, np.ndarray, float]] = StageQueue(maxsize)
        self.written = self.dropped = self.audio_dropped = 0
        self.failure: DreamError | None = None
        self.crash: BaseException | None = None  # a bug (not a DreamError): the pipeline re-raises it
        self._thread = threading.Thread(target=self._run, name=f"output {sink.name}", daemon=True)

    @property
    def alive(self) -> bool:
        return self.failure is None and self.crash is None

    def start(self) -> None:
        self._thread.start()

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        if self.alive and not self._put((_VIDEO, image, pts_s)):
            self.dropped += 1

    def write_audio(self, samples: np.ndarray, pts_s: float) -> None:
        if self.alive and not self._put((_AUDIO, samples, pts_s)):
            self.audio_dropped += 1

    def _put(self, item: tuple[str, np.ndarray, float]) -> bool:
        return self.queue.put(item) if self.block else self.queue.offer(item)

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            kind, data, pts = item
            try:
                if kind == _VIDEO:
                    self.sink.write_video(data, pts)
                    self.written += 1
                else:
                    self.sink.write_audio(data, pts)
            except DreamError as e:
                self.failure = e
                log.error("output %s stopped: %s (the other outputs carry on)", self.sink.name, e)
                break
            except BaseException as e:  # noqa: BLE001 - a bug: handed to the pipeline, which re-raises it
                self.crash = e
                break
        if not self.alive:
            self.queue.close()

    def finish(self, timeout_s: float = 30.0) -> None:
        """Write what is queued, then end the thread (the sink itself stays open)."""
        self.queue.finish()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def abort(self) -> None:
        """Discard what is queued and end the thread."""
        self.queue.close()
        if self._thread.is_alive():
            self._thread.join(10)

    def state(self) -> OutputState:
        stats = self.sink.stats
        failed = str(self.failure) if self.failure is not None else None
        return OutputState(self.sink.name, self.written, self.dropped + stats.frames_dropped, self.audio_dropped,
                           stats.connected and failed is None, stats.reconnects, failed)
