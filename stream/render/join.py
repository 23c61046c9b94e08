"""The last step of a chunked render: the chunk files, in order, into the output.

Each output frame is written at the input's own timestamp, into a :class:`VideoWriter` opened on
the input (its size, rate, time base and every audio stream), so the output has what a single
pass writes: the same frames at the same times with the same sound. Where a chunk has lead-in
frames, the previous chunk's last frames are faded into them (:func:`fade_weights`), keeping the
dream's strength (:func:`fade`).

A :class:`Joiner` takes the chunks one at a time, in order; a :class:`JoinThread` runs it beside the
dreaming, each chunk as soon as it and every chunk before it are done.
"""
from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from typing import Protocol

import numpy as np

from engine.errors import SourceError
from stream.io.video.reader import Frame, VideoReader
from stream.render.chunks import Chunk, fade_weights
from stream.render.worker import ChunkJob, input_frame, part_path


class FrameWriter(Protocol):
    def write(self, image: np.ndarray, pts: int | None = None) -> None: ...


#: The most a fade frame's mixed dream is strengthened (two opposite dreams would otherwise ask for any gain).
MAX_FADE_GAIN = 1.5


def fade(previous: np.ndarray, current: np.ndarray, original: np.ndarray, weight: float) -> np.ndarray:
    """The previous chunk's dream of ``original`` faded into this chunk's, at this one's ``weight``; RGB uint8 ``(H, W,
    3)``.

    Two dreams of a frame are two patterns on it, and a plain mix of them is fainter than either
    (patterns that do not line up partly cancel: half way, by about 1/sqrt(2)), so a seam would
    show as a dip in the dream. The mix of the two dreams' residuals (dream minus ``original``) is
    scaled to the strength between theirs instead (RMS over the frame, interpolated by ``weight``;
    at most :data:`MAX_FADE_GAIN` times).
    """
    if weight <= 0.0:
        return previous
    if weight >= 1.0:
        return current
    base = original.astype(np.float32)
    a, b = previous.astype(np.float32) - base, current.astype(np.float32) - base
    mixed = (1.0 - weight) * a + weight * b
    wanted = (1.0 - weight) * float(np.mean(a * a)) + weight * float(np.mean(b * b))
    got = float(np.mean(mixed * mixed))
    gain = min(MAX_FADE_GAIN, (wanted / got) ** 0.5) if got > 0.0 else 1.0
    return np.clip(np.rint(base + gain * mixed), 0, 255).astype(np.uint8)


class Joiner:
    """Writes the chunks of ``plan`` into ``writer``, one :meth:`add` at a time, in the plan's order.

    A chunk's last frames that the next chunk's lead-in covers are ``held`` until that chunk is added,
    then written blended with its lead-in. :meth:`finish` writes what is still held: the end of the
    last chunk added, when the render stopped before the next one. ``written`` counts the frames
    written; ``on_frame()`` is called after each.
    """

    def __init__(self, job: ChunkJob, plan: Sequence[Chunk], writer: FrameWriter,
                 on_frame: Callable[[], None] | None = None) -> None:
        self.job, self.plan, self.writer, self.on_frame = job, plan, writer, on_frame
        self.held: deque[tuple[int, np.ndarray]] = deque()  # (frame index, image) waiting for the next chunk's lead-in
        self.written = 0
        self.joined = 0  # chunks added; the next one to add is plan[joined]

    def add(self, chunk: Chunk) -> None:
        """Write ``chunk`` (the next of the plan), but for the frames the next chunk's lead-in fades from."""
        if self.joined >= len(self.plan) or chunk != self.plan[self.joined]:
            raise ValueError(f"{chunk.describe()} is not the next chunk to join (chunk {self.joined})")
        following = self.plan[self.joined + 1] if self.joined + 1 < len(self.plan) else None
        hold_from = chunk.stop - (following.lead_in if following is not None else 0)
        weights = fade_weights(chunk.lead_in)
        w, h = self.job.spec.width, self.job.spec.height
        path = part_path(self.job, chunk)
        count = 0
        with VideoReader(path, max_frames=chunk.dreamed) as reader, self._originals(chunk) as source:
            originals = iter(source)
            for frame in reader:
                index = chunk.first + count
                image = frame.image[:h, :w]
                count += 1
                if index < chunk.start:  # lead-in: fade from the previous chunk's frame into this one
                    if not self.held or self.held[0][0] != index:
                        raise SourceError(
                            f"{path}: lead-in frame {index} has no frame of the previous chunk to fade from"
                        )
                    original = self._original(originals, index)
                    self._emit(index, fade(self.held.popleft()[1], image, original, weights[index - chunk.first]))
                elif index >= hold_from:
                    self.held.append((index, image))
                else:
                    self._emit(index, image)
        if count != chunk.dreamed:
            raise SourceError(f"{path}: holds {count} of {chunk.dreamed} frames; delete it and run again to redo it")
        self.joined += 1

    def _originals(self, chunk: Chunk) -> contextlib.AbstractContextManager[Iterable[Frame]]:
        """The input's frames under ``chunk``'s lead-in (what the fade keeps the dream's strength against)."""
        if not chunk.lead_in:
            return contextlib.nullcontext(())
        scan = self.job.scan
        return VideoReader(self.job.input, start_s=scan.start_s(chunk.first), max_frames=chunk.lead_in)

    def _original(self, originals: Iterator[Frame], index: int) -> np.ndarray:
        """The input's frame ``index``, the next of ``originals``."""
        frame = input_frame(self.job, index, next(originals, None))
        return frame.image[: self.job.spec.height, : self.job.spec.width]

    def finish(self) -> int:
        """Write the frames still held (the render stopped before the chunk that fades from them); the frames
        written."""
        while self.held:
            self._emit(*self.held.popleft())
        return self.written

    def _emit(self, index: int, image: np.ndarray) -> None:
        self.writer.write(image, self.job.scan.pts[index])
        self.written += 1
        if self.on_frame is not None:
            self.on_frame()


