"""Inputs (sources): cameras, video files, stream URLs and a generated test scene.

::

    with open_source("testsrc", width=640, height=360, fps=30) as source:
        while (frame := source.read()) is not None:
            frame.image          # (H, W, 3) uint8 RGB at the requested size
            for chunk in source.read_audio():
                chunk.samples    # (2, N) float32 at 48 kHz, chunk.pts_s on the frames' clock

A source is ``live`` (camera, URL, testsrc: frames come at their own pace, the
pipeline keeps only the newest) or not (a file: ``read`` returns every frame, as
fast as asked, never dropping). ``pts_s`` is media time in seconds, starting near
0 and always increasing (also across loops of a file and reconnects of a URL);
``time_s`` is the ``time.monotonic()`` capture time. Audio is decoded alongside
the video and kept (up to 10 s) until ``read_audio`` drains it.

A URL opened with ``wait_s`` (``live --input-wait``) need not be there yet: until its sender
starts (or while it is gone after a drop) ``read`` returns holding cards, frames marked
``holding`` that the live pipeline shows without dreaming (:mod:`stream.io.waiting`).
"""
from __future__ import annotations

import errno
import ipaddress
import logging
import math
import os
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import av
import cv2
import numpy as np

from engine.errors import SourceError, did_you_mean
from stream.io.backoff import BackoffPolicy
from stream.io.ndi_lib import input_name, is_ndi
from stream.io.ndi_receive import NdiReceiver, connect_ndi
from stream.io.redact import redact_url, scrub, scrubbed_reason, secrets_of
from stream.io.video_io import VideoReader, fit_size
from stream.io.waiting import Connector, NotYet, holding_card
from stream.settings.encoder import AUDIO_RATE

log = logging.getLogger(__name__)


URL_SCHEMES = ("rtmp", "rtmps", "http", "https", "udp", "tcp")
SOURCE_FORMS = (
    "webcam:N",
    "/dev/videoN",
    "a video file path",
    "a URL (rtmp://, rtmps://, http://, https://, udp://, tcp://)",
    "testsrc",
    "ndi:NAME (an NDI source)",
)
_V4L2_FORMAT = "video4linux2,v4l2"
_MAX_AUDIO_S = 10.0


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
            while buffered > _MAX_AUDIO_S and len(self._audio) > 1:
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


def _check_size(width: int | None, height: int | None, fps: float) -> None:
    for key, value in (("width", width), ("height", height)):
        if value is not None and (not isinstance(value, int) or not 2 <= value <= 7680):
            raise SourceError(f"input {key}={value!r} is out of range; allowed: 2 to 7680 pixels")
    if not (isinstance(fps, (int, float)) and 0 < fps <= 240):
        raise SourceError(f"input fps={fps!r} is out of range; allowed: 0 < fps <= 240")


# --------------------------------------------------------------------------- PyAV decoding


