"""The live pipeline: a camera, file or stream in; dreamed video out to Twitch, files and a preview.

Stages run on threads joined by bounded queues::

    capture --frames--> dream (flow, warp, steps) --newest--> output clock --> overlay --> sinks
            --audio---------------------------------------------------------^

* capture: a live source keeps only the newest frame (stale frames are dropped to bound
  latency); a file source blocks and never drops.
* dream: reads the shared :class:`~stream.control.ControlBoard` once per frame, so a chat
  change applies atomically between frames; carries the dream along the optical flow.
* output clock: emits frames at a constant rate; when the dream runs behind, the newest
  dreamed frame is repeated so the stream never stalls. Each sink encodes on its own thread
  and reconnects on its own (see :mod:`stream.sinks`).
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from stream.live.overlay import draw_overlay
from stream.live.stats import LiveStats
from stream.settings.live import LiveSettings

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- stats


# ---------------------------------------------------------------------------- dream stage


@dataclass
class Dreamed:
    """The newest dreamed frame: RGB image, capture time (monotonic s), source pts (s), sequence number."""

    image: np.ndarray
    captured_at: float
    pts_s: float
    seq: int


# ---------------------------------------------------------------------------- overlay


# ---------------------------------------------------------------------------- pipeline


class _End:
    """End-of-stream marker passed through the queues."""


END = _End()


class LivePipeline:
    """Runs capture, dream and output until the source ends, ``duration_s`` passes or :meth:`stop`.

    ``source`` follows :class:`stream.sources.Source`; each sink follows :class:`stream.sinks.Sink`.
    ``overlay`` returns the lines to draw for the current frame (or None).
    """

    def __init__(
        self,
        source: Any,
        sinks: Sequence[Any],
        dream: Callable[[np.ndarray], np.ndarray],
        settings: LiveSettings,
        *,
        duration_s: float | None = None,
        overlay: Callable[[], list[str] | None] | None = None,
        tick: Callable[[float], None] | None = None,
        stats_file: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source, self.sinks, self.dream, self.settings = source, list(sinks), dream, settings
        self.duration_s = duration_s
        self.overlay = overlay
        self.tick = tick
        self.clock = clock
        self.stats = LiveStats(clock)
        self.stats_file = stats_file
        self.stop_event = threading.Event()
        self.frames: queue.Queue[Any] = queue.Queue(maxsize=settings.capture_queue)
        self.audio: queue.Queue[Any] = queue.Queue(maxsize=2000)
        self.newest: Dreamed | None = None
        self._taken = 0  # sequence number of the newest dream the output has sent
        self.newest_lock = threading.Condition()
        self.dream_done = False
        self.error: BaseException | None = None

    def stop(self) -> None:
        self.stop_event.set()
        with self.newest_lock:
            self.newest_lock.notify_all()

    # -- capture
    def _capture(self) -> None:
        live = bool(getattr(self.source, "live", True))
        try:
            while not self.stop_event.is_set():
                frame = self.source.read()
                if frame is None:
                    break
                self.stats.add(captured=1)
                for chunk in self.source.read_audio():
                    try:
                        self.audio.put_nowait(chunk)
                    except queue.Full:
                        pass
                if live:
                    while True:
                        try:
                            self.frames.put_nowait(frame)
                            break
                        except queue.Full:
                            try:
                                self.frames.get_nowait()
                                self.stats.add(dropped=1)
                            except queue.Empty:
                                pass
                else:
                    while not self.stop_event.is_set():
                        try:
                            self.frames.put(frame, timeout=0.1)
                            break
                        except queue.Full:
                            continue
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            self.error = e
            self.stop()
        finally:
            self._put_end()

    def _put_end(self) -> None:
        while True:
            try:
                self.frames.put(END, timeout=0.1)
                return
            except queue.Full:
                try:
                    self.frames.get_nowait()
                except queue.Empty:
                    pass

    # -- dream
    def _dream(self) -> None:
        seq = 0
        try:
            while not self.stop_event.is_set():
                try:
                    frame = self.frames.get(timeout=0.1)
                except queue.Empty:
                    continue
                if frame is END:
                    break
                image = self.dream(frame.image)
                seq += 1
                self.stats.add(dreamed=1)
                with self.newest_lock:
                    # A file source must not lose frames: wait until the output took the last one.
                    while (not getattr(self.source, "live", True) and self.newest is not None
                           and self.newest.seq > self._taken and not self.stop_event.is_set()):
                        self.newest_lock.wait(0.1)
                    self.newest = Dreamed(image, frame.time_s, frame.pts_s, seq)
                    self.newest_lock.notify_all()
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            self.error = e
            self.stop()
        finally:
            with self.newest_lock:
                self.dream_done = True
                self.newest_lock.notify_all()

    # -- output (runs on the calling thread)
    def _output(self) -> None:
        s = self.settings
        period = 1.0 / s.fps
        with self.newest_lock:
            while self.newest is None and not self.dream_done and not self.stop_event.is_set():
                self.newest_lock.wait(0.1)
            first = self.newest
        if first is None:
            return
        start = self.clock()
        pts0 = first.pts_s
        last_seq = 0
        n = 0
        next_stats = start + s.stats_interval_s
        while not self.stop_event.is_set():
            target = start + n * period
            delay = target - self.clock()
            if delay > 0:
                time.sleep(delay)
            with self.newest_lock:
                current = self.newest
                done = self.dream_done
            assert current is not None
            if current.seq == last_seq:
                if done:
                    break
                self.stats.add(repeated=1)
            else:
                self.stats.latency(self.clock() - current.captured_at)
                last_seq = current.seq
                with self.newest_lock:
                    self._taken = current.seq
                    self.newest_lock.notify_all()
            image = current.image
            if self.overlay is not None:
                lines = self.overlay()
                if lines:
                    image = draw_overlay(image, lines)
            pts = n * period
            for sink in self.sinks:
                sink.write_video(image, pts)
            self._audio(pts0)
            self.stats.add(output=1)
            n += 1
            if self.tick is not None:
                self.tick(self.clock())
            if self.duration_s is not None and n >= round(self.duration_s * s.fps):
                break
            if self.clock() >= next_stats:
                self._report()
                next_stats += s.stats_interval_s

    def _audio(self, pts0: float) -> None:
        while True:
            try:
                chunk = self.audio.get_nowait()
            except queue.Empty:
                return
            pts = chunk.pts_s - pts0
            if pts + chunk.duration_s <= 0:
                continue
            for sink in self.sinks:
                sink.write_audio(chunk.samples, pts)

    def _report(self) -> dict[str, Any]:
        r = self.stats.report()
        p50, p95 = r["latency_p50_ms"], r["latency_p95_ms"]
        log.info(
            "input %.1f fps | dreamed %.1f fps | output %.1f fps | latency p50 %s p95 %s ms | dropped %d | repeated %d",
            r["input_fps"], r["dreamed_fps"], r["output_fps"], p50, p95, r["dropped"], r["repeated"],
        )
        if self.stats_file:
            with open(self.stats_file, "a") as f:
                f.write(json.dumps(r) + "\n")
        return r

    def run(self) -> dict[str, Any]:
        """Run to the end; returns the whole run's stats. Re-raises a stage's error."""
        threads = [threading.Thread(target=self._capture, name="capture", daemon=True),
                   threading.Thread(target=self._dream, name="dream", daemon=True)]
        for t in threads:
            t.start()
        try:
            self._output()
        finally:
            self.stop()
            for t in threads:
                t.join(timeout=10)
            self._report()
        if self.error is not None:
            raise self.error
        return {
            "captured": self.stats.captured, "dreamed": self.stats.dreamed, "output": self.stats.output,
            "dropped": self.stats.dropped, "repeated": self.stats.repeated,
            "latency_p50_ms": self.stats.run_latency_ms(50),
            "latency_p95_ms": self.stats.run_latency_ms(95),
        }


# ---------------------------------------------------------------------------- CLI
