"""The PyAV encoder behind network outputs (FLV over RTMP, MPEG-TS over UDP): H.264 + AAC at a constant frame rate.

Files are written by the one file writer (:class:`stream.io.video.writer.VideoWriter`, through
:class:`stream.io.sinks.file.FileSink`); both build their streams, colour tags and audio placement
from :mod:`stream.io.encoding`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from fractions import Fraction

import av
import numpy as np

from engine.errors import SinkError
from stream.io.encoding import AudioOut, add_audio_stream, add_video_stream, x264_options, yuv_frame
from stream.io.redact import scrubbed_reason
from stream.io.sinks.base import Sink
from stream.settings.encoder import EncoderSettings

log = logging.getLogger(__name__)


NETWORK_ERRORS = (av.FFmpegError, OSError, SinkError)


class AvSink(Sink):
    """One PyAV output container (RTMP or UDP) with an H.264 and an AAC stream.

    Opening connects at once and raises :class:`SinkError` with a redacted message on
    failure. Writes raise a redacted SinkError when the receiver goes away (wrap in
    :class:`ReconnectingSink` for that). ``live`` selects strict CBR x264 options.
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
        super().__init__(name, settings)
        self.live = live
        self._secrets = tuple(secrets)
        self._video_tb = Fraction(1, settings.fps)
        self._container: av.container.OutputContainer | None = None
        self._audio: AudioOut | None = None
        failure = None
        try:
            container = av.open(target, "w", format=format, container_options=container_options or {})
            self._container = container
            self._video = add_video_stream(container, "libx264", width=settings.width, height=settings.height,
                                           fps=settings.fps, time_base=self._video_tb,
                                           options=x264_options(settings, live=live))
            if settings.audio:
                stream = add_audio_stream(container, "aac", settings.audio_rate, settings.audio_bitrate_kbps * 1000)
                self._audio = AudioOut(stream, settings.audio_rate, self._mux)
            # Connect now, not lazily on the first packet (PyAV #1010).
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
        self._accept_video(image)
        index = self._tick(pts_s)
        for pending in self._held_audio():
            self._guard(lambda pending=pending: self._place_audio(*pending))
        frame = yuv_frame(image)
        frame.pts = index
        frame.time_base = self._video_tb

        def write() -> None:
            if self._audio is not None:
                self._audio.keep_up(index / self.settings.fps)
                self._audio.encode()
            self._mux(self._video.encode(frame))

        self._guard(write)
        self._frames += 1

    def write_audio(self, samples: np.ndarray, pts_s: float) -> None:
        if not self._accept_audio(samples) or self._hold_audio(samples, pts_s):
            return
        self._guard(lambda: self._place_audio(samples, pts_s))

    def _place_audio(self, samples: np.ndarray, pts_s: float) -> None:
        assert self._t0 is not None and self._audio is not None
        self._audio.place(samples, pts_s - self._t0)
        self._audio.encode()

    def _mux(self, packets: list[av.Packet]) -> None:
        if packets and self._container is not None:
            self._container.mux(packets)

    def _guard(self, write: Callable[[], None]) -> None:
        """Run ``write``; an av/OS error (receiver gone) becomes a redacted SinkError."""
        failure = None
        try:
            write()
        except (av.FFmpegError, OSError) as exc:
            failure = scrubbed_reason(exc, self._secrets)
        if failure is not None:
            raise SinkError(f"output {self.name} failed: {failure}")

    # -- closing

    def _finish(self) -> None:
        """Flush the encoders and write the trailer. A non-live sink raises SinkError if that fails."""
        error: BaseException | None = None
        try:
            if self._audio is not None and self._t0 is not None:  # audio as long as the video
                self._audio.finish((self._last_index + 1) / self.settings.fps)
            self._mux(self._video.encode(None))
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
