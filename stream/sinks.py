"""Outputs (sinks): RTMP/RTMPS (FLV), Twitch, files, UDP (MPEG-TS), a preview window.

Every sink takes RGB frames and stereo float audio with presentation times and
encodes H.264 + AAC::

    settings = EncoderSettings(width=640, height=360, fps=30)
    with open_sink("rtmp://127.0.0.1:1935/app/KEY", settings) as sink:
        sink.write_video(image, pts_s)      # image: (H, W, 3) uint8 RGB
        sink.write_audio(samples, pts_s)    # samples: (2, N) float32 in [-1, 1]

Timing contract: video is constant frame rate. A frame's pts is
``round((pts_s - first_pts_s) * fps)`` frames after the first written frame (the
caller guarantees one frame per tick; a pts that does not advance is bumped to
the next tick). Audio is placed on a sample clock at ``settings.audio_rate``
starting at the first video frame's time; small jitter is ignored, gaps are
filled with silence, overlaps are trimmed, and when no audio is written at all
silence is inserted so the track never stalls.

Network sinks (``rtmp://``, ``rtmps://``, ``twitch``, ``udp://``) connect and encode
in a child process (:mod:`stream.sink_process`) and are wrapped in a
:class:`ReconnectingSink`: writes never block or raise while the receiver is gone;
frames are dropped while down and a fresh connection (new FLV header, keyframe
first, timestamps from 0) is made with exponential backoff.

PyAV caveats found while writing this (PyAV 18.1):

* An RTMP output connects lazily on the first ``mux`` (which is why PyAV issue
  #1010 looks like a silent failure); the sinks call ``start_encoding()`` at open
  so a refused connection raises at once.
* ``start_encoding()`` runs ``avio_open`` (TCP connect + RTMP handshake) holding
  the GIL and with no timeout: every Python thread of the process stalls while an
  output connects, for good if the server accepts the connection and never answers.
  Hence network outputs run in a child process. A PyAV RTMP *receiver* with a
  timeout in the same process as a publisher deadlocks with it (its interrupt
  callback needs the GIL); tests run the receiver in a subprocess.
* Muxing is interleaved: with an audio stream, video packets wait for audio up to
  ``max_interleave_delta`` (set to 1 s here), and write errors surface only when
  the buffer is flushed (``flush_packets=1`` here, so a dead receiver is noticed
  on the next packet).

The stream key never appears in ``name``, ``repr``, log lines or error messages:
see :func:`redact_url`.
"""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit

import av
import numpy as np

from engine.errors import ConfigError, SinkError, did_you_mean

log = logging.getLogger(__name__)

