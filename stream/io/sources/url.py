"""A network stream as an input (rtmp, http, udp, tcp): reconnects, and waits for one that is not up yet."""
from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import threading
import time
from urllib.parse import urlsplit

import av

from engine.errors import SourceError
from stream.io.backoff import BackoffPolicy
from stream.io.redact import redact_url, scrub, scrubbed_reason, secrets_of
from stream.io.sources.base import SourceFrame
from stream.io.sources.decoding import AvSource, Timeline
from stream.io.video.reader import VideoReader
from stream.io.video.sizes import fit_size
from stream.io.waiting import Connector, HoldingCards, NotYet

log = logging.getLogger(__name__)


class UrlSource(AvSource):
    """A network stream (``live = True``). It reconnects with backoff when the stream drops or ends.

    Without ``wait_s`` a URL that cannot be opened at start raises :class:`SourceError`. With
    ``wait_s`` (seconds; 0 waits forever) an input that is not there yet (refused, silent) is
    waited for: one line says so, connects are retried in the background, and ``read`` returns
    holding cards (``holding=True``) at ``fps`` and ``width`` x ``height`` (640x360 when not
    given) until it connects, and again after a drop; a wait that lasts ``wait_s`` ends with a
    SourceError of one plain line. An error that will never go away (a forbidden URL, a port in
    use, no video in the stream) fails at once either way.

    ``rtmp://HOST:PORT/APP/KEY?listen=1`` is an RTMP server for one publisher (OBS pushing to us)
    rather than a player of a stream on a server; FFmpeg takes any key there.
    """

    live = True

    def __init__(self, url: str, *, width: int | None, height: int | None, fps: float,
                 open_timeout_s: float = 10.0, read_timeout_s: float = 5.0,
                 backoff: BackoffPolicy = BackoffPolicy(), wait_s: float | None = None) -> None:
        super().__init__()
        self.url, self._options = _listen_option(url)
        self.listen = bool(self._options)
        self.name = redact_url(self.url)
        self._secrets = secrets_of(url)
        self._width, self._height = width, height
        self._timeouts = (open_timeout_s, read_timeout_s)
        self._backoff = backoff
        self._stop = threading.Event()
        self._read_lock = threading.Lock()
        self._index = 0
        self.reconnects = 0
        self._fallback_fps = float(fps)
        self._connector: Connector[VideoReader] | None = None
        if wait_s is not None:
            self._wait_for_input(fps, wait_s)
            return
        failure = None
        try:
            reader = self._start(self._connect())
        except (av.FFmpegError, OSError) as exc:
            failure = scrubbed_reason(exc, self._secrets)
        if failure is not None:  # raised outside the except block: no context holding the raw URL
            raise SourceError(f"input {self.name} cannot be opened: {failure}")
        self.width, self.height = reader.width, reader.height
        self.fps = float(reader.info.fps)
        # Keep the size and rate of the first connection for later ones.
        self._width, self._height = self.width, self.height
        self.has_audio = reader.has_audio
        self._timeline = Timeline(self.fps)

    def _connect(self, open_timeout_s: float | None = None) -> VideoReader:
        timeout = (open_timeout_s or self._timeouts[0], self._timeouts[1])
        container = av.open(self.url, options=self._options, timeout=timeout)
        try:
            return VideoReader.of_container(container, self.name, width=self._width, height=self._height,
                                            audio=True, fallback_fps=self._fallback_fps,
                                            quiet=self._connector is not None)
        except BaseException:
            container.close()
            raise

    # -- waiting for an input that is not there yet
    def _wait_for_input(self, fps: float, wait_s: float) -> None:
        """Size and rate from the settings (the card's and the stream's); connect in the background."""
        self.width, self.height = fit_size(self._width, self._height, 640, 360)
        self._width, self._height = self.width, self.height  # every connection is delivered at this size
        self.fps = float(fps)
        self.has_audio = True  # not known before it connects; silence until then
        self._timeline = Timeline(self.fps)
        awaited = f"a publisher on {self.name}" if self.listen else self.name
        self._cards = HoldingCards(self.width, self.height, f"waiting for {awaited}", self.fps)
        self._connected_once = False
        nothing = f"no publisher connected to {self.name}" if self.listen else None
        self._connector = Connector(self.name, self._attempt, VideoReader.close, wait_s=wait_s,
                                    attempt_s=self._timeouts[0], nothing=nothing, awaited=awaited)
        self._connector.begin()
        self._connector.settle(1.0)  # a sender that is up connects now; one that never can fails now

    def _attempt(self, timeout_s: float) -> VideoReader:
        """One connect: NotYet while the input is not there (in plain words), SourceError if it never can be."""
        try:
            return self._connect(timeout_s)
        except (av.FFmpegError, OSError, EOFError) as exc:
            reason, permanent = _plain_failure(exc, self.url)
            reason = scrub(reason, self._secrets) if reason is not None else None
        except SourceError as exc:  # connected, but no video in it
            reason, permanent = scrub(str(exc), self._secrets), True
        if permanent:
            raise SourceError(f"input {self.name} cannot be opened: {reason}")
        raise NotYet(reason)

    def _read_waiting(self, connector: Connector[VideoReader]) -> SourceFrame | None:
        while not self._stop.is_set():
            if self._reader is None:
                now = time.monotonic()
                reader = connector.take(self._cards.wait_s(now))
                if reader is None:
                    if self._stop.is_set():
                        break
                    now = time.monotonic()
                    if self._cards.wait_s(now) > 0:
                        continue
                    frame = SourceFrame(self._cards.take(now), now, self._timeline.video(None), self._index,
                                        holding=True)
                    self._index += 1
                    return frame
                if self._connected_once:
                    self.reconnects += 1
                self._connected_once = True
                self._start(reader)
                self._timeline.restart()
            got = self._next_video()  # a broken connection ends the reader (it logs why)
            if got is not None:
                return self._frame(*got)
            self._pump_audio()
            self._reader.close()
            self._reader = None
            self._cards.restart(time.monotonic())
            connector.begin(dropped=True)
        return None

    def read(self) -> SourceFrame | None:
        with self._read_lock:
            if self._connector is not None:
                return self._read_waiting(self._connector)
            failures = 0
            while not self._stop.is_set():
                if self._reader is None:
                    try:
                        self._start(self._connect())
                    except (av.FFmpegError, OSError, SourceError) as exc:
                        failures += 1
                        delay = self._backoff.delay(failures)
                        log.warning("input %s: reconnect failed (%s); retrying in %.1f s", self.name,
                                    scrubbed_reason(exc, self._secrets), delay)
                        self._stop.wait(delay)
                        continue
                    self.reconnects += 1
                    self._timeline.restart()
                    log.info("input %s reconnected", self.name)
                got = self._next_video()  # a broken connection ends the reader (it logs why)
                if got is None:
                    how = "dropped" if self._reader.truncated else "ended"
                    log.warning("input %s %s; reconnecting", self.name, how)
                if got is not None:
                    return self._frame(*got)
                self._pump_audio()
                self._reader.close()
                self._reader = None
            return None

    def close(self) -> None:
        """Stop (a blocked ``read`` returns None within the read timeout) and disconnect."""
        self._stop.set()
        if self._connector is not None:
            self._connector.stop()
        if self._read_lock.acquire(timeout=self._timeouts[1] + 1.0):
            try:
                if self._reader is not None:
                    self._reader.close()
                    self._reader = None
            finally:
                self._read_lock.release()