class _Aborted(Exception):
    """Stops the join thread between two frames."""


class JoinThread:
    """A :class:`Joiner` on its own thread: :meth:`offer` queues the chunks that joined the done prefix.

    The thread starts with the first chunk offered (a render starts Ray's processes before that: see
    :mod:`stream.render.pools`). One thread calls :meth:`offer`, :meth:`close` and :meth:`abort` (the one
    that records finished chunks). The joiner's writer is used by the join thread only, until :meth:`close`
    or :meth:`abort` return. An error while joining stops the thread; :meth:`check` and :meth:`close` raise it.
    ``seconds``: time spent joining. ``on_frame``: called after each frame written (may be replaced).
    """

    def __init__(self, job: ChunkJob, plan: Sequence[Chunk], writer: FrameWriter) -> None:
        self.joiner = Joiner(job, plan, writer, on_frame=self._frame)
        self.plan = plan
        self.queued = 0  # chunks of the plan queued so far
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.on_frame: Callable[[], None] | None = None
        self._queue: queue.SimpleQueue[Chunk | None] = queue.SimpleQueue()
        self._abort = threading.Event()
        self._thread = threading.Thread(target=self._run, name="join", daemon=True)

    def offer(self, done: Container[int]) -> None:
        """Queue the chunks of the plan from the first not queued yet, as long as they are ``done`` (indices)."""
        while self.queued < len(self.plan) and self.plan[self.queued].index in done:
            self._queue.put(self.plan[self.queued])
            self.queued += 1
            if self._thread.ident is None:  # not started yet
                self._thread.start()

    def _wait(self) -> None:
        """Wait for the thread to end (after the ``None`` that ends its queue), if it started."""
        if self._thread.ident is not None:
            self._thread.join()

    def check(self) -> None:
        """Raise the error that stopped the join, if any."""
        if self.error is not None:
            raise self.error

    def close(self) -> int:
        """Join what was queued, then write the frames still held; the frames written. Raises the join's error."""
        self._queue.put(None)
        self._wait()
        self.check()
        began = time.monotonic()
        written = self.joiner.finish()
        self.seconds += time.monotonic() - began
        return written

    def drain(self) -> None:
        """Join the chunks queued so far, whole, and wait (the frames still held are not written: after an error,
        OUT ends at a chunk's edge). A Ctrl-C or SIGTERM meanwhile aborts (:meth:`abort`)."""
        self._queue.put(None)
        try:
            self._wait()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Stop after the frame being written, and wait (nothing more is written)."""
        self._abort.set()
        self._queue.put(None)
        self._wait()

    def _frame(self) -> None:
        if self._abort.is_set():
            raise _Aborted()
        if self.on_frame is not None:
            self.on_frame()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self.error is not None or self._abort.is_set():
                continue
            began = time.monotonic()
            try:
                self.joiner.add(chunk)
            except _Aborted:
                pass
            except BaseException as exc:  # noqa: BLE001 - handed to the thread that waits (check, close)
                self.error = exc
            finally:
                self.seconds += time.monotonic() - began
