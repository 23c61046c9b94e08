"""Receiving an NDI source (``--input ndi:NAME``): find it by name, connect, read its frames and sound.

::

    connection = connect_ndi("Dream", timeout_s=10)     # NdiNotFound: not there (yet)
    receiver = NdiReceiver(connection, width=640, height=360, fps=30)
    video = receiver.read(on_audio)                      # NdiVideo, or None once closed

:func:`connect_ndi` is one connect attempt: it waits up to ``timeout_s`` for a source of that name
to be announced and then for its first video frame, and raises :class:`NdiNotFound` (a
:class:`~engine.errors.SourceError`) with one plain line when either does not come: the case a
wait-and-retry treats as "not there yet". Once connected, NDI itself reconnects to a sender that
goes away and comes back under the same name; :meth:`NdiReceiver.read` waits meanwhile (one log
line after ``stall_s`` of silence).

Like a camera, a late reader gets the newest frame (older queued frames are skipped and counted);
every sound frame is kept. Frames come as RGBX from NDI and are delivered as (H, W, 3) uint8 RGB at
the requested size; sound as (2, N) float32 at 48 kHz (mono doubled, channels past two dropped,
other rates resampled). Times are the sender's timecodes in seconds from the first frame.

The binding's capture releases the GIL while it waits (checked: other threads run on), so
``read`` may block in a pipeline thread.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import av
import cv2
import numpy as np

from engine.errors import SourceError
from stream.io.ndi_lib import load_ndi, matches
from stream.io.video.sizes import fit_size
from stream.settings.encoder import AUDIO_RATE

log = logging.getLogger(__name__)

_PER_S = 10_000_000  # NDI times are in 100 ns units
#: Called with each stretch of sound: (2, N) float32 samples at 48 kHz and their start in seconds.
OnAudio = Callable[[np.ndarray, float], None]
_UNDEFINED = 2**63 - 1  # NDI's "no timecode / timestamp" (INT64_MAX)
_POLL_MS = 100  # one capture waits at most this long, so close() is quick


class NdiNotFound(SourceError):
    """The NDI source is not there (yet): nobody announces that name, or its sender sends no video."""


@dataclass(frozen=True, eq=False)
class NdiVideo:
    """One frame: ``image`` (H, W, 3) uint8 RGB at the receiver's size; ``pts_s`` seconds from the first frame."""

    image: np.ndarray
    pts_s: float


@dataclass
class NdiConnection:
    """What one successful connect holds: the finder, the receiver and the source's first video frame."""

    ndi: ModuleType
    name: str  # as asked (``Dream`` or ``STUDIO (Dream)``)
    source_name: str  # as announced (``STUDIO (Dream)``)
    finder: Any
    receiver: Any
    first: Any  # the first video frame, not yet freed

    def close(self) -> None:
        """Free the first frame (if still held), the receiver and the finder."""
        if self.first is not None:
            self.ndi.recv_free_video_v2(self.receiver, self.first)
            self.first = None
        self.ndi.recv_destroy(self.receiver)
        self.ndi.find_destroy(self.finder)


def connect_ndi(name: str, timeout_s: float = 10.0, *, stop: threading.Event | None = None) -> NdiConnection:
    """Find the source ``name`` (NAME or ``MACHINE (NAME)``) and connect; NdiNotFound if it is not there.

    Waits up to ``timeout_s`` in all: for the name to be announced, then for the first video frame.
    """
    ndi = load_ndi(SourceError, f"input ndi:{name}")
    deadline = time.monotonic() + timeout_s
    create = ndi.FindCreate()
    create.show_local_sources = True
    finder = ndi.find_create_v2(create)
    if finder is None:
        raise SourceError(f"input ndi:{name}: the NDI runtime could not start a finder")
    try:
        source = _find(ndi, finder, name, deadline, timeout_s, stop)
        receiver = _receiver(ndi, name)
    except BaseException:
        ndi.find_destroy(finder)
        raise
    ndi.recv_connect(receiver, source)
    connection = NdiConnection(ndi, name, str(source.ndi_name), finder, receiver, None)
    try:
        while connection.first is None:
            left_ms = round(1000 * (deadline - time.monotonic()))
            if left_ms <= 0 or (stop is not None and stop.is_set()):
                raise NdiNotFound(f"NDI source {connection.source_name!r} was found but sent no video "
                                  f"within {timeout_s:g} s")
            kind, video, audio, _ = ndi.recv_capture_v2(receiver, min(left_ms, _POLL_MS), want_metadata=False)
            if kind == ndi.FRAME_TYPE_VIDEO:
                connection.first = video
            elif kind == ndi.FRAME_TYPE_AUDIO:
                ndi.recv_free_audio_v2(receiver, audio)  # sound before the first frame has no time zero yet
    except BaseException:
        connection.close()
        raise
    return connection


