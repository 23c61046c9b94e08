"""Reading: :class:`VideoReader` decodes a file (or an opened URL or camera) into RGB frames and its sound."""
from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from engine.errors import ConfigError
from stream.io.encoding import AUDIO_LAYOUT
from stream.io.video.errors import reason
from stream.io.video.probing import describe, display_rotation, open_input, tag_duration, video_stream
from stream.io.video.rotation import upright
from stream.io.video.sizes import fit_size
from stream.settings.encoder import AUDIO_RATE

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Frame:
    """A frame: ``image`` RGB uint8 (H, W, 3); ``pts`` in the stream's time base; ``time_s`` in s."""

    image: np.ndarray
    pts: int
    time_s: float
    index: int  # 0 for the first frame yielded


class VideoReader:
    """Decode the frames of a video file as RGB, optionally from ``start_s`` for ``duration_s`` seconds.

    ``start_s`` and ``duration_s`` count from the video stream's start. Seeking is accurate: the reader
    seeks to the keyframe before ``start_s`` and decodes and drops the frames before it, so the first
    frame yielded is the first one at or after ``start_s``. A truncated or damaged file yields what
    decodes, logs a warning and sets ``truncated``; it never raises mid-way. Opening raises SourceError.

    The one reader: the live file, URL and camera sources read through it too. ``width``/``height``
    resize (one of them keeps the aspect ratio, see :func:`fit_size`); ``audio`` also decodes the first
    audio stream, resampled to 48 kHz stereo float32, into ``audio_chunks`` as ``(samples (2, N),
    time_s or None)`` while the frames are read. :meth:`of_container` reads an already opened container
    (a URL, a camera).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        start_s: float = 0.0,
        duration_s: float | None = None,
        max_frames: int | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
        audio: bool = False,
    ) -> None:
        if not start_s >= 0:
            raise ConfigError(f"start {start_s!r} s: must be >= 0")
        if duration_s is not None and not duration_s > 0:
            raise ConfigError(f"duration {duration_s!r} s: must be > 0")
        if max_frames is not None and max_frames < 1:
            raise ConfigError(f"max frames {max_frames!r}: must be >= 1")
        self.path = os.fspath(path)
        self.start_s = float(start_s)
        self.duration_s = duration_s
        self.max_frames = max_frames
        container, stream = open_input(self.path)
        self._setup(container, stream, width, height, audio, frame_threads=True, rotation=display_rotation(self.path))

    @classmethod
    def of_container(
        cls,
        container: av.container.InputContainer,
        name: str,
        *,
        width: int | None = None,
        height: int | None = None,
        audio: bool = False,
        frame_threads: bool = False,
        fallback_fps: float | None = None,
        quiet: bool = False,
    ) -> VideoReader:
        """Read an opened container (a URL or a camera) from its start; ``name`` (redacted) is what logs show.

        SourceError if it has no video stream; the container is closed by :meth:`close` (not on that error).
        ``quiet``: where the stream broke is logged at debug level (the caller says it in its own words).
        """
        self = cls.__new__(cls)
        self.path, self.start_s, self.duration_s, self.max_frames = name, 0.0, None, None
        self._setup(container, video_stream(container, name), width, height, audio, frame_threads, fallback_fps)
        self._break_level = logging.DEBUG if quiet else logging.WARNING
        return self

    def _setup(self, container: av.container.InputContainer, stream: av.video.stream.VideoStream,
               width: int | None, height: int | None, audio: bool, frame_threads: bool,
               fallback_fps: float | None = None, rotation: int = 0) -> None:
        self._container, self._stream = container, stream
        try:
            self.info = describe(container, stream, self.path, fallback_fps, rotation)
        except BaseException:
            container.close()
            raise
        if frame_threads:
            stream.thread_type = "AUTO"
        info = self.info
        #: The delivered size, upright (a file's display rotation is undone).
        self.width, self.height = fit_size(width, height, info.display_width, info.display_height)
        self._resize = (self.width, self.height) != (info.display_width, info.display_height)
        self._audio = container.streams.audio[0] if audio and container.streams.audio else None
        self._resampler = (av.AudioResampler(format="fltp", layout=AUDIO_LAYOUT, rate=AUDIO_RATE)
                           if self._audio is not None else None)
        #: Decoded sound not yet taken: ``(samples (2, N) float32 at 48 kHz, time_s or None)``.
        self.audio_chunks: deque[tuple[np.ndarray, float | None]] = deque()
        start = container.start_time
        #: The container's start in seconds (the origin live sources count from).
        self.origin_s: float | None = start / av.time_base if start is not None else None
        #: True when the file ended (or broke) before its header said it would.
        self.truncated = False
        self.frames_read = 0
        self._started = False
        self._break_level = logging.WARNING

    @property
    def has_audio(self) -> bool:
        """Whether sound is decoded alongside (``audio`` asked and the input has an audio stream)."""
        return self._audio is not None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def __iter__(self) -> Iterator[Frame]:
        if self._started:
            raise RuntimeError("a VideoReader can be iterated once")
        self._started = True
        return self._frames()

    def _frames(self) -> Iterator[Frame]:
        stream, tb = self._stream, self.info.time_base
        origin = stream.start_time if stream.start_time is not None else 0
        first = origin + round(Fraction(self.start_s) / tb)
        end = None if self.duration_s is None else origin + round(Fraction(self.start_s + self.duration_s) / tb)
        step = max(1, round(1 / (self.info.fps * tb)))  # one frame in time-base ticks
        if self.start_s > 0:
            try:
                self._container.seek(first, stream=stream, backward=True)
            except av.FFmpegError as exc:  # not seekable: decode from the start and drop
                log.warning("%s: cannot seek (%s); decoding from the start", self.path, reason(exc))
        last_pts: int | None = None
        packets = self._container.demux(stream) if self._audio is None else self._container.demux(stream, self._audio)
        while True:
            try:
                packet = next(packets)  # at the end, demux gives empty packets that flush the decoder
            except StopIteration:
                break
            except (av.FFmpegError, OSError, EOFError) as exc:
                self._mark_truncated(f"read failed ({reason(exc)})")
                packet = None  # flush what the decoder holds
            if packet is not None and packet.stream is self._audio:
                self._decode_audio(packet)
                continue
            try:
                decoded_frames = stream.codec_context.decode(packet)
            except av.FFmpegError as exc:
                self._mark_truncated(f"damaged data ({reason(exc)})")
                if packet is None:
                    break
                continue
            for decoded in decoded_frames:
                pts = decoded.pts if decoded.pts is not None else (origin if last_pts is None else last_pts + step)
                if last_pts is not None and pts <= last_pts:
                    pts = last_pts + 1  # damaged streams can repeat timestamps
                last_pts = pts
                if pts < first:
                    continue
                if end is not None and pts >= end:
                    return
                self.frames_read += 1
                if self._resize:  # at the stored orientation's size, then turned
                    w, h = (self.height, self.width) if self.info.rotation % 180 else (self.width, self.height)
                    image = decoded.to_ndarray(format="rgb24", width=w, height=h)
                else:
                    image = decoded.to_ndarray(format="rgb24")
                image = upright(image, self.info.rotation)
                yield Frame(image, pts, float(pts * tb), self.frames_read - 1)
                if self.max_frames is not None and self.frames_read >= self.max_frames:
                    return
            if packet is None:
                break
        self._flush_audio()
        if not self.truncated:
            self._check_complete(last_pts, step)
        if self.frames_read == 0:
            log.warning("%s: no frame decoded from %.3f s on", self.path, self.start_s)

    def _decode_audio(self, packet: av.Packet) -> None:
        assert self._resampler is not None
        try:
            for frame in packet.decode():
                for out in self._resampler.resample(frame):
                    self._add_audio(out)
        except av.FFmpegError as exc:
            log.debug("%s: skipping damaged audio (%s)", self.path, reason(exc))

    def _flush_audio(self) -> None:
        if self._resampler is not None:
            for out in self._resampler.resample(None):
                self._add_audio(out)

    def _add_audio(self, frame: av.AudioFrame) -> None:
        samples = frame.to_ndarray().astype(np.float32, copy=False).reshape(2, -1)
        if samples.shape[1]:
            self.audio_chunks.append((samples, frame.time if frame.pts is not None else None))

    def _mark_truncated(self, why: str) -> None:
        self.truncated = True
        log.log(self._break_level, "%s: %s after %d frames; keeping what decoded", self.path, why, self.frames_read)

    def _check_complete(self, last_pts: int | None, step: int) -> None:
        """Flag a file that ended quietly well before the duration its header states (mp4, mov, mkv, webm)."""
        fmt = self._container.format.name
        stream, tb = self._stream, self.info.time_base
        if stream.duration and ("mp4" in fmt or "mov" in fmt):
            expected = (stream.start_time or 0) + stream.duration
        elif "matroska" in fmt and (tagged := tag_duration(stream)):
            expected = (stream.start_time or 0) + round(Fraction(tagged) / tb)
        else:
            return
        reached = (last_pts + step) if last_pts is not None else (stream.start_time or 0)
        if reached < expected - 2 * step:
            self._mark_truncated(f"file ends at {float(reached * tb):.3f} s of {float(expected * tb):.3f} s")
