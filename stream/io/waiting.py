"""Waiting for an input that is not there yet: background connects with backoff, and the holding card.

A network input whose sender starts after us (or drops mid-stream) is waited for::

    connector = Connector("udp://127.0.0.1:5999", connect, close, wait_s=10, attempt_s=10)
    connector.begin()                 # connects on a thread, retrying with backoff
    conn = connector.take(1 / 30)     # the connection once there, else None (show a holding card)

``connect(timeout_s)`` makes one attempt: it returns a connection, raises :class:`NotYet` (not
there yet: refused, no data, timed out; retried) or :class:`~engine.errors.SourceError` (it will
never work: a bad address, a forbidden URL; the run stops with that line). With ``wait_s`` > 0,
``take`` raises :class:`~engine.errors.SourceError` with one plain line ("no data arrived on
udp://127.0.0.1:5999 within 10 s") once the wait has lasted that long; 0 waits forever.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import cv2
import numpy as np

from engine.errors import SourceError
from stream.io.backoff import BackoffPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Retries while waiting: quick at first, then every 2 s (a refused connect costs nothing).
WAIT_BACKOFF = BackoffPolicy(initial_s=0.25, max_s=2.0)


class NotYet(Exception):
    """One connect attempt found the input not there yet; ``reason`` in plain words, None when
    nothing arrived (no data, no publisher) in the attempt's time."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "no data")
        self.reason = reason


