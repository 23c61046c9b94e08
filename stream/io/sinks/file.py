"""A live recording: the one file writer (:class:`~stream.io.video.writer.VideoWriter`) behind the sink interface."""
from __future__ import annotations

import logging
from fractions import Fraction

import numpy as np

from engine.errors import SinkError
from stream.io.encoding import x264_options
from stream.io.sinks.base import Sink
from stream.io.video.info import VideoSpec
from stream.io.video.writer import VideoWriter
from stream.settings.encoder import EncoderSettings

log = logging.getLogger(__name__)


class FileSink(Sink):
    """Record the live output to a file, written as ``video`` writes its outputs (same encoder, tags, audio).

    Constant frame rate: a frame's pts is ``round((pts_s - first_pts_s) * fps)``, bumped to the next tick when it
    does not advance. libx264 at the settings' bitrate (ABR); an MP4/MOV is fragmented, so it stays playable if
    the process dies. Audio (settings.audio) is AAC at ``settings.audio_rate``, placed on the sample clock from
    the first frame's time and as long as the video. ``close`` finalises (SinkError if that fails).
    """

    live = False

    def __init__(self, path: str, settings: EncoderSettings) -> None:
        super().__init__(path, settings)
        spec = VideoSpec(settings.width, settings.height, Fraction(settings.fps))
        try:
            self._writer = VideoWriter(
                path, spec, preset=settings.preset, video_options=x264_options(settings, live=False),
                audio_rate=settings.audio_rate if settings.audio else None,
                audio_bitrate_kbps=settings.audio_bitrate_kbps,
            )
        except SinkError as e:
            raise SinkError(f"cannot open output {path}: {str(e).removeprefix(path + ': ')}") from None
        log.info("output %s open (%dx%d %d fps, %d kbps)", path, settings.width, settings.height, settings.fps,
                 settings.video_bitrate_kbps)

    def write_video(self, image: np.ndarray, pts_s: float) -> None:
        self._accept_video(image)
        index = self._tick(pts_s)
        self._writer.write(image, index)
        self._frames += 1
        for samples, start_s in self._held_audio():
            self._writer.write_audio(samples, start_s - self._t0)

    def write_audio(self, samples: np.ndarray, pts_s: float) -> None:
        if self._accept_audio(samples) and not self._hold_audio(samples, pts_s):
            self._writer.write_audio(samples, pts_s - self._t0)

    def _finish(self) -> None:
        try:
            self._writer.close()
        except SinkError:
            if self._frames:
                raise
            log.info("output %s closed with no frame; nothing written", self.name)  # and no empty file left
            return
        log.info("output %s closed after %d frames", self.name, self._frames)
