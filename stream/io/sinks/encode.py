"""The PyAV encoder behind every file and network output: H.264 + AAC with a constant frame rate."""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from fractions import Fraction

import av
import numpy as np

from engine.errors import SinkError
from stream.io.redact import scrubbed_reason
from stream.io.sinks.base import Sink, SinkStats, check_audio, check_image
from stream.settings.encoder import EncoderSettings

log = logging.getLogger(__name__)


FILE_FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".flv": "flv", ".ts": "mpegts"}


_NETWORK_ERRORS = (av.FFmpegError, OSError, SinkError)


_AUDIO_JITTER_S = 0.05  # audio closer than this to the sample clock is treated as contiguous


_AUDIO_FILL_LAG_S = 1.0  # no audio for this long behind the video: insert silence


_AUDIO_FILL_KEEP_S = 0.5  # ... up to this much before the video time


_AUDIO_MAX_GAP_S = 60.0  # longest gap filled with silence in one go


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
            failure = scrubbed_reason(exc, self._secrets)
        if failure is not None:  # raised outside the except block: no context holding the raw URL
            self._abort()
            raise SinkError(f"cannot open output {name}: {failure}")
        log.info("output %s open (%dx%d %d fps, %d kbps)", name, settings.width, settings.height,
                 settings.fps, settings.video_bitrate_kbps)

    # -- writing

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        check_image(image, self.settings, self.name)
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
        check_audio(samples, self.name)
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
            failure = scrubbed_reason(exc, self._secrets)
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
            message = f"output {self.name} did not finish cleanly: {scrubbed_reason(error, self._secrets)}"
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
