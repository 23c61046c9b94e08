"""An output that reconnects with backoff while the others carry on."""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from engine.errors import SinkError
from stream.io.backoff import BackoffPolicy
from stream.io.redact import scrubbed_reason
from stream.io.sinks.base import Sink, SinkStats, check_audio, check_image
from stream.io.sinks.encode import NETWORK_ERRORS
from stream.settings.encoder import EncoderSettings

log = logging.getLogger(__name__)


class ReconnectingSink(Sink):
    """Keeps a network output alive: a worker thread owns the inner sink and reconnects.

    ``write_*`` only enqueue (bounded; the oldest items are dropped when full) and
    never block or raise because the receiver is gone. When a write fails the inner
    sink is dropped, queued and new frames are discarded, and ``opener`` is retried
    after ``backoff.delay(n)`` seconds of ``clock``. Each reconnect is a fresh
    connection (new header, keyframe first, timestamps from 0).
    """

    def __init__(
        self,
        opener: Callable[[], Sink],
        name: str,
        *,
        backoff: BackoffPolicy = BackoffPolicy(),
        clock: Callable[[], float] = time.monotonic,
        settings: EncoderSettings | None = None,
        connect_now: bool = True,
        max_queue: int = 120,
        close_timeout_s: float = 5.0,
        poll_s: float = 0.02,
    ) -> None:
        super().__init__(name, settings)
        self._opener = opener
        self._backoff = backoff
        self._clock = clock
        self._close_timeout_s = close_timeout_s
        self._poll_s = poll_s
        self._cond = threading.Condition()
        self._items: deque[tuple[str, np.ndarray, float]] = deque()
        self._max_queue = max_queue
        self._stopping = False
        self._failures = 0  # in a row; reset once a connection has lasted backoff.max_s
        self._next_attempt = clock()
        self._connected_at = clock()
        self._written = 0
        self._dropped = 0
        self._reconnects = 0
        self.clock_checks = 0
        self._inner: Sink | None = opener() if connect_now else None  # raises SinkError at start
        self._thread = threading.Thread(target=self._run, name=f"sink {name}", daemon=True)
        self._thread.start()

    @property
    def connected(self) -> bool:
        return self._inner is not None

    @property
    def stats(self) -> SinkStats:
        return SinkStats(self._written, self._dropped, self._reconnects, self._inner is not None)

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        if self.settings is not None:
            check_image(image, self.settings, self.name)
        self._put("v", image, pts_s)

    def write_audio(self, samples: np.ndarray, pts_s: float) -> None:
        check_audio(samples, self.name)
        self._put("a", samples, pts_s)

    def _put(self, kind: str, data: np.ndarray, pts_s: float) -> None:
        with self._cond:
            if self._closed:
                raise SinkError(f"output {self.name} is closed")
            if len(self._items) >= self._max_queue:
                old_kind = self._items.popleft()[0]
                self._dropped += old_kind == "v"
            self._items.append((kind, data, pts_s))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            item = None
            with self._cond:
                if not self._items and not self._stopping:
                    self._cond.wait(timeout=self._poll_s)
                if self._items:
                    item = self._items.popleft()
                elif self._stopping:
                    break
            inner = self._inner
            if inner is None:
                if item is not None:
                    self._dropped += item[0] == "v"
                if not self._stopping and self._clock() >= self._next_attempt:
                    self._try_connect()
                self.clock_checks += 1  # the worker looked at the clock while down (tests wait on it)
                continue
            if item is None:
                continue
            kind, data, pts_s = item
            try:
                if kind == "v":
                    inner.write_video(data, pts_s)
                    self._written += 1
                else:
                    inner.write_audio(data, pts_s)
            except NETWORK_ERRORS as exc:
                self._dropped += kind == "v"
                self._fail(inner, exc)
        inner = self._inner
        if inner is not None:
            try:
                inner.close()
            except NETWORK_ERRORS as exc:
                log.warning("output %s did not close cleanly: %s", self.name, exc)

    def _fail(self, inner: Sink, exc: BaseException) -> None:
        self._inner = None
        if self._clock() - self._connected_at >= self._backoff.max_s:
            self._failures = 0  # it had been stable: start again from the shortest wait
        self._failures += 1
        delay = self._backoff.delay(self._failures)
        self._next_attempt = self._clock() + delay
        if isinstance(exc, SinkError):  # already one redacted line
            reason = str(exc)
        else:
            reason = f"output {self.name} failed: {scrubbed_reason(exc, getattr(inner, '_secrets', ()))}"
        log.warning("%s; reconnecting in %.1f s", reason, delay)
        try:
            inner.close()
        except NETWORK_ERRORS:
            pass

    def _try_connect(self) -> None:
        try:
            self._inner = self._opener()
        except NETWORK_ERRORS as exc:
            self._failures += 1
            delay = self._backoff.delay(self._failures)
            self._next_attempt = self._clock() + delay
            reason = str(exc) if isinstance(exc, SinkError) else f"output {self.name} failed: {type(exc).__name__}"
            log.warning("%s; retrying in %.1f s", reason, delay)
            return
        self._connected_at = self._clock()
        self._reconnects += 1
        log.info("output %s reconnected", self.name)

    def _finish(self) -> None:
        """Send what is queued (while connected), finalise, stop the worker (bounded wait)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(self._close_timeout_s)
        if self._thread.is_alive():
            log.warning("output %s did not finish within %.1f s; abandoning it", self.name,
                        self._close_timeout_s)