class _Timeline:
    """Keeps ``pts_s`` increasing across restarts (file loops, reconnects)."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self.offset = 0.0
        self.last: float | None = None
        self.restarted = False

    def restart(self) -> None:
        self.restarted = True

    def video(self, t: float | None) -> float:
        if t is None:
            t = (self.last - self.offset + self.period) if self.last is not None else 0.0
        if self.restarted:
            self.restarted = False
            if self.last is not None:
                self.offset = self.last + self.period - t
        pts = t + self.offset
        if self.last is not None and pts <= self.last:
            pts = self.last + self.period
        self.last = pts
        return pts

    def audio(self, t: float) -> float:
        return t + self.offset


class _AvSource(Source):
    """Shared machinery of file, URL and camera sources: frames and sound from the one :class:`VideoReader`.

    Times are seconds from the input's start (its container's start time, else its first timestamp).
    """

    _reader: VideoReader | None = None

    def _start(self, reader: VideoReader) -> VideoReader:
        self._reader = reader
        self._frames_iter = iter(reader)
        self._origin_s = reader.origin_s
        self._audio_end_s = 0.0
        return reader

    def _relative(self, t: float) -> float:
        if self._origin_s is None:
            self._origin_s = t
        return t - self._origin_s

    def _next_video(self) -> tuple[np.ndarray, float] | None:
        """(image, seconds from the start), or None at the end (or when the input broke: ``truncated``)."""
        frame = next(self._frames_iter, None)
        return None if frame is None else (frame.image, self._relative(frame.time_s))

    def _pump_audio(self) -> None:
        reader = self._reader
        if reader is None:
            return
        while reader.audio_chunks:
            samples, t = reader.audio_chunks.popleft()
            start = self._relative(t) if t is not None else self._audio_end_s  # no timestamp: follow on
            self._audio_end_s = start + samples.shape[1] / AUDIO_RATE
            self._push_audio(AudioChunk(samples, self._timeline.audio(start)))

    def _frame(self, image: np.ndarray, t: float | None) -> SourceFrame:
        frame = SourceFrame(image, time.monotonic(), self._timeline.video(t), self._index)
        self._index += 1
        self._pump_audio()
        return frame


# --------------------------------------------------------------------------- files


class FileSource(_AvSource):
    """A video file decoded with PyAV; every frame is delivered (``live = False``)."""

    live = False

    def __init__(self, path: str, *, width: int | None, height: int | None, fps: float, loop: bool) -> None:
        super().__init__()
        self.path = path
        self.name = path
        self.loop = loop
        self._width, self._height = width, height
        self._index = 0
        self._frames_this_pass = 0
        reader = self._start(self._open())
        self.width, self.height = reader.width, reader.height
        self.fps = float(reader.info.fps) or float(fps)
        self.has_audio = reader.has_audio
        self._timeline = _Timeline(self.fps)

    def _open(self) -> VideoReader:
        if not os.path.isfile(self.path):
            raise SourceError(f"input file {self.path!r} does not exist")
        try:
            return VideoReader(self.path, width=self._width, height=self._height, audio=True)
        except SourceError as exc:
            reason = str(exc).removeprefix(f"{self.path}: ")
            raise SourceError(f"input file {self.path!r} cannot be opened: {reason}") from None

    def read(self) -> SourceFrame | None:
        """The next frame; a damaged file ends where it stops decoding (the reader logs it)."""
        while self._reader is not None:
            got = self._next_video()
            if got is not None:
                self._frames_this_pass += 1
                return self._frame(*got)
            self._pump_audio()
            self._reader.close()
            self._reader = None
            if self.loop and self._frames_this_pass:
                self._frames_this_pass = 0
                self._start(self._open())
                self._timeline.restart()
        return None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


# --------------------------------------------------------------------------- URLs


class UrlSource(_AvSource):
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
        self._timeline = _Timeline(self.fps)

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
        self._timeline = _Timeline(self.fps)
        awaited = f"a publisher on {self.name}" if self.listen else self.name
        self._card = holding_card(self.width, self.height, f"waiting for {awaited}")
        self._card_due = 0.0
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
                reader = connector.take(max(0.0, self._card_due - now))
                if reader is None:
                    if self._stop.is_set():
                        break
                    now = time.monotonic()
                    if now < self._card_due:
                        continue
                    self._card_due = max(self._card_due + 1.0 / self.fps, now)
                    frame = SourceFrame(self._card.copy(), now, self._timeline.video(None), self._index, holding=True)
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
            self._card_due = time.monotonic()
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


# --------------------------------------------------------------------------- cameras


class WebcamSource(_AvSource):
    """A V4L2 camera read with PyAV (timestamps from the driver). No audio."""

    live = True

    def __init__(self, device: str, *, width: int | None, height: int | None, fps: float,
                 spec: str | None = None) -> None:
        super().__init__()
        self.device = device
        self.name = device
        label = f"{device} ({spec})" if spec and spec != device else device
        if _V4L2_FORMAT not in av.formats_available:
            raise SourceError(f"camera {label}: this FFmpeg build has no v4l2 input")
        if not os.path.exists(device):
            raise SourceError(f"no camera found at {label}: the device does not exist")
        if not os.access(device, os.R_OK | os.W_OK):
            raise SourceError(f"camera {label}: permission denied (is the user in the 'video' group?)")
        options = {"framerate": f"{fps:g}"}
        if width and height:
            options["video_size"] = f"{width}x{height}"
        try:
            container = av.open(device, format="v4l2", options=options, timeout=(5.0, 5.0))
        except (av.FFmpegError, OSError) as exc:
            raise SourceError(f"camera {label} cannot be opened: {scrubbed_reason(exc, ())}") from None
        try:
            reader = self._start(VideoReader.of_container(container, device, width=width, height=height,
                                                          fallback_fps=fps))
        except BaseException:
            container.close()
            raise
        self.width, self.height = reader.width, reader.height
        self.fps = float(fps)
        self._timeline = _Timeline(self.fps)
        self._index = 0

    def read(self) -> SourceFrame | None:
        if self._reader is None:
            return None
        got = self._next_video()
        if got is None and self._reader.truncated:
            raise SourceError(f"camera {self.device} stopped: it stopped delivering frames")
        return None if got is None else self._frame(*got)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


# --------------------------------------------------------------------------- NDI


class NdiSource(Source):
    """``ndi:NAME``: an NDI source on the network (:mod:`stream.io.ndi_receive`), ``live = True``.

    Opening waits up to ``timeout_s`` for the source and its first frame; one that is not there
    raises :class:`~stream.io.ndi_receive.NdiNotFound` (a SourceError). ``fps`` is the source's rate.
    """

    live = True

    def __init__(self, name: str, *, width: int | None, height: int | None, fps: float,
                 timeout_s: float = 10.0) -> None:
        super().__init__()
        connection = connect_ndi(name, timeout_s)
        try:
            self._receiver = NdiReceiver(connection, width=width, height=height, fps=fps)
        except BaseException:
            connection.close()
            raise
        self.name = self._receiver.name
        self.width, self.height, self.fps = self._receiver.width, self._receiver.height, self._receiver.fps
        self.has_audio = True  # not announced by NDI; silence until sound comes
        self._index = 0

    def read(self) -> SourceFrame | None:
        video = self._receiver.read(lambda samples, pts_s: self._push_audio(AudioChunk(samples, pts_s)))
        if video is None:
            return None
        frame = SourceFrame(video.image, time.monotonic(), video.pts_s, self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        self._receiver.close()


# --------------------------------------------------------------------------- test scene


class Scene:
    """A soft moving landscape: drifting colour blobs in a sky, rolling hills with a
    scrolling texture, and a ball on a looping path. ``render(t)`` -> (H, W, 3) uint8.

    It is drawn at about 320 pixels wide and upscaled (the scene is soft anyway);
    blobs are separable Gaussians (one small matrix product per channel), so a
    frame costs about a millisecond at any output size.
    """

    def __init__(self, width: int, height: int, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.width, self.height = width, height
        factor = max(1, math.ceil(width / 320))
        iw, ih = max(2, width // factor), max(2, height // factor)
        self._inner = (iw, ih)
        self.x = ((np.arange(iw, dtype=np.float32) + 0.5) / ih)  # units of the image height
        self.y = ((np.arange(ih, dtype=np.float32) + 0.5) / ih)
        aspect = iw / ih
        k = 7
        self.blob_xy = rng.uniform((0.0, 0.0), (aspect, 0.7), size=(k, 2)).astype(np.float32)
        self.blob_amp = rng.uniform(0.05, 0.25, size=(k, 2)).astype(np.float32)
        self.blob_freq = rng.uniform(0.08, 0.3, size=(k, 2)).astype(np.float32)
        self.blob_phase = rng.uniform(0, 2 * np.pi, size=(k, 2)).astype(np.float32)
        self.blob_radius = rng.uniform(0.12, 0.3, size=k).astype(np.float32)
        palette = np.array(
            [[255, 170, 120], [250, 120, 160], [150, 110, 230], [110, 190, 240], [255, 220, 140],
             [170, 240, 200], [240, 150, 90]], np.float32) / 255
        self.blob_rgb = np.ascontiguousarray(palette[rng.permutation(len(palette))[:k]].T * 0.4)  # (3, K)
        top, bottom = np.array([40, 60, 130], np.float32) / 255, np.array([250, 190, 150], np.float32) / 255
        s = np.clip(self.y / 0.75, 0, 1)[:, None]  # (H, 1)
        sky = top[:, None, None] * (1 - s)[None] + bottom[:, None, None] * s[None]  # (3, H, 1)
        self.sky = np.ascontiguousarray(np.broadcast_to(sky, (3, ih, iw)))  # channel-first: fast numpy
        texture = rng.normal(0, 1, size=(ih, 2 * iw)).astype(np.float32)
        self.texture = 0.5 * (texture + np.roll(texture, 1, axis=1))
        self.hills = [  # (base height, amplitude, wave number, speed, colour, texture scroll px/s)
            (0.62, 0.06, 5.0, 0.15, np.array([70, 130, 90], np.float32) / 255, 10.0),
            (0.78, 0.05, 8.0, 0.35, np.array([40, 95, 60], np.float32) / 255, 22.0),
        ]
        yy, xx = np.mgrid[0:ih, 0:iw]
        self._yy, self._xx = yy.astype(np.float32), xx.astype(np.float32)

    def render(self, t: float) -> np.ndarray:
        """The scene at ``t`` seconds: (H, W, 3) uint8 RGB."""
        iw, ih = self._inner
        t = float(t)
        centre = self.blob_xy + self.blob_amp * np.sin(self.blob_freq * t + self.blob_phase)
        r = self.blob_radius
        gx = np.exp(-(((self.x[None, :] - centre[:, :1]) / r[:, None]) ** 2))  # (K, W)
        gy = np.exp(-(((self.y[:, None] - centre[None, :, 1]) / r[None, :]) ** 2))  # (H, K)
        image = self.sky.copy()  # (3, H, W)
        for c in range(3):
            image[c] += gy @ (self.blob_rgb[c][:, None] * gx)
        for base, amp, wave, speed, colour, scroll in self.hills:
            ridge = base + amp * np.sin(wave * self.x + speed * t) + 0.4 * amp * np.sin(2.7 * wave * self.x - speed * t)
            depth = self.y[:, None] - ridge[None, :]  # (H, W), > 0 inside the hill
            mask = np.clip(depth * (ih / 2.0), 0, 1)
            shift = int(scroll * t) % iw
            texture = 0.06 * self.texture[:, shift : shift + iw]
            light = 1.0 - 0.6 * np.clip(depth, 0, 0.4)
            for c in range(3):
                image[c] += mask * (colour[c] * light + texture - image[c])
        # A ball on a Lissajous path.
        bx = (0.5 + 0.35 * math.sin(0.7 * t)) * iw
        by = (0.35 + 0.2 * math.sin(1.1 * t + 1.0)) * ih
        radius = 0.07 * ih
        x0, x1 = max(0, int(bx - radius - 2)), min(iw, int(bx + radius + 3))
        y0, y1 = max(0, int(by - radius - 2)), min(ih, int(by + radius + 3))
        if x1 > x0 and y1 > y0:
            d = np.hypot(self._xx[y0:y1, x0:x1] - bx, self._yy[y0:y1, x0:x1] - by)
            alpha = np.clip(radius - d + 0.5, 0, 1)
            light = 1.0 - 0.35 * np.clip(d / radius, 0, 1)
            for c, value in enumerate((1.0, 0.85, 0.35)):
                patch = image[c, y0:y1, x0:x1]
                patch += alpha * (value * light - patch)
        np.clip(image, 0, 1, out=image)
        image *= 255
        image += 0.5
        small = cv2.merge([image[0], image[1], image[2]]).astype(np.uint8)
        if (iw, ih) == (self.width, self.height):
            return small
        return cv2.resize(small, (self.width, self.height), interpolation=cv2.INTER_LINEAR)


class TestSource(Source):
    """``testsrc``: :class:`Scene` at the requested size and rate with a 440 Hz tone.

    With ``realtime`` the frames are paced by the monotonic clock and, like a
    camera, a late reader gets the current frame (skipped frames are not
    delivered; the audio stays continuous). ``frames`` ends the stream after that many.
    """

    __test__ = False  # not a pytest class
    live = True

    def __init__(self, width: int | None = None, height: int | None = None, fps: float = 30.0, *,
                 realtime: bool = True, audio: bool = True, frames: int | None = None,
                 tone_hz: float = 440.0) -> None:
        super().__init__()
        self.width, self.height = fit_size(width, height, 640, 360)
        self.fps = float(fps)
        self.name = "testsrc"
        self.has_audio = audio
        self.realtime = realtime
        self.frames = frames
        self.tone_hz = tone_hz
        self._scene = Scene(self.width, self.height)
        self._tick = 0  # index of the next frame on the media clock
        self._delivered = 0
        self._audio_pos = 0  # samples generated so far
        self._t0: float | None = None
        self._closed = False

    def read(self) -> SourceFrame | None:
        if self._closed or (self.frames is not None and self._delivered >= self.frames):
            return None
        if self.realtime:
            now = time.monotonic()
            if self._t0 is None:
                self._t0 = now
            due = self._t0 + self._tick / self.fps
            if now < due:
                time.sleep(due - now)
            else:
                self._tick = max(self._tick, int((now - self._t0) * self.fps))
        pts = self._tick / self.fps
        image = self._scene.render(pts)
        self._tick += 1
        if self.has_audio:
            self._make_audio(round(self._tick / self.fps * AUDIO_RATE))
        frame = SourceFrame(image, time.monotonic(), pts, self._delivered)
        self._delivered += 1
        return frame

    def _make_audio(self, until: int) -> None:
        n = until - self._audio_pos
        if n <= 0:
            return
        t = (self._audio_pos + np.arange(n)) / AUDIO_RATE
        wave = 0.2 * np.sin(2 * np.pi * self.tone_hz * t) * (0.8 + 0.2 * np.sin(2 * np.pi * 0.25 * t))
        samples = np.stack([wave, wave]).astype(np.float32)
        self._push_audio(AudioChunk(samples, self._audio_pos / AUDIO_RATE))
        self._audio_pos = until

    def close(self) -> None:
        self._closed = True


class FakeCamera(TestSource):
    """A camera stand-in for tests and demos: the test scene, no audio, unpaced by default.

    ``fail_after`` raises :class:`SourceError` (like an unplugged camera) after that
    many frames; ``frames`` ends the stream instead.
    """

    def __init__(self, width: int = 320, height: int = 180, fps: float = 30.0, *, realtime: bool = False,
                 frames: int | None = None, fail_after: int | None = None) -> None:
        super().__init__(width, height, fps, realtime=realtime, audio=False, frames=frames)
        self.name = "fake camera"
        self.fail_after = fail_after
        self.closed = False

    def read(self) -> SourceFrame | None:
        if self.fail_after is not None and self._delivered >= self.fail_after:
            raise SourceError(f"camera {self.name} stopped: device unplugged")
        return super().read()

    def close(self) -> None:
        super().close()
        self.closed = True


# --------------------------------------------------------------------------- open_source


def open_source(
    spec: str,
    *,
    width: int | None = None,
    height: int | None = None,
    fps: float = 30.0,
    loop: bool = False,
    open_timeout_s: float = 10.0,
    read_timeout_s: float = 5.0,
    backoff: BackoffPolicy = BackoffPolicy(),
    wait_s: float | None = None,
) -> Source:
    """Open an input: ``webcam:N``, ``/dev/videoN``, a file path, a URL, ``testsrc`` or ``ndi:NAME``.

    ``width``/``height`` resize (one of them keeps the aspect ratio); ``fps`` is the
    rate of testsrc and cameras; ``loop`` repeats a file. Raises :class:`SourceError`
    for a missing camera or file, a URL that cannot be opened, or an unknown spec.
    ``wait_s`` (seconds, 0 = forever) waits for a URL that is not there yet, showing
    holding cards meanwhile (:class:`UrlSource`); other inputs ignore it.
    """
    _check_size(width, height, fps)
    allowed = "allowed inputs: " + ", ".join(SOURCE_FORMS)
    if spec == "testsrc":
        return TestSource(width, height, fps)
    if is_ndi(spec):
        return NdiSource(input_name(spec, SourceError), width=width, height=height, fps=fps, timeout_s=open_timeout_s)
    camera = re.fullmatch(r"webcam:(\d+)", spec)
    if camera or re.fullmatch(r"/dev/video\d+", spec):
        device = f"/dev/video{camera.group(1)}" if camera else spec
        return WebcamSource(device, width=width, height=height, fps=fps, spec=spec)
    if "://" in spec:
        scheme = urlsplit(spec).scheme.lower()
        if scheme in URL_SCHEMES:
            return UrlSource(spec, width=width, height=height, fps=fps, open_timeout_s=open_timeout_s,
                             read_timeout_s=read_timeout_s, backoff=backoff, wait_s=wait_s)
        extra = " (srt is not available in this FFmpeg build)" if scheme == "srt" else ""
        raise SourceError(f"input {redact_url(spec)!r} has an unsupported scheme {scheme!r}{extra}; {allowed}")
    if Path(spec).is_file():
        return FileSource(spec, width=width, height=height, fps=fps, loop=loop)
    if Path(spec).suffix:
        raise SourceError(f"input file {spec!r} does not exist")
    raise SourceError(f"input {spec!r} is not a camera, a file that exists, or a URL; {allowed}"
                      + did_you_mean(spec, ("testsrc", "webcam:0")))


__all__ = [
    "AudioChunk", "FakeCamera", "FileSource", "NdiSource", "SOURCE_FORMS", "Scene", "Source", "SourceFrame",
    "TestSource", "UrlSource", "WebcamSource", "open_source",
]