SINK_FORMS = (
    "rtmp://host/app/KEY",
    "rtmps://host/app/KEY",
    "twitch",
    "a file path ending in .mp4, .mkv, .flv or .ts",
    "udp://host:port",
    "preview",
    "vcam or vcam:/dev/videoN (a virtual camera)",
    "null",
)
FILE_FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".flv": "flv", ".ts": "mpegts"}
X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
)
_RTMP_SCHEMES = ("rtmp", "rtmps", "rtmpt", "rtmpts", "rtmpe", "rtmpte")
_NETWORK_ERRORS = (av.FFmpegError, OSError, SinkError)
_AUDIO_JITTER_S = 0.05  # audio closer than this to the sample clock is treated as contiguous
_AUDIO_FILL_LAG_S = 1.0  # no audio for this long behind the video: insert silence
_AUDIO_FILL_KEEP_S = 0.5  # ... up to this much before the video time
_AUDIO_MAX_GAP_S = 60.0  # longest gap filled with silence in one go


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class EncoderSettings:
    """What every output encodes: H.264 (yuv420p) + AAC stereo.

    ``threads`` is libx264's thread count (1 leaves the cores to the dream; 0 = auto).
    ``audio=False`` writes a video-only output.
    """

    width: int
    height: int
    fps: int
    video_bitrate_kbps: int = 2500
    preset: str = "veryfast"
    keyframe_interval_s: float = 2.0
    audio_bitrate_kbps: int = 128
    audio_rate: int = 48000
    audio: bool = True
    threads: int = 1

    def __post_init__(self) -> None:
        def bad(key: str, allowed: str) -> ConfigError:
            return ConfigError(f"encoder {key}={getattr(self, key)!r} is out of range; allowed: {allowed}")

        for key in ("width", "height"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 16 or value > 7680 or value % 2:
                raise bad(key, "an even integer from 16 to 7680")
        if not isinstance(self.fps, int) or not 1 <= self.fps <= 240:
            raise bad("fps", "an integer from 1 to 240")
        if not 100 <= self.video_bitrate_kbps <= 100_000:
            raise bad("video_bitrate_kbps", "100 to 100000")
        if self.preset not in X264_PRESETS:
            raise ConfigError(
                f"encoder preset={self.preset!r} is unknown; allowed: {', '.join(X264_PRESETS)}"
                + did_you_mean(self.preset, X264_PRESETS)
            )
        if not 0.1 <= self.keyframe_interval_s <= 20.0:
            raise bad("keyframe_interval_s", "0.1 to 20 seconds")
        if not 32 <= self.audio_bitrate_kbps <= 512:
            raise bad("audio_bitrate_kbps", "32 to 512")
        if self.audio_rate not in (44100, 48000):
            raise bad("audio_rate", "44100 or 48000")
        if not isinstance(self.threads, int) or not 0 <= self.threads <= 64:
            raise bad("threads", "0 (auto) to 64")

    @property
    def keyframe_interval_frames(self) -> int:
        """GOP length in frames (``g`` and ``keyint_min``)."""
        return max(1, round(self.keyframe_interval_s * self.fps))


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff: ``delay(n)`` is the wait after the n-th failure in a row (n >= 1)."""

    initial_s: float = 0.5
    max_s: float = 10.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not (0 < self.initial_s <= self.max_s) or self.factor < 1:
            raise ConfigError(
                f"backoff initial_s={self.initial_s}, max_s={self.max_s}, factor={self.factor} is invalid; "
                "allowed: 0 < initial_s <= max_s, factor >= 1"
            )

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures."""
        if failures <= 0:
            return 0.0
        exponent = min(failures - 1, 64)
        return min(self.max_s, self.initial_s * self.factor**exponent)


@dataclass(frozen=True)
class SinkStats:
    """A snapshot of one output's counters (for the pipeline's stats lines)."""

    frames_written: int = 0
    frames_dropped: int = 0
    reconnects: int = 0
    connected: bool = True


# --------------------------------------------------------------------------- redaction


def redact_url(url: str) -> str:
    """A URL safe to show: stream keys, passwords and query values become ``****``.

    ``rtmp://live.twitch.tv/app/live_123_abc`` -> ``rtmp://live.twitch.tv/app/****``;
    a path that is not a URL is returned unchanged.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparseable URL>"
    if not parts.scheme or not parts.netloc:
        return url
    scheme = parts.scheme.lower()
    netloc = ("****@" if "@" in parts.netloc else "") + host + (f":{port}" if port else "")
    path = parts.path
    if scheme in _RTMP_SCHEMES:
        segments = path.split("/")  # ["", "app", "key", ...]
        if len(segments) > 2 and any(segments[2:]):
            path = "/".join(segments[:2]) + "/****"
    query = ""
    if parts.query:
        if scheme in ("udp", "tcp"):
            query = "?" + parts.query  # socket options, never secrets
        else:
            query = "?" + "&".join(kv.split("=", 1)[0] + "=****" for kv in parts.query.split("&"))
    return f"{scheme}://{netloc}{path}{query}"


def _secrets_of(url: str, extra: Iterable[str | None] = ()) -> tuple[str, ...]:
    """Strings that must never be shown: the URL, its key path, passwords, query values."""
    secrets = [url, *[s for s in extra if s]]
    try:
        parts = urlsplit(url)
        if parts.password:
            secrets.append(parts.password)
        if parts.scheme.lower() in _RTMP_SCHEMES:
            segments = parts.path.split("/")
            tail = "/".join(segments[2:])
            if tail:
                secrets.append(tail)
                secrets.extend(s for s in segments[2:] if s)
        if parts.query:
            secrets.extend(kv.split("=", 1)[1] for kv in parts.query.split("&") if "=" in kv)
    except ValueError:
        pass
    # Longest first so a key inside the URL is replaced as part of the URL.
    return tuple(sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret replaced by ``****`` (a secret URL by its redacted form)."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, redact_url(secret) if "://" in secret else "****")
    return text


def _describe(exc: BaseException, secrets: Iterable[str]) -> str:
    """One redacted line for an exception (type and message)."""
    if isinstance(exc, av.FFmpegError) or (isinstance(exc, OSError) and exc.strerror):
        message = exc.strerror or str(exc)
    else:
        message = str(exc)
    return scrub(f"{type(exc).__name__}: {message}", secrets)


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from records (attach it if FFmpeg logs are routed)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message, self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


# --------------------------------------------------------------------------- sink base


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


def _check_image(image: np.ndarray, settings: EncoderSettings, name: str) -> None:
    shape = (settings.height, settings.width, 3)
    if not isinstance(image, np.ndarray) or image.shape != shape or image.dtype != np.uint8:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise SinkError(f"output {name} takes uint8 RGB frames of shape {shape}, got {got}")


def _check_audio(samples: np.ndarray, name: str) -> None:
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
        _check_image(image, self.settings, self.name)
        self._frames += 1

    def close(self) -> None:
        pass

    @property
    def stats(self) -> SinkStats:
        return SinkStats(frames_written=self._frames)


# --------------------------------------------------------------------------- PyAV sink


def _x264_options(settings: EncoderSettings, *, live: bool) -> dict[str, str]:
    """libx264 options: strict CBR, zero latency, no B-frames for live; ABR for files."""
    gop = str(settings.keyframe_interval_frames)
    kbps = settings.video_bitrate_kbps
    options = {
        "preset": settings.preset,
        "profile": "main",
        "g": gop,
        "keyint_min": gop,
        "sc_threshold": "0",
        "b": f"{kbps}k",
        "threads": str(settings.threads),
    }
    if live:
        options.update(
            {
                "tune": "zerolatency",
                "bf": "0",
                "minrate": f"{kbps}k",
                "maxrate": f"{kbps}k",
                "bufsize": f"{2 * kbps}k",
                "x264-params": "nal-hrd=cbr",
            }
        )
    else:
        options.update({"maxrate": f"{2 * kbps}k", "bufsize": f"{4 * kbps}k"})
    return options


class AvSink(Sink):
    """One PyAV output container (file, RTMP or UDP) with an H.264 and an AAC stream.

    Opening connects (or creates the file) at once and raises :class:`SinkError`
    with a redacted message on failure. Writes raise the underlying ``av``/OS error
    when the receiver goes away (wrap in :class:`ReconnectingSink` for that).
    """

    def __init__(
        self,
        target: str,
        settings: EncoderSettings,
        *,
        format: str,
        name: str,
        live: bool,
        container_options: dict[str, str] | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        self.name = name
        self.settings = settings
        self.live = live
        self._secrets = tuple(secrets)
        self._closed = False
        self._t0: float | None = None
        self._last_index = -1
        self._audio_next = 0  # next audio sample index on the output clock
        self._pending_audio: deque[tuple[np.ndarray, float]] = deque()
        self._frames = 0
        self._video_tb = Fraction(1, settings.fps)
        self._audio_tb = Fraction(1, settings.audio_rate)
        self._container: av.container.OutputContainer | None = None
        failure = None
        try:
            container = av.open(target, "w", format=format, container_options=container_options or {})
            self._container = container
            video = container.add_stream("libx264", rate=settings.fps, options=_x264_options(settings, live=live))
            video.width, video.height, video.pix_fmt = settings.width, settings.height, "yuv420p"
            self._video = video
            self._audio = None
            if settings.audio:
                audio = container.add_stream("aac", rate=settings.audio_rate, layout="stereo")
                audio.bit_rate = settings.audio_bitrate_kbps * 1000
                self._audio = audio
            # Connect / create the file now, not lazily on the first packet (PyAV #1010).
            container.start_encoding()
        except (av.FFmpegError, OSError, ValueError) as exc:
            failure = _describe(exc, self._secrets)
        if failure is not None:  # raised outside the except block: no context holding the raw URL
            self._abort()
            raise SinkError(f"cannot open output {name}: {failure}")
        log.info("output %s open (%dx%d %d fps, %d kbps)", name, settings.width, settings.height,
                 settings.fps, settings.video_bitrate_kbps)

    # -- writing

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        _check_image(image, self.settings, self.name)
        if self._closed:
            raise SinkError(f"output {self.name} is closed")
        if self._t0 is None:
            self._t0 = pts_s
            while self._pending_audio:
                pending = self._pending_audio.popleft()
                self._guard(lambda: self._place_audio(*pending))
        index = round((pts_s - self._t0) * self.settings.fps)
        if index <= self._last_index:
            index = self._last_index + 1
        self._last_index = index
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = index
        frame.time_base = self._video_tb

        def write() -> None:
            if self._audio is not None:
                self._fill_silence_behind(index / self.settings.fps)
            self._mux(self._video.encode(frame))

        self._guard(write)
        self._frames += 1

    def write_audio(self, samples: np.ndarray, pts_s: float) -> None:
        if self._audio is None:
            return
        _check_audio(samples, self.name)
        if self._closed:
            raise SinkError(f"output {self.name} is closed")
        if self._t0 is None:  # wait for the first video frame, which sets time zero
            self._pending_audio.append((samples, pts_s))
            while len(self._pending_audio) > 500:
                self._pending_audio.popleft()
            return
        self._guard(lambda: self._place_audio(samples, pts_s))

    def _place_audio(self, samples: np.ndarray, pts_s: float) -> None:
        assert self._t0 is not None
        rate = self.settings.audio_rate
        start = round((pts_s - self._t0) * rate)
        jitter = round(_AUDIO_JITTER_S * rate)
        if start > self._audio_next + jitter:
            self._encode_silence(start - self._audio_next)
        elif start < self._audio_next - jitter:
            samples = samples[:, self._audio_next - start:]
        if samples.shape[1]:
            self._encode_audio(samples)

    def _fill_silence_behind(self, video_s: float) -> None:
        rate = self.settings.audio_rate
        if self._audio_next / rate < video_s - _AUDIO_FILL_LAG_S:
            self._encode_silence(round((video_s - _AUDIO_FILL_KEEP_S) * rate) - self._audio_next)

    def _encode_silence(self, count: int) -> None:
        count = min(count, round(_AUDIO_MAX_GAP_S * self.settings.audio_rate))
        block = self.settings.audio_rate  # one second at a time
        while count > 0:
            n = min(block, count)
            self._encode_audio(np.zeros((2, n), np.float32))
            count -= n

    def _encode_audio(self, samples: np.ndarray) -> None:
        assert self._audio is not None
        data = np.ascontiguousarray(samples, dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(data, format="fltp", layout="stereo")
        frame.sample_rate = self.settings.audio_rate
        frame.pts = self._audio_next
        frame.time_base = self._audio_tb
        self._audio_next += data.shape[1]
        self._mux(self._audio.encode(frame))

    def _mux(self, packets: list[av.Packet]) -> None:
        if packets and self._container is not None:
            self._container.mux(packets)

    def _guard(self, write: Callable[[], None]) -> None:
        """Run ``write``; an av/OS error (receiver gone, disk full) becomes a redacted SinkError."""
        failure = None
        try:
            write()
        except (av.FFmpegError, OSError) as exc:
            failure = _describe(exc, self._secrets)
        if failure is not None:
            raise SinkError(f"output {self.name} failed: {failure}")

    # -- closing

    def close(self) -> None:
        """Flush the encoders and write the trailer. A file sink raises SinkError if that fails."""
        if self._closed:
            return
        self._closed = True
        error: BaseException | None = None
        try:
            if self._audio is not None and self._t0 is not None:  # audio as long as the video
                end = round((self._last_index + 1) / self.settings.fps * self.settings.audio_rate)
                self._encode_silence(end - self._audio_next)
            self._mux(self._video.encode(None))
            if self._audio is not None:
                self._mux(self._audio.encode(None))
        except (av.FFmpegError, OSError) as exc:
            error = exc
        finally:
            error = self._abort() or error
        if error is not None:
            message = f"output {self.name} did not finish cleanly: {_describe(error, self._secrets)}"
            error = None
            if self.live:
                log.debug(message)
            else:
                raise SinkError(message)
        log.info("output %s closed after %d frames", self.name, self._frames)

    def _abort(self) -> BaseException | None:
        """Close the container ignoring errors (the trailer is written if possible)."""
        self._closed = True
        container, self._container = self._container, None
        if container is None:
            return None
        try:
            container.close()
        except (av.FFmpegError, OSError) as exc:
            return exc
        return None

    @property
    def stats(self) -> SinkStats:
        return SinkStats(frames_written=self._frames)


# --------------------------------------------------------------------------- reconnecting wrapper


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
        self.name = name
        self.settings = settings
        self._opener = opener
        self._backoff = backoff
        self._clock = clock
        self._close_timeout_s = close_timeout_s
        self._poll_s = poll_s
        self._cond = threading.Condition()
        self._items: deque[tuple[str, np.ndarray, float]] = deque()
        self._max_queue = max_queue
        self._stopping = False
        self._closed = False
        self._failures = 0  # in a row; reset once a connection has lasted backoff.max_s
        self._next_attempt = clock()
        self._connected_at = clock()
        self._written = 0
        self._dropped = 0
        self._reconnects = 0
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
            _check_image(image, self.settings, self.name)
        self._put("v", image, pts_s)

    def write_audio(self, samples: np.ndarray, pts_s: float) -> None:
        _check_audio(samples, self.name)
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
            except _NETWORK_ERRORS as exc:
                self._dropped += kind == "v"
                self._fail(inner, exc)
        inner = self._inner
        if inner is not None:
            try:
                inner.close()
            except _NETWORK_ERRORS as exc:
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
            reason = f"output {self.name} failed: {_describe(exc, getattr(inner, '_secrets', ()))}"
        log.warning("%s; reconnecting in %.1f s", reason, delay)
        try:
            inner.close()
        except _NETWORK_ERRORS:
            pass

    def _try_connect(self) -> None:
        try:
            self._inner = self._opener()
        except _NETWORK_ERRORS as exc:
            self._failures += 1
            delay = self._backoff.delay(self._failures)
            self._next_attempt = self._clock() + delay
            reason = str(exc) if isinstance(exc, SinkError) else f"output {self.name} failed: {type(exc).__name__}"
            log.warning("%s; retrying in %.1f s", reason, delay)
            return
        self._connected_at = self._clock()
        self._reconnects += 1
        log.info("output %s reconnected", self.name)

    def close(self) -> None:
        """Send what is queued (while connected), finalise, stop the worker (bounded wait)."""
        with self._cond:
            if self._closed:
                return
            self._closed = self._stopping = True
            self._cond.notify()
        self._thread.join(self._close_timeout_s)
        if self._thread.is_alive():
            log.warning("output %s did not finish within %.1f s; abandoning it", self.name,
                        self._close_timeout_s)


# --------------------------------------------------------------------------- preview window


_PREVIEW_CHILD = r"""
import sys
import numpy as np
import cv2
width, height, title = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
size = width * height * 3
stdin = sys.stdin.buffer
cv2.namedWindow(title, cv2.WINDOW_NORMAL)
while True:
    data = stdin.read(size)
    if len(data) < size:
        break
    image = np.frombuffer(data, np.uint8).reshape(height, width, 3)
    cv2.imshow(title, image[:, :, ::-1])
    key = cv2.waitKey(1) & 0xFF
    if key in (27, ord("q")) or cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1:
        break
cv2.destroyAllWindows()
"""


class PreviewSink(Sink):
    """A window showing the output, drawn by a child process that imports only OpenCV.

    (``cv2.imshow`` hangs once ``av`` is imported in the same process.) Frames go
    through a pipe via a one-slot mailbox: ``write_video`` never blocks, a slow
    window skips frames. Closing the window (or q/Esc) stops the preview only.
    """

    def __init__(self, settings: EncoderSettings, *, title: str = "DreamStream") -> None:
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            raise SinkError("output preview needs a display: no display ($DISPLAY and $WAYLAND_DISPLAY are unset)")
        self.name = "preview"
        self.settings = settings
        self._frames = 0
        self._dropped = 0
        self._cond = threading.Condition()
        self._latest: np.ndarray | None = None
        self._closed = False
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _PREVIEW_CHILD, str(settings.width), str(settings.height), title],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            raise SinkError(f"output preview cannot start its window process: {exc}") from None
        self._thread = threading.Thread(target=self._run, name="sink preview", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """False once the window process has gone (window closed or no GUI)."""
        return self._proc.poll() is None

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        _check_image(image, self.settings, self.name)
        with self._cond:
            if self._latest is not None:
                self._dropped += 1
            self._latest = image
            self._cond.notify()

    def _run(self) -> None:
        assert self._proc.stdin is not None
        while True:
            with self._cond:
                while self._latest is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                image, self._latest = self._latest, None
            try:
                self._proc.stdin.write(np.ascontiguousarray(image).tobytes())
                self._proc.stdin.flush()
                self._frames += 1
            except (BrokenPipeError, ValueError, OSError):
                log.info("preview window closed")
                return

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify()
        self._thread.join(2.0)
        if self._thread.is_alive():  # stuck writing to a hung window: end it to unblock the pipe
            self._proc.kill()
            self._thread.join(2.0)
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(2.0)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    @property
    def stats(self) -> SinkStats:
        return SinkStats(self._frames, self._dropped, 0, self.alive)


# --------------------------------------------------------------------------- open_sink


def twitch_url(ingest: str, stream_key: str) -> str:
    """``rtmp://<ingest>/app/<key>`` from an ingest URL (``.../app`` or containing ``{stream_key}``)."""
    if "{stream_key}" in ingest:
        return ingest.replace("{stream_key}", stream_key)
    return ingest.rstrip("/") + "/" + stream_key


def open_sink(
    spec: str,
    settings: EncoderSettings,
    *,
    twitch_ingest: str | None = None,
    stream_key: str | None = None,
    reconnect: bool = True,
    backoff: BackoffPolicy = BackoffPolicy(),
    clock: Callable[[], float] = time.monotonic,
) -> Sink:
    """Open an output from its spec (see :data:`SINK_FORMS`).

    Network outputs connect now (SinkError if refused) and, with ``reconnect``,
    come wrapped in a :class:`ReconnectingSink`. ``twitch`` needs ``twitch_ingest``
    (e.g. ``rtmp://live.twitch.tv/app``) and ``stream_key``.
    """
    allowed = "allowed outputs: " + ", ".join(SINK_FORMS)
    if spec == "twitch":
        if not twitch_ingest:
            raise SinkError("output twitch needs an ingest URL (config/twitch.yaml ingest)")
        if not stream_key:
            raise SinkError("output twitch needs a stream key (TWITCH_STREAM_KEY or a key file)")
        if urlsplit(twitch_ingest).scheme.lower() not in ("rtmp", "rtmps"):
            raise SinkError(f"twitch ingest {redact_url(twitch_ingest)!r} must be an rtmp:// or rtmps:// URL")
        url = twitch_url(twitch_ingest, stream_key)
        return _network_sink(url, settings, "flv", f"twitch ({redact_url(url)})", (stream_key,),
                             reconnect, backoff, clock)
    if spec == "preview":
        return PreviewSink(settings)
    if spec == "null":
        return NullSink(settings)
    if spec == "vcam" or spec.startswith("vcam:"):
        from stream.io.vcam import open_vcam

        return open_vcam(spec, settings)
    try:
        scheme = urlsplit(spec).scheme.lower() if "://" in spec else ""
        if scheme == "udp":
            urlsplit(spec).port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as e:
        shown = spec if spec.lower().startswith("udp://") else redact_url(spec)
        raise SinkError(f"output {shown!r} is not a valid URL ({e}); {allowed}") from None
    if scheme in ("rtmp", "rtmps"):
        if not urlsplit(spec).hostname:
            raise SinkError(f"output {redact_url(spec)!r} has no host; {allowed}")
        return _network_sink(spec, settings, "flv", redact_url(spec), (), reconnect, backoff, clock)
    if scheme == "udp":
        parts = urlsplit(spec)
        if not parts.hostname or not parts.port:
            raise SinkError(f"output {spec!r} needs a host and a port (udp://host:port)")
        url = spec if "pkt_size" in parts.query else spec + ("&" if parts.query else "?") + "pkt_size=1316"
        return _network_sink(url, settings, "mpegts", redact_url(spec), (), reconnect, backoff, clock)
    if scheme:
        extra = " (srt is not available in this FFmpeg build)" if scheme == "srt" else ""
        raise SinkError(f"output {redact_url(spec)!r} has an unsupported scheme {scheme!r}{extra}; {allowed}")
    path = Path(spec)
    format = FILE_FORMATS.get(path.suffix.lower())
    if format is None:
        raise SinkError(f"output {spec!r} is not a known output; {allowed}"
                        + did_you_mean(spec, ("twitch", "preview", "vcam", "null")))
    options = {}
    if format == "mp4":
        # Fragmented MP4: playable even if the process dies before the trailer.
        options["movflags"] = "+frag_keyframe+empty_moov+default_base_moof"
    return AvSink(str(path), settings, format=format, name=str(path), live=False, container_options=options)


def _network_sink(
    url: str,
    settings: EncoderSettings,
    format: str,
    name: str,
    extra_secrets: tuple[str, ...],
    reconnect: bool,
    backoff: BackoffPolicy,
    clock: Callable[[], float],
) -> Sink:
    options = {"flush_packets": "1", "max_interleave_delta": "1000000"}
    if format == "flv":
        options["flvflags"] = "no_duration_filesize"
    secrets = _secrets_of(url, extra_secrets)
    parts = urlsplit(url)

    def opener() -> Sink:
        # Resolve here, where the GIL is released: FFmpeg resolves and connects holding it.
        try:
            socket.getaddrinfo(parts.hostname, parts.port or 1935, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise SinkError(f"cannot open output {name}: cannot resolve host {parts.hostname!r} ({exc})") from None
        from stream.sink_process import ChildSink  # it imports this module

        return ChildSink(url, settings, format=format, name=name, container_options=options, secrets=secrets)

    if not reconnect:
        return opener()
    return ReconnectingSink(opener, name, backoff=backoff, clock=clock, settings=settings)


__all__ = [
    "AvSink", "BackoffPolicy", "EncoderSettings", "NullSink", "PreviewSink", "ReconnectingSink",
    "RedactingFilter", "SINK_FORMS", "Sink", "SinkStats", "open_sink", "redact_url", "scrub", "twitch_url",
]
