"""The live pipeline: a camera, file or stream in; dreamed video out to Twitch, files and a preview.

Stages run on threads joined by bounded queues that wake their reader on put::

    capture --frames--> dream (flow, warp, steps) --newest--> output clock --> overlay --> one feed per sink
            --audio---------------------------------------------------------^

* capture: a live source keeps only the newest frame (stale frames are dropped and counted);
  a file source blocks and never drops, and the end of the file reaches the dream stage only
  after every frame before it.
* dream: the stage reads the shared :class:`~stream.settings.controls.ControlBoard` once per
  frame, so a chat change applies atomically between frames. A holding card (a frame marked
  ``holding``, shown while a network input is awaited) passes through undreamed.
* output clock: emits frames at a constant rate; when the dream runs behind, the newest
  dreamed frame is repeated so the stream never stalls. Every sink is fed by its own thread
  (:mod:`stream.live.outputs`): a slow output does not delay the others, and an output that
  fails stops alone.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import DreamError
from stream.io.sinks.base import Sink
from stream.io.sources import AudioChunk, Source, SourceFrame
from stream.live.outputs import OutputFeed
from stream.live.overlay import draw_overlay
from stream.live.queues import StageQueue
from stream.live.stats import LiveStats
from stream.settings.live import LiveSettings

log = logging.getLogger(__name__)

OUTPUT_BUFFER_BYTES = 256 << 20
AUDIO_QUEUE_CHUNKS = 2000  # about 20-40 s of decoded audio: more means nobody is taking it


@dataclass(frozen=True)
class Dreamed:
    """The newest dreamed frame: RGB image, capture time (monotonic s), source pts (s), sequence number."""

    image: np.ndarray
    captured_at: float
    pts_s: float
    seq: int


class LivePipeline:
    """Runs capture, dream and output until the source ends, ``duration_s`` passes or :meth:`stop`.

    ``dream`` maps an (H, W, 3) uint8 RGB frame to its dream (a :class:`~stream.live.stage.DreamStage`);
    ``overlay`` returns the lines to draw on the current frame (or None); ``tick`` is called with
    the clock after every output frame (the command layer's timers); ``on_frame`` gets every
    output frame after the overlay (the web panel's preview); ``status`` gives what else
    each stats line carries (``{"controls": ..., "quality": ...}``).
    """

    def __init__(
        self,
        source: Source,
        sinks: Sequence[Sink],
        dream: Callable[[np.ndarray], np.ndarray],
        settings: LiveSettings,
        *,
        duration_s: float | None = None,
        overlay: Callable[[], list[str] | None] | None = None,
        tick: Callable[[float], None] | None = None,
        on_frame: Callable[[np.ndarray], None] | None = None,
        stats_file: str | None = None,
        status: Callable[[], dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source, self.dream, self.settings = source, dream, settings
        self.sinks = list(sinks)
        self.duration_s = duration_s
        self.overlay = overlay
        self.tick = tick
        self.on_frame = on_frame
        self.clock = clock
        self.stats = LiveStats(clock)
        self.stats_file = stats_file
        self.status = status
        self.stop_event = threading.Event()
        self.frames: StageQueue[SourceFrame] = StageQueue(settings.capture_queue)
        self.audio: deque[AudioChunk] = deque()
        self.audio_lock = threading.Lock()
        # Up to 3 s of frames per output, within about 256 MB: enough to ride out a slow moment.
        frame_bytes = settings.width * settings.height * 3
        feed_size = max(4, min(3 * settings.fps, OUTPUT_BUFFER_BYTES // frame_bytes))
        self.feeds = [OutputFeed(s, feed_size, block=not source.live) for s in self.sinks]
        self.newest: Dreamed | None = None
        self._taken = 0  # sequence number of the newest dream the output has sent
        self.newest_lock = threading.Condition()
        self.dream_done = False
        self.error: BaseException | None = None

    def stop(self) -> None:
        self.stop_event.set()
        self.frames.close()
        with self.newest_lock:
            self.newest_lock.notify_all()

    # -- capture
    def _capture(self) -> None:
        try:
            while not self.stop_event.is_set():
                frame = self.source.read()
                if frame is None:
                    break
                self.stats.add(captured=1)
                self._queue_audio(self.source.read_audio())
                if self.source.live:
                    dropped = self.frames.put_newest(frame)
                    if dropped:
                        self.stats.add(dropped=dropped)
                elif not self.frames.put(frame):
                    break  # stopped while waiting for room
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            self.error = e
            self.stop()
        finally:
            self.frames.finish()

    def _queue_audio(self, chunks: list[AudioChunk]) -> None:
        with self.audio_lock:
            for chunk in chunks:
                if len(self.audio) >= AUDIO_QUEUE_CHUNKS:
                    self.audio.popleft()
                    self.stats.add(audio_dropped=1)
                self.audio.append(chunk)

    # -- dream
    def _dream(self) -> None:
        seq = 0
        try:
            while (frame := self.frames.get()) is not None:
                seq += 1
                if frame.holding:  # a holding card while the input is awaited: shown as it is
                    image = frame.image
                else:
                    image = self.dream(frame.image)
                    self.stats.add(dreamed=1)
                with self.newest_lock:
                    # A file source must not lose frames: wait until the output took the last one.
                    while (not self.source.live and self.newest is not None
                           and self.newest.seq > self._taken and not self.stop_event.is_set()):
                        self.newest_lock.wait()
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
                self.newest_lock.wait()
            first = self.newest
        if first is None:
            return
        start = self.clock()
        pts0 = first.pts_s
        last_seq = 0
        n = 0
        next_stats = start + s.stats_interval_s
        while not self.stop_event.is_set():
            delay = start + n * period - self.clock()
            if delay > 0 and self.stop_event.wait(delay):
                break
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
            for feed in self.feeds:
                feed.write_video(image, pts)
            self._audio(pts0)
            if self.on_frame is not None:
                self.on_frame(image)
            self.stats.add(output=1)
            n += 1
            self._check_outputs()
            if self.tick is not None:
                self.tick(self.clock())
            if self.duration_s is not None and n >= round(self.duration_s * s.fps):
                break
            if self.clock() >= next_stats:
                self._report()
                next_stats += s.stats_interval_s

    def _audio(self, pts0: float) -> None:
        with self.audio_lock:
            chunks = list(self.audio)
            self.audio.clear()
        for chunk in chunks:
            pts = chunk.pts_s - pts0
            if pts + chunk.duration_s <= 0:
                continue
            for feed in self.feeds:
                feed.write_audio(chunk.samples, pts)

    def _check_outputs(self) -> None:
        for feed in self.feeds:
            if feed.crash is not None:
                raise feed.crash
        if self.feeds and not any(feed.alive for feed in self.feeds):
            raise self.feeds[0].failure or DreamError("every output failed")

    def outputs(self) -> list[dict[str, Any]]:
        """Each output's state (name, frames written and dropped, connected, why it failed)."""
        return [feed.state().as_dict() for feed in self.feeds]

    def _report(self) -> dict[str, Any]:
        r = self.stats.report()
        r["outputs"] = self.outputs()
        if self.status is not None:
            r.update(self.status())
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
        for feed in self.feeds:
            feed.start()
        for t in threads:
            t.start()
        try:
            self._output()
        except BaseException as e:  # noqa: BLE001 - re-raised below, after the threads have stopped
            self.error = self.error or e
        finally:
            self.stop()
            for t in threads:
                t.join(timeout=10)
            for feed in self.feeds:
                feed.finish()
            self._report()
        if self.error is not None:
            raise self.error
        st = self.stats
        return {
            "captured": st.captured, "dreamed": st.dreamed, "output": st.output,
            "dropped": st.dropped, "repeated": st.repeated, "audio_dropped": st.audio_dropped,
            "output_dropped": sum(f.dropped for f in self.feeds),
            "latency_p50_ms": st.run_latency_ms(50),
            "latency_p95_ms": st.run_latency_ms(95),
        }