class Connector(Generic[T]):
    """Connects to one input on a background thread until it gets a connection, then hands it over.

    ``name`` is the redacted input name shown in lines; ``awaited`` what the waiting line waits
    for (default ``name``); ``nothing`` what the give-up line says when nothing arrived (default
    ``"no data arrived on NAME"``). Each attempt gets
    ``attempt_s`` seconds (less near the end of the wait); after a quick failure (a refused
    connect) the next waits ``backoff.delay(n)``, after a slow one (it waited for data) none.
    The wait is counted from the first :meth:`take` of a spell, so a holding card is on the
    output for the whole of it. ``close(conn)`` discards a connection that arrives after :meth:`stop`.
    """

    def __init__(self, name: str, connect: Callable[[float], T], close: Callable[[T], None], *, wait_s: float,
                 attempt_s: float, backoff: BackoffPolicy = WAIT_BACKOFF, nothing: str | None = None,
                 awaited: str | None = None) -> None:
        if wait_s < 0:
            raise ValueError(f"wait_s={wait_s!r} must be >= 0 (0 waits forever)")
        self.name = name
        self.wait_s = float(wait_s)
        self.attempt_s = float(attempt_s)
        self.nothing = nothing or f"no data arrived on {name}"
        self.awaited = awaited or name
        self._connect, self._close, self._backoff = connect, close, backoff
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._conn: T | None = None
        self._fatal: SourceError | None = None
        self._last: NotYet | None = None
        self._done = False  # the current spell's thread has finished
        self._since: float | None = None  # when the spell's wait started (the first take)
        self._dropped = False
        self._announced = False
        self._spell = 0

    # -- a spell of waiting
    def begin(self, *, dropped: bool = False) -> None:
        """Start connecting (at start, or after the input dropped: ``dropped`` logs that now)."""
        with self._cond:
            self._spell += 1
            self._conn, self._fatal, self._last, self._done = None, None, None, False
            self._since, self._dropped, self._announced = None, dropped, False
            spell = self._spell
        if dropped:
            self._announce()
        threading.Thread(target=self._run, args=(spell,), name="input-connect", daemon=True).start()

    def settle(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the first attempt; raise its SourceError if it can never work,
        else log the one waiting line if the input is not there yet."""
        with self._cond:
            self._cond.wait_for(lambda: self._conn is not None or self._fatal is not None or self._last is not None
                                or self._done, timeout_s)
            fatal, connected = self._fatal, self._conn is not None
        if fatal is not None:
            self.stop()
            raise fatal
        if not connected:
            self._announce()

    def take(self, timeout_s: float) -> T | None:
        """The connection once it is there (each is handed over once), else None after ``timeout_s``.

        Raises SourceError when the input can never work or the wait is over (one plain line)."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._cond:
            if self._since is None:
                self._since = time.monotonic()
            self._cond.wait_for(lambda: self._conn is not None or self._fatal is not None,
                                max(0.0, deadline - time.monotonic()))
            conn, self._conn = self._conn, None
            fatal = self._fatal
            waited = time.monotonic() - self._since
        if fatal is not None:
            raise fatal
        if conn is not None:
            if self._announced:
                log.info("input %s connected", self.name)
            return conn
        if self.wait_s and waited >= self.wait_s:
            self.stop()
            raise SourceError(self.give_up_message())
        return None

    def give_up_message(self) -> str:
        """The one line that ends a wait that lasted ``wait_s``."""
        within = f"within {self.wait_s:g} s"
        last = self._last
        if self._dropped:
            if last is None or last.reason is None:
                return f"input {self.name} dropped and no data arrived {within}"
            return f"input {self.name} dropped and could not be reconnected {within} ({last.reason})"
        if last is None or last.reason is None:
            return f"{self.nothing} {within}"
        return f"could not connect to {self.name} {within} ({last.reason})"

    def stop(self) -> None:
        """Stop connecting (an attempt under way ends within its timeout; what it gets is closed)."""
        self._stop.set()
        with self._cond:
            self._spell += 1
            conn, self._conn = self._conn, None
            self._cond.notify_all()
        if conn is not None:
            self._close(conn)

    # -- internals
    def _announce(self) -> None:
        if not self._announced:
            self._announced = True
            if self._dropped:
                log.warning("input %s dropped; waiting for it ...", self.name)
            else:
                log.warning("waiting for %s ...", self.awaited)

    def _attempt_timeout(self) -> float:
        if not self.wait_s:
            return self.attempt_s
        since = self._since if self._since is not None else time.monotonic()
        left = self.wait_s - (time.monotonic() - since)
        return max(0.5, min(self.attempt_s, left + 0.5))

    def _run(self, spell: int) -> None:
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                conn = self._connect(self._attempt_timeout())
            except NotYet as e:
                failures += 1
                log.debug("input %s: not there yet (%s)", self.name, e)
                with self._cond:
                    if spell != self._spell:
                        return
                    self._last = e
                    self._cond.notify_all()
                pause = self._backoff.delay(failures) - (time.monotonic() - started)
                if pause > 0:
                    self._stop.wait(pause)
                continue
            except SourceError as e:
                with self._cond:
                    if spell == self._spell:
                        self._fatal = e
                        self._done = True
                        self._cond.notify_all()
                return
            with self._cond:
                if spell == self._spell and not self._stop.is_set():
                    self._conn = conn
                    self._done = True
                    self._cond.notify_all()
                    return
            self._close(conn)  # stopped (or a newer spell began) while connecting
            return


class HoldingCards:
    """The holding card at ``fps`` while an input is awaited: :meth:`wait_s` until the next is due,
    :meth:`take` a copy of it (due now), :meth:`restart` to show one at once (after a drop)."""

    def __init__(self, width: int, height: int, text: str, fps: float) -> None:
        self.image = holding_card(width, height, text)
        self.period = 1.0 / fps
        self.due = 0.0  # time.monotonic() second the next card is due

    def wait_s(self, now: float) -> float:
        return max(0.0, self.due - now)

    def take(self, now: float) -> np.ndarray:
        """The card (H, W, 3) uint8 RGB; the next is due one period on (never in the past)."""
        self.due = max(self.due + self.period, now)
        return self.image.copy()

    def restart(self, now: float) -> None:
        self.due = now


def holding_card(width: int, height: int, text: str) -> np.ndarray:
    """A calm frame shown while an input is awaited: dark, with ``text`` centred. (H, W, 3) uint8 RGB."""
    card = np.empty((height, width, 3), np.uint8)
    card[:] = (18, 20, 28)
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = max(0.3, height / 720)
    thickness = max(1, round(height / 360))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    if tw > 0.9 * width:  # a long URL: smaller, still one line
        scale *= 0.9 * width / tw
        (tw, th), _ = cv2.getTextSize(text, font, scale, thickness)
    origin = ((width - tw) // 2, (height + th) // 2)
    cv2.putText(card, text, origin, font, scale, (170, 176, 190), thickness, cv2.LINE_AA)
    return card


__all__ = ["WAIT_BACKOFF", "Connector", "HoldingCards", "NotYet", "holding_card"]
