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
  dreamed frame is repeated so the stream never stalls.
* watchdog (with ``restart``, a way to build a fresh dream stage): a dream that raises (in its step thread, its
  flow, anywhere) shows that frame plain and restarts on a fresh stage, one line saying so; one that stops
  producing for ``live.watchdog_s`` (a hung step) is left behind: the output shows the plain input meanwhile and
  a fresh stage takes over on a new dream thread. Failures in a row wait 1, 2, 4 ... 60 s (plain input) before
  the next try. The chat, the panel and the outputs run on their own threads and never wait for the dream. Every sink is
  fed by its own thread (:mod:`stream.live.outputs`): a slow output does not delay the others, and an output that fails
  stops alone.
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
from stream.io.tuning import heap_mb, release_freed_memory
from stream.live.outputs import OutputFeed
from stream.live.overlay import draw_overlay
from stream.live.queues import StageQueue
from stream.live.stats import LiveStats
from stream.settings.live import LiveSettings

log = logging.getLogger(__name__)

OUTPUT_BUFFER_BYTES = 256 << 20
AUDIO_QUEUE_CHUNKS = 2000  # about 20-40 s of decoded audio: more means nobody is taking it
#: Seconds between two hand-backs of the freed heap to the kernel. The dream keeps freed blocks for reuse
#: (stream.io.tuning.keep_freed_memory); each thread's arena then holds its own peak, and a 30-minute soak's RSS
#: grew 44 MB over its first 20 minutes with the heap in use flat (scripts/bench_soak.py, heap_in_use_mb).
TRIM_EVERY_S = 60.0
#: Seconds of plain input after the n-th failure in a row of the dream (1, 2, 4, ... at most the last).
RETRY_S = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0)