def _find(ndi: ModuleType, finder: Any, name: str, deadline: float, timeout_s: float,
          stop: threading.Event | None) -> Any:
    while True:
        sources = list(ndi.find_get_current_sources(finder))
        seen = [str(s.ndi_name) for s in sources]
        found = [s for s in sources if matches(str(s.ndi_name), name)]
        if found:
            if len(found) > 1:
                log.warning("input ndi:%s: %d NDI sources have that name (%s); taking %s; name one as "
                            "ndi:MACHINE (NAME)", name, len(found), ", ".join(str(s.ndi_name) for s in found),
                            found[0].ndi_name)
            return found[0]
        left_ms = round(1000 * (deadline - time.monotonic()))
        if left_ms <= 0 or (stop is not None and stop.is_set()):
            break
        ndi.find_wait_for_sources(finder, min(left_ms, 250))
    listed = ", ".join(repr(s) for s in seen) if seen else "none"
    raise NdiNotFound(f"no NDI source named {name!r} found within {timeout_s:g} s; sources seen: {listed}")


def _receiver(ndi: ModuleType, name: str) -> Any:
    create = ndi.RecvCreateV3()
    create.color_format = ndi.RECV_COLOR_FORMAT_RGBX_RGBA
    create.bandwidth = ndi.RECV_BANDWIDTH_HIGHEST
    create.allow_video_fields = False
    create.ndi_recv_name = "DreamStream"
    receiver = ndi.recv_create_v3(create)
    if receiver is None:
        raise SourceError(f"input ndi:{name}: the NDI runtime could not create a receiver")
    return receiver