def _listen_option(url: str) -> tuple[str, dict[str, str]]:
    """``rtmp://...?listen=1`` -> (the URL without it, FFmpeg's ``listen`` option); others unchanged."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("rtmp", "rtmps") or not parts.query:
        return url, {}
    query = [kv for kv in parts.query.split("&") if kv]
    rest = [kv for kv in query if kv.split("=", 1)[0].lower() != "listen"]
    if len(rest) == len(query):
        return url, {}
    value = next(kv for kv in query if kv.split("=", 1)[0].lower() == "listen").partition("=")[2]
    if value not in ("", "1"):
        return url, {}
    return parts._replace(query="&".join(rest)).geturl(), {"listen": "1"}


#: FFmpeg errors a wait cannot cure: the run stops with them at once.
_NEVER = (av.error.ProtocolNotFoundError, av.error.PermissionError, av.error.HTTPUnauthorizedError,
          av.error.HTTPForbiddenError, av.error.HTTPBadRequestError, av.error.ArgumentError,
          av.error.OptionNotFoundError)
_PLAIN = {  # errno -> plain words
    errno.ECONNREFUSED: "connection refused", errno.ECONNRESET: "connection reset", errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "host unreachable", errno.ENETUNREACH: "network unreachable",
    errno.EADDRINUSE: "the port is in use by another program",
}


def _plain_failure(exc: BaseException, url: str) -> tuple[str | None, bool]:
    """Why a connect failed, in plain words (None: nothing arrived in time), and whether it is for good."""
    if isinstance(exc, (av.error.ExitError, av.error.BlockingIOError, EOFError, av.error.EOFError)):
        return None, False  # FFmpeg's interrupt after the open timeout: silence
    code = getattr(exc, "errno", None)
    if isinstance(exc, av.error.HTTPError):
        words = f"HTTP error: {exc.strerror or exc}"
    elif code in _PLAIN:
        words = _PLAIN[code]
    elif isinstance(exc, av.error.InvalidDataError):
        words = "what arrived is not a stream it can read"
    else:
        words = str(getattr(exc, "strerror", None) or exc)
        words = words[:1].lower() + words[1:]
        host = urlsplit(url).hostname
        if code == errno.EIO and host and not _is_address(host):
            try:
                socket.getaddrinfo(host, None)
            except OSError:
                words = f"host {host} not found"
    return words, isinstance(exc, _NEVER) or code == errno.EADDRINUSE


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