Dream = Callable[[np.ndarray], np.ndarray]


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
    each stats line carries (``{"controls": ..., "quality": ...}``). ``restart`` builds a fresh dream stage for the
    watchdog (None: a failing dream stops the run, as a failing input does); :attr:`dream` is the current one
    (closed by its owner; a stage left behind is closed by its thread when it ends).
    """

    def __init__(
        self,
        source: Source,
        sinks: Sequence[Sink],
        dream: Dream,
        settings: LiveSettings,
        *,
        restart: Callable[[], Dream] | None = None,
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
        self.restart = restart
        self.latest_input: SourceFrame | None = None  # the newest frame read, shown plain while the dream is down
        self._generation = 0  # the dream thread that may publish (a thread left behind by the watchdog may not)
        self._published_at = clock()  # when the dream thread last published a frame
        self._dream_threads: list[threading.Thread] = []
        self._down = False  # the watchdog found the dream down: the output sends the plain input until it is back

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
                self.latest_input = frame
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
    def _dream(self, generation: int, dream: Dream | None) -> None:
        """Dream frames until the input ends (or this thread is left behind); ``dream`` None: build a fresh stage."""
        failures, plain_until = 0, 0.0
        try:
            if dream is None:
                dream = self._fresh_dream()
            while (frame := self.frames.get()) is not None:
                image = frame.image
                if not frame.holding and self.clock() >= plain_until:  # a holding card is shown as it is
                    try:
                        image = dream(frame.image)
                        self.stats.add(dreamed=1)
                        failures = 0
                    except Exception as e:  # a step, the flow, a worker: the dream restarts, the stream goes on
                        if self.restart is None:
                            raise
                        if generation != self._generation:
                            return  # left behind by the watchdog: the thread after it dreams now
                        failures += 1
                        plain_until = self.clock() + (RETRY_S[min(failures, len(RETRY_S)) - 1] if failures > 1 else 0.0)
                        log.warning("the dream failed (%s: %s)%s; it restarts on a fresh stage, the input shown plain "
                                    "meanwhile", type(e).__name__, str(e)[:200],
                                    f", {failures} times in a row" if failures > 1 else "")
                        self.stats.add(restarts=1)
                        _close(dream)
                        dream = self._fresh_dream()
                if not self._publish(generation, frame, image):
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            if generation == self._generation:
                self.error = e
                self.stop()
        finally:
            if generation == self._generation:
                with self.newest_lock:
                    self.dream_done = True
                    self.newest_lock.notify_all()
            elif dream is not None:
                _close(dream)  # a stage the watchdog left behind, done at last

    def _fresh_dream(self) -> Dream:
        """A fresh dream stage from ``restart``, made the current one."""
        assert self.restart is not None
        self.dream = self.restart()
        return self.dream

    def _publish(self, generation: int, frame: SourceFrame, image: np.ndarray) -> bool:
        """``image`` as the newest dream (a file's frames wait for the output to take the last); False when this
        thread was left behind by the watchdog."""
        with self.newest_lock:
            # A file source must not lose frames: wait until the output took the last one.
            while (not self.source.live and self.newest is not None and generation == self._generation
                   and self.newest.seq > self._taken and not self.stop_event.is_set()):
                self.newest_lock.wait()
            if generation != self._generation:
                return False
            seq = 1 if self.newest is None else self.newest.seq + 1
            self.newest = Dreamed(image, frame.time_s, frame.pts_s, seq)
            self._published_at = self.clock()
            self.newest_lock.notify_all()
        return True

    def _start_dream(self, dream: Dream | None) -> None:
        """A dream thread for the next generation (the one before it, if any, is left behind)."""
        with self.newest_lock:
            self._generation += 1
            generation = self._generation
            self._published_at = self.clock()
        thread = threading.Thread(target=self._dream, args=(generation, dream), name=f"dream-{generation}",
                                  daemon=True)
        self._dream_threads.append(thread)
        thread.start()

    def _watch(self, now: float) -> bool:
        """Whether the dream is down (nothing published for ``watchdog_s``); the first time, a fresh dream thread
        takes over and one line says so."""
        limit = self.settings.watchdog_s
        if self.restart is None or limit <= 0 or self.dream_done:
            return False
        with self.newest_lock:
            stalled = now - self._published_at
        if stalled < limit:
            return False
        log.warning("no dreamed frame for %.0f s (a step hung?); a fresh dream stage takes over, the input shown "
                    "plain meanwhile", stalled)
        self.stats.add(restarts=1)
        self._start_dream(None)
        self._down = True
        return True

    # -- output (runs on the calling thread)
    def _output(self) -> None:
        s = self.settings
        period = 1.0 / s.fps
        first = self._first()
        if first is None:
            return
        start = self.clock()
        pts0 = first.pts_s
        last_seq = 0
        n = 0
        next_stats = start + s.stats_interval_s
        next_trim = start + TRIM_EVERY_S
        while not self.stop_event.is_set():
            delay = start + n * period - self.clock()
            if delay > 0 and self.stop_event.wait(delay):
                break
            with self.newest_lock:
                current = self.newest
                done = self.dream_done
            image = None if current is None else current.image
            if current is None or current.seq == last_seq:
                if done:
                    break
                self._watch(self.clock())
                plain = self.latest_input
                if (self._down or image is None) and plain is not None:
                    image = plain.image
                    self.stats.add(plain=1)
                else:
                    self.stats.add(repeated=1)
            else:
                self._down = False
                self.stats.latency(self.clock() - current.captured_at)
                last_seq = current.seq
                with self.newest_lock:
                    self._taken = current.seq
                    self.newest_lock.notify_all()
            assert image is not None
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
            self.stats.sent(self.clock())
            n += 1
            self._check_outputs()
            if self.tick is not None:
                self.tick(self.clock())
            if self.duration_s is not None and n >= round(self.duration_s * s.fps):
                break
            if self.clock() >= next_stats:
                self._report()
                next_stats += s.stats_interval_s
            if self.clock() >= next_trim:  # freed heap back to the kernel: a long run's RSS stays flat
                release_freed_memory()
                next_trim += TRIM_EVERY_S

    def _first(self) -> Dreamed | SourceFrame | None:
        """The first frame to send: the first dream, or (the dream down before it came) the plain input."""
        with self.newest_lock:  # reentrant: _watch takes it too
            while self.newest is None and not self.dream_done and not self.stop_event.is_set():
                self.newest_lock.wait(0.1)
                if self.newest is None and self.latest_input is not None and self._watch(self.clock()):
                    return self.latest_input
            return self.newest

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
        heap = heap_mb()
        if heap is not None:  # what a long run's memory holds: in use, and freed but kept for reuse
            r["heap_in_use_mb"], r["heap_held_mb"] = round(heap[0], 1), round(heap[1], 1)
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
        capture = threading.Thread(target=self._capture, name="capture", daemon=True)
        for feed in self.feeds:
            feed.start()
        capture.start()
        self._start_dream(self.dream)
        try:
            self._output()
        except BaseException as e:  # noqa: BLE001 - re-raised below, after the threads have stopped
            self.error = self.error or e
        finally:
            self.stop()
            capture.join(timeout=10)
            for t in self._dream_threads:  # a thread the watchdog left behind may never end: not waited for
                t.join(timeout=10 if t is self._dream_threads[-1] else 0.1)
            for feed in self.feeds:
                feed.finish()
            self._report()
        if self.error is not None:
            raise self.error
        st = self.stats
        return {
            "captured": st.captured, "dreamed": st.dreamed, "output": st.output,
            "dropped": st.dropped, "repeated": st.repeated, "audio_dropped": st.audio_dropped,
            "restarts": st.restarts, "plain": st.plain,
            "output_dropped": sum(f.dropped for f in self.feeds),
            "latency_p50_ms": st.run_latency_ms(50),
            "latency_p95_ms": st.run_latency_ms(95),
            "max_gap_ms": round(1000 * st.run_max_gap, 1),
        }


def _close(dream: Dream) -> None:
    """Close a dream stage that has a ``close`` (its step worker); a plain function has none."""
    close = getattr(dream, "close", None)
    if close is not None:
        close()