class NdiReceiver:
    """Frames and sound of one connected NDI source; ``width``/``height`` resize (one keeps the aspect ratio).

    ``fps`` is the source's frame rate (``fps`` when it announces none).
    """

    def __init__(self, connection: NdiConnection, *, width: int | None, height: int | None, fps: float,
                 stall_s: float = 5.0) -> None:
        self._c = connection
        self._ndi = connection.ndi
        self.name = f"ndi:{connection.name}"
        self.source_name = connection.source_name
        first = connection.first
        self.width, self.height = fit_size(width, height, first.xres, first.yres)
        rate = first.frame_rate_N / first.frame_rate_D if first.frame_rate_N > 0 and first.frame_rate_D > 0 else 0
        self.fps = float(rate) or float(fps)
        self.stall_s = stall_s
        self.skipped = 0  # frames queued behind a newer one and never delivered
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._closed = False
        self._origin = _time_of(first)
        self._last_pts: float | None = None
        self._audio_end: float | None = None
        self._resampler: av.AudioResampler | None = None
        self._resampler_rate = 0
        self._stalled = False
        log.info("NDI input %s at %dx%d %.3g fps, delivered at %dx%d", self.source_name, first.xres, first.yres,
                 self.fps, self.width, self.height)

    @property
    def closed(self) -> bool:
        return self._closed or self._stop.is_set()

    def read(self, on_audio: OnAudio, timeout_s: float | None = None) -> NdiVideo | None:
        """The newest frame (blocking until one comes), or None once closed or after ``timeout_s``
        seconds without one (:attr:`closed` tells which).

        Sound that arrives meanwhile goes to ``on_audio(samples, pts_s)`` ((2, N) float32 at 48 kHz).
        """
        with self._lock:
            if self._closed:
                return None
            video = self._c.first
            self._c.first = None
            since = time.monotonic()
            while video is None:
                if self._stop.is_set() or (timeout_s is not None and time.monotonic() - since >= timeout_s):
                    return None
                wait_ms = _POLL_MS if timeout_s is None else max(1, min(_POLL_MS, round(
                    1000 * (timeout_s - (time.monotonic() - since)))))
                video = self._capture(wait_ms, on_audio)
                if video is None and not self._stalled and time.monotonic() - since >= self.stall_s:
                    self._stalled = True
                    log.warning("input %s: no video for %g s; waiting (NDI reconnects when the sender is back)",
                                self.name, self.stall_s)
            if self._stalled:
                self._stalled = False
                log.info("input %s: video again", self.name)
            while (newer := self._capture(0, on_audio)) is not None:  # a late reader gets the newest
                self._ndi.recv_free_video_v2(self._c.receiver, video)
                self.skipped += 1
                video = newer
            try:
                return NdiVideo(self._image(video), self._video_pts(video))
            finally:
                self._ndi.recv_free_video_v2(self._c.receiver, video)

    def _capture(self, timeout_ms: int, on_audio: OnAudio) -> Any:
        """One NDI capture: a video frame (to be freed by the caller), or None (sound handled, others dropped)."""
        ndi = self._ndi
        kind, video, audio, _ = ndi.recv_capture_v2(self._c.receiver, timeout_ms, want_metadata=False)
        if kind == ndi.FRAME_TYPE_VIDEO:
            return video
        if kind == ndi.FRAME_TYPE_AUDIO:
            try:
                samples = self._stereo_48k(audio)
                pts = self._audio_pts(audio, samples.shape[1])
            finally:
                ndi.recv_free_audio_v2(self._c.receiver, audio)
            if samples.shape[1]:
                on_audio(samples, pts)
        elif kind == ndi.FRAME_TYPE_ERROR:
            self._stop.wait(timeout_ms / 1000)  # the connection is down; do not spin
        return None

    def _image(self, video: Any) -> np.ndarray:
        data = video.data  # (H, W, 4) RGBX/RGBA, a view of NDI's buffer until it is freed
        rgb = cv2.cvtColor(data, cv2.COLOR_RGBA2RGB)
        if rgb.shape[:2] == (self.height, self.width):
            return rgb
        shrink = self.width * self.height < rgb.shape[0] * rgb.shape[1]
        return cv2.resize(rgb, (self.width, self.height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    def _video_pts(self, video: Any) -> float:
        pts = (_time_of(video) - self._origin) / _PER_S
        last = self._last_pts
        if last is not None and not last - 0.5 < pts < last + 5.0:  # the sender restarted its clock
            self._origin += round((pts - last - 1.0 / self.fps) * _PER_S)
            pts = last + 1.0 / self.fps
        elif last is not None and pts <= last:
            pts = last + 1.0 / self.fps
        self._last_pts = pts
        return pts

    def _audio_pts(self, audio: Any, delivered: int) -> float:
        start = (_time_of(audio) - self._origin) / _PER_S
        if self._audio_end is not None and abs(start - self._audio_end) < 0.05:
            start = self._audio_end  # jitter: follow on (a real gap or jump is kept)
        self._audio_end = start + delivered / AUDIO_RATE
        return start

    def _stereo_48k(self, audio: Any) -> np.ndarray:
        """(2, N) float32 at 48 kHz from NDI's planar float frame (any rate, any channel count)."""
        data = np.asarray(audio.data, dtype=np.float32)  # (channels, samples), a view until freed
        if data.ndim != 2 or data.shape[0] == 0:
            return np.zeros((2, 0), np.float32)
        stereo = np.array(data[:2] if data.shape[0] >= 2 else np.repeat(data[:1], 2, axis=0), dtype=np.float32)
        rate = int(audio.sample_rate)
        if rate == AUDIO_RATE or rate <= 0:
            return stereo
        if self._resampler is None or self._resampler_rate != rate:
            self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
            self._resampler_rate = rate
        frame = av.AudioFrame.from_ndarray(stereo, format="fltp", layout="stereo")
        frame.sample_rate = rate
        out = [f.to_ndarray() for f in self._resampler.resample(frame)]
        return np.concatenate(out, axis=1).astype(np.float32) if out else np.zeros((2, 0), np.float32)

    def close(self) -> None:
        """Stop (a blocked ``read`` returns None within 0.1 s) and disconnect; safe to call twice."""
        self._stop.set()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._c.close()


def _time_of(frame: Any) -> int:
    """A frame's media time in 100 ns units: its timecode, else its timestamp, else now."""
    for value in (frame.timecode, frame.timestamp):
        if value is not None and 0 <= value < _UNDEFINED:
            return int(value)
    return round(time.time() * _PER_S)


__all__ = ["NdiConnection", "NdiNotFound", "NdiReceiver", "NdiVideo", "connect_ndi"]
